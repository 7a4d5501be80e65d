import { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';
import { type DaemonClient, engineMessage, readBody } from './client.js';

/**
 * The Engine API's container calls `distill debug` needs (docs.docker.com/engine/api/v1.41):
 * inspect, list by label, create, start, attach (a hijacked connection), resize, wait, kill,
 * remove, and exec for commands run inside a toolbox that is already up. Each answers with
 * plain data or a DistillError that names the container and what the engine said.
 */

/** The part of `GET /containers/{id}/json` distill reads. */
export interface ContainerInfo {
  Id: string;
  Name: string;
  /** The image ID (sha256:...). */
  Image: string;
  State: { Running: boolean; Status: string; Pid: number; ExitCode?: number };
  Config: { Image: string; User?: string; Labels?: Record<string, string> | null };
  HostConfig: { IpcMode?: string; PidMode?: string; NetworkMode?: string };
}

/** An entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  State: string;
  Labels: Record<string, string>;
}

/** The body of `POST /containers/create`, as much of it as distill sets. */
export interface ContainerSpec {
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  HostConfig?: {
    PidMode?: string;
    NetworkMode?: string;
    IpcMode?: string;
    CapAdd?: string[];
    AutoRemove?: boolean;
  };
}

/** Sends a request with an optional JSON body; returns the status and the body's text. */
export async function engineCall(
  client: DaemonClient,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await client.request(method, path, {
    ...(body !== undefined && {
      body: Readable.from([Buffer.from(JSON.stringify(body))]),
      headers: { 'Content-Type': 'application/json' },
    }),
  });
  return { status: res.statusCode ?? 0, text: await readBody(res) };
}

function failed(client: DaemonClient, doing: string, r: { status: number; text: string }): DistillError {
  return new DistillError(
    'DAEMON',
    `the Docker engine at ${client.where} could not ${doing} (${r.status}): ${engineMessage(r.text)}`,
  );
}

/** A container by name or ID; an unknown one is CONTAINER_NOT_FOUND. */
export async function inspectContainer(client: DaemonClient, name: string): Promise<ContainerInfo> {
  const r = await engineCall(client, 'GET', `/containers/${encodeURIComponent(name)}/json`);
  if (r.status === 404) {
    throw new DistillError(
      'CONTAINER_NOT_FOUND',
      `the Docker engine at ${client.where} has no container "${name}"; list the running ones with docker ps`,
    );
  }
  if (r.status !== 200) throw failed(client, `inspect the container ${name}`, r);
  return JSON.parse(r.text) as ContainerInfo;
}

/** Containers (running or not) that carry every label given (`key=value`). */
export async function listContainers(client: DaemonClient, labels: string[]): Promise<ContainerSummary[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: labels }));
  const r = await engineCall(client, 'GET', `/containers/json?all=1&filters=${filters}`);
  if (r.status !== 200) throw failed(client, 'list containers', r);
  return JSON.parse(r.text) as ContainerSummary[];
}

export async function createContainer(client: DaemonClient, spec: ContainerSpec): Promise<string> {
  const r = await engineCall(client, 'POST', '/containers/create', spec);
  if (r.status !== 201) throw failed(client, `create a container of ${spec.Image}`, r);
  return (JSON.parse(r.text) as { Id: string }).Id;
}

export async function startContainer(client: DaemonClient, id: string): Promise<void> {
  const r = await engineCall(client, 'POST', `/containers/${id}/start`);
  if (r.status !== 204 && r.status !== 304) throw failed(client, `start the container ${short(id)}`, r);
}

/** The exit status, once the container has stopped (`condition`: next-exit before a start). */
export async function waitContainer(
  client: DaemonClient,
  id: string,
  condition: 'next-exit' | 'not-running' = 'not-running',
): Promise<number> {
  const r = await engineCall(client, 'POST', `/containers/${id}/wait?condition=${condition}`);
  if (r.status !== 200) throw failed(client, `wait for the container ${short(id)}`, r);
  return (JSON.parse(r.text) as { StatusCode: number }).StatusCode;
}

/** Resizes the TTY of a container (or of an exec, with `kind` "exec"). */
export async function resizeTty(
  client: DaemonClient,
  id: string,
  size: { rows: number; columns: number },
  kind: 'containers' | 'exec' = 'containers',
): Promise<void> {
  const r = await engineCall(client, 'POST', `/${kind}/${id}/resize?h=${size.rows}&w=${size.columns}`);
  // A resize that races the end of the process is of no consequence.
  if (r.status !== 200 && r.status !== 201 && r.status !== 404 && r.status !== 409 && r.status !== 500) {
    throw failed(client, `resize the terminal of ${short(id)}`, r);
  }
}

/** Removes a container, running or not; one already gone is fine. */
export async function removeContainer(client: DaemonClient, id: string): Promise<void> {
  const r = await engineCall(client, 'DELETE', `/containers/${id}?force=1&v=1`);
  if (r.status !== 204 && r.status !== 404 && !/already in progress/.test(r.text)) {
    throw failed(client, `remove the container ${short(id)}`, r);
  }
}

/** Whether the engine has an image of this name or ID. */
export async function hasImage(client: DaemonClient, name: string): Promise<boolean> {
  const r = await engineCall(client, 'GET', `/images/${encodeURIComponent(name)}/json`);
  if (r.status === 200) return true;
  if (r.status === 404) return false;
  throw failed(client, `look up the image ${name}`, r);
}

/**
 * Attaches to a created container's streams: stdout and stderr always, stdin when asked. The
 * socket carries raw bytes with a TTY, else frames (see demuxFrames).
 */
export async function attachContainer(
  client: DaemonClient,
  id: string,
  stdin: boolean,
): Promise<{ socket: import('node:stream').Duplex; head: Buffer }> {
  const q = `stream=1&stdout=1&stderr=1${stdin ? '&stdin=1' : ''}`;
  return client.hijack('POST', `/containers/${id}/attach?${q}`);
}

/** Creates an exec in a running container and starts it attached; its streams as attach's. */
export async function execAttached(
  client: DaemonClient,
  id: string,
  cmd: string[],
  opts: { stdin?: boolean; tty?: boolean } = {},
): Promise<{ exec: string; socket: import('node:stream').Duplex; head: Buffer }> {
  const r = await engineCall(client, 'POST', `/containers/${id}/exec`, {
    Cmd: cmd,
    AttachStdin: opts.stdin === true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: opts.tty === true,
  });
  if (r.status !== 201) throw failed(client, `run ${cmd[0]} in ${short(id)}`, r);
  const exec = (JSON.parse(r.text) as { Id: string }).Id;
  const started = await client.hijack('POST', `/exec/${exec}/start`, {
    Detach: false,
    Tty: opts.tty === true,
  });
  return { exec, ...started };
}

/** The exit status of a finished exec. */
export async function execStatus(client: DaemonClient, exec: string): Promise<number | undefined> {
  const r = await engineCall(client, 'GET', `/exec/${exec}/json`);
  if (r.status !== 200) throw failed(client, `read the status of exec ${short(exec)}`, r);
  const v = JSON.parse(r.text) as { Running: boolean; ExitCode: number | null };
  return v.Running || v.ExitCode === null ? undefined : v.ExitCode;
}

export function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
