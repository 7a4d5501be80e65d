import { get } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DistillError } from '../errors.js';
import type { DaemonClient } from '../media/daemon/client.js';
import {
  attachContainer,
  createContainer,
  execAttached,
  removeContainer,
  startContainer,
  waitContainer,
} from '../media/daemon/containers.js';
import { FrameSplitter } from '../media/daemon/frames.js';
import { BUSYBOX_DIR } from '../plan/layout.js';
import { NODE_PIDS } from './session.js';
import { type Target, toolboxSpec } from './target.js';

/**
 * `distill debug CONTAINER --inspect [HOST:]PORT`: the Node inspector of the target's node,
 * opened without a restart and reached from the host. A toolbox joined to the target sends
 * SIGUSR1 to its node (Node then listens on 127.0.0.1:9229 of its own network namespace, which
 * the toolbox shares) and stays up; a TCP listener on the host hands each connection to a
 * busybox `nc 127.0.0.1 9229` run in the toolbox through the Engine API (an exec whose stdin is
 * the connection and whose stdout goes back to it). Nothing needs a published port or a
 * network the target does not already have: it works for a container with `--network none`.
 */
export const INSPECTOR_PORT = 9229;

/** Waits for the inspector (up to 10 s), prints `ready PID`; exits 3 when there is no node. */
export const OPEN_SCRIPT = [
  `p=$(${NODE_PIDS} | head -n 1)`,
  '[ -n "$p" ] || { echo "no node process" >&2; exit 3; }',
  'kill -USR1 "$p" || exit 4',
  'i=0',
  `until wget -qO /dev/null http://127.0.0.1:${INSPECTOR_PORT}/json/version 2>/dev/null; do`,
  '  i=$((i+1)); [ $i -lt 100 ] || { echo "node $p did not open its inspector" >&2; exit 5; }; sleep 0.1',
  'done',
  'echo "ready $p"',
  'exec sleep 2147483647',
].join('\n');

export interface InspectorTarget {
  /** What the inspector calls it (the script's URL). */
  title: string;
  /** ws://HOST:PORT/UUID, through the forward. */
  webSocketUrl: string;
  /** The devtools:// URL that opens Chrome DevTools on it. */
  devtools: string;
}

export interface InspectorForward {
  /** Where the forward listens on the host. */
  host: string;
  port: number;
  /** The node's PID in the target's PID namespace. */
  pid: number;
  targets: InspectorTarget[];
  /** Resolves when the forward is closed (the signal aborted, or the target stopped). */
  closed: Promise<void>;
}

/** Parses `[HOST:]PORT` (default host 127.0.0.1; port 0 picks a free one). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || port > 65535) {
    throw new DistillError(
      'USAGE',
      `--inspect takes [HOST:]PORT, e.g. 9229 or 127.0.0.1:9229, not "${value}"`,
    );
  }
  return { host: (m[1] ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'), port };
}

/** Opens the inspector of the target's node and forwards it to `listen` on the host. */
export async function forwardInspector(
  client: DaemonClient,
  req: { target: Target; toolbox: string; listen: { host: string; port: number }; signal?: AbortSignal },
): Promise<InspectorForward> {
  const spec = toolboxSpec(req.toolbox, req.target, {
    Entrypoint: ['sh', '-c', OPEN_SCRIPT],
    Env: [`PATH=${BUSYBOX_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`],
    AttachStdout: true,
    AttachStderr: true,
  });
  const id = await createContainer(client, spec);
  let server: Server | undefined;
  const remove = () => removeContainer(client, id).catch(() => {});
  try {
    const pid = await startAndWaitReady(client, id, req.target);
    server = await listen(client, id, req.listen);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : req.listen.port;
    const targets = await listTargets(req.listen.host, port);
    const srv = server;
    const closed = new Promise<void>((resolve) => {
      // Once: the removal ends the toolbox, which settles the wait below; a second removal would
      // answer "already in progress" at once and let distill end before the engine is done.
      let closing = false;
      const close = () => {
        if (closing) return;
        closing = true;
        srv.close();
        void remove().then(() => resolve());
      };
      req.signal?.addEventListener('abort', close, { once: true });
      waitContainer(client, id).then(close, close);
    });
    return { host: req.listen.host, port, pid, targets, closed };
  } catch (err) {
    server?.close();
    await remove();
    throw err;
  }
}

