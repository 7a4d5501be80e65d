import { readFile } from 'node:fs/promises';
import { DistillError } from '../../errors.js';

/**
 * Docker host values as the docker CLI parses them (docker/cli opts/hosts.go ParseHost), and the
 * endpoint they describe. Transports: unix://PATH, tcp://HOST[:PORT][/PATH] (plain, or TLS),
 * ssh://[USER@]HOST[:PORT][/PATH] (through `ssh ... docker system dial-stdio`). npipe:// is
 * Windows only and fd:// is for the daemon's side; both are refused with a clear error.
 */

/** TLS for a tcp:// endpoint: what to present and what to trust. */
export interface TlsMaterial {
  /** Verify the engine's certificate (against `ca`, else the system's roots). */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Where the files came from, for messages: DOCKER_CERT_PATH's directory or a context's. */
  dir: string;
}

interface EndpointBase {
  /** The endpoint as a URL: unix:///var/run/docker.sock, tcp://127.0.0.1:2376, ssh://me@host. */
  url: string;
  /** How it was chosen, for messages: `DOCKER_HOST`, `docker context "ci" (DOCKER_CONTEXT)`. */
  origin: string;
}

export interface UnixEndpoint extends EndpointBase {
  kind: 'unix';
  path: string;
}

export interface TcpEndpoint extends EndpointBase {
  kind: 'tcp';
  host: string;
  port: number;
  /** A path prefix for every API request ('' for none), as tcp://host:port/prefix gives. */
  basePath: string;
  tls?: TlsMaterial;
}

export interface SshEndpoint extends EndpointBase {
  kind: 'ssh';
  host: string;
  user?: string;
  port?: number;
  /** The engine's socket on the remote host, when the URL names one (ssh://host/run/docker.sock). */
  socketPath?: string;
}

export type DockerEndpoint = UnixEndpoint | TcpEndpoint | SshEndpoint;

export const DEFAULT_SOCKET = '/var/run/docker.sock';
const DEFAULT_TCP_PORT = 2375;
const HOST_FORMS = 'unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]';

function invalid(value: string, origin: string, why: string): DistillError {
  return new DistillError(
    'DAEMON_HOST_INVALID',
    `${origin} is ${JSON.stringify(value)}, not a Docker host: ${why}; use ${HOST_FORMS}`,
  );
}

/**
 * Parses a Docker host the way the docker CLI's ParseHost does: no scheme means tcp://, a
 * missing tcp port is 2375, an empty unix path is the default socket. `origin` names where the
 * value came from (DOCKER_HOST, the Host of a context's meta.json), for errors and messages.
 */
export function parseDockerHost(value: string, origin = 'DOCKER_HOST'): DockerEndpoint {
  const trimmed = value.trim();
  const sep = trimmed.indexOf('://');
  const scheme = sep < 0 ? 'tcp' : trimmed.slice(0, sep);
  const rest = sep < 0 ? trimmed : trimmed.slice(sep + 3);
  switch (scheme) {
    case 'unix': {
      if (rest.includes('://')) throw invalid(value, origin, 'it holds two schemes');
      const path = rest === '' ? DEFAULT_SOCKET : rest;
      return { kind: 'unix', path, url: `unix://${path}`, origin };
    }
    case 'tcp':
      return parseTcp(value, rest, origin);
    case 'ssh':
      return parseSsh(value, origin);
    case 'npipe':
      throw invalid(value, origin, 'named pipes exist on Windows only');
    case 'fd':
      throw invalid(value, origin, 'fd:// is how dockerd is handed its sockets, not how clients reach it');
    case 'http':
    case 'https':
      throw invalid(
        value,
        origin,
        `the docker CLI takes tcp://, not ${scheme}:// (TLS comes from DOCKER_TLS_VERIFY)`,
      );
    default:
      throw invalid(value, origin, `unknown scheme ${scheme}://`);
  }
}

function parseTcp(value: string, rest: string, origin: string): TcpEndpoint {
  if (rest.includes('://')) throw invalid(value, origin, 'it holds two schemes');
  let u: URL;
  try {
    // The docker CLI fills in an empty host (tcp://:2375) as localhost.
    u = new URL(`tcp://${rest === '' || rest.startsWith(':') ? `localhost${rest}` : rest}`);
  } catch {
    throw invalid(value, origin, 'the address does not parse as HOST:PORT');
  }
  if (u.username !== '' || u.search !== '' || u.hash !== '') {
    throw invalid(value, origin, 'a tcp:// host takes no user, query or fragment');
  }
  const host = u.hostname === '' ? 'localhost' : u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port === '' ? DEFAULT_TCP_PORT : Number(u.port);
  const basePath = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  const shown = host.includes(':') ? `[${host}]` : host;
  return { kind: 'tcp', host, port, basePath, url: `tcp://${shown}:${port}${basePath}`, origin };
}

function parseSsh(value: string, origin: string): SshEndpoint {
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    throw invalid(value, origin, 'the URL does not parse');
  }
  if (u.password !== '')
    throw invalid(value, origin, 'a password in the URL is not supported (use ssh keys)');
  if (u.search !== '' || u.hash !== '')
    throw invalid(value, origin, 'query parameters and fragments are not allowed');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalid(value, origin, 'the host name is empty');
  const user = decodeURIComponent(u.username);
  // ssh would read a leading '-' as an option.
  if (host.startsWith('-') || user.startsWith('-'))
    throw invalid(value, origin, 'a host or user may not start with "-"');
  const socketPath = decodeURIComponent(u.pathname);
  return {
    kind: 'ssh',
    host,
    ...(user !== '' && { user }),
    ...(u.port !== '' && { port: Number(u.port) }),
    ...(socketPath.replace(/\//g, '') !== '' && { socketPath }),
    url: value.trim(),
    origin,
  };
}

/** A PEM file's bytes, or undefined when it does not exist. */
export async function readPem(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DistillError('DAEMON_TLS', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}
