import { type IncomingMessage, request } from 'node:http';
import type { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';

/**
 * A minimal Docker Engine API client over the unix socket (or tcp:// from DOCKER_HOST): enough
 * for `images/{name}/get` (save) and `images/load`. No docker CLI is needed.
 */
export interface DaemonAddress {
  socketPath?: string;
  host?: string;
  port?: number;
  description: string;
}

export function daemonAddress(env: NodeJS.ProcessEnv = process.env): DaemonAddress {
  const dh = env.DOCKER_HOST;
  if (dh === undefined || dh === '')
    return { socketPath: '/var/run/docker.sock', description: 'unix:///var/run/docker.sock' };
  if (dh.startsWith('unix://')) return { socketPath: dh.slice('unix://'.length), description: dh };
  if (dh.startsWith('tcp://') || dh.startsWith('http://')) {
    const u = new URL(dh.replace(/^tcp:/, 'http:'));
    return { host: u.hostname, port: Number(u.port || 2375), description: dh };
  }
  throw new DistillError(
    'DAEMON_UNAVAILABLE',
    `DOCKER_HOST=${dh} is not supported; use unix:///path/to/docker.sock or tcp://host:port`,
  );
}

export async function daemonRequest(
  method: string,
  path: string,
  opts: { body?: Readable; headers?: Record<string, string>; address?: DaemonAddress } = {},
): Promise<IncomingMessage> {
  const addr = opts.address ?? daemonAddress();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method,
        path,
        headers: { Host: 'docker', ...opts.headers },
        ...(addr.socketPath !== undefined
          ? { socketPath: addr.socketPath }
          : { host: addr.host, port: addr.port }),
      },
      resolve,
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (['ENOENT', 'ECONNREFUSED', 'EACCES'].includes(err.code ?? '')) {
        reject(
          new DistillError(
            'DAEMON_UNAVAILABLE',
            `cannot reach the Docker engine at ${addr.description} (${err.code}); start dockerd or set DOCKER_HOST`,
            { cause: err },
          ),
        );
      } else {
        reject(
          new DistillError('DAEMON', `the Docker engine at ${addr.description} failed: ${err.message}`, {
            cause: err,
          }),
        );
      }
    });
    if (opts.body) {
      opts.body.on('error', (err) => req.destroy(err));
      opts.body.pipe(req);
    } else {
      req.end();
    }
  });
}

export async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The engine's error message from a JSON error body, or the body itself. */
export function engineMessage(body: string): string {
  try {
    const v = JSON.parse(body) as { message?: string };
    if (typeof v.message === 'string') return v.message;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300);
}