/** Starts the toolbox and reads its output until `ready PID`; its failure says why. */
async function startAndWaitReady(client: DaemonClient, id: string, target: Target): Promise<number> {
  const { socket, head } = await attachContainer(client, id, false);
  let out = '';
  let err = '';
  const ready = new Promise<number>((resolve, reject) => {
    const splitter = new FrameSplitter((stream, payload) => {
      if (stream === 'stderr') err += payload.toString();
      else out += payload.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    splitter.on('error', reject);
    if (head.length > 0) splitter.write(head);
    socket.on('data', (d: Buffer) => splitter.write(d));
  });
  const exited = waitContainer(client, id, 'next-exit');
  await startContainer(client, id);
  const first = await Promise.race([ready, exited.then((status) => ({ status }))]);
  socket.destroy();
  if (typeof first === 'number') return first;
  if (first.status === 3) {
    throw new DistillError(
      'NODE_NOT_RUNNING',
      `the container ${target.name} runs no node process, so there is no Node inspector to open; --inspect is for Node apps`,
    );
  }
  throw new DistillError(
    'DAEMON',
    `could not open the Node inspector in ${target.name} (status ${first.status}): ${err.trim() || 'no message'}`,
  );
}

/** The host listener: each connection becomes an `nc` to the inspector, run in the toolbox. */
function listen(client: DaemonClient, id: string, at: { host: string; port: number }): Promise<Server> {
  const server = createServer((conn) => void relay(client, id, conn));
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new DistillError(
          'USAGE',
          `cannot listen on ${at.host}:${at.port} for the inspector (${err.code ?? err.message}); give another with --inspect HOST:PORT`,
        ),
      ),
    );
    server.listen(at.port, at.host, () => resolve(server));
  });
}

async function relay(client: DaemonClient, id: string, conn: Socket): Promise<void> {
  conn.pause();
  let exec: Duplex;
  try {
    exec = (await execAttached(client, id, ['nc', '127.0.0.1', String(INSPECTOR_PORT)], { stdin: true }))
      .socket;
  } catch {
    conn.destroy();
    return;
  }
  const splitter = new FrameSplitter((stream, payload) => {
    if (stream === 'stdout') conn.write(payload);
  });
  exec.pipe(splitter);
  exec.on('end', () => conn.end());
  exec.on('error', () => conn.destroy());
  splitter.on('error', () => conn.destroy());
  conn.on('data', (d: Buffer) => exec.write(d));
  conn.on('end', () => exec.end());
  conn.on('error', () => exec.destroy());
  conn.on('close', () => exec.destroy());
  conn.resume();
}

/** The inspector's targets, read through the forward (their URLs then name the forward). */
function listTargets(host: string, port: number): Promise<InspectorTarget[]> {
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    get(`http://${hostPort}/json/list`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        try {
          const list = JSON.parse(body) as { title: string; webSocketDebuggerUrl: string }[];
          resolve(
            list.map((t) => ({
              title: t.title,
              webSocketUrl: t.webSocketDebuggerUrl,
              devtools: `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${t.webSocketDebuggerUrl.replace(/^ws:\/\//, '')}`,
            })),
          );
        } catch (err) {
          reject(
            new DistillError(
              'DAEMON',
              `the Node inspector answered /json/list with no JSON: ${body.slice(0, 200)}`,
              { cause: err },
            ),
          );
        }
      });
    }).on('error', (err) =>
      reject(
        new DistillError('NETWORK', `reaching the inspector through ${hostPort}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
  });
}
