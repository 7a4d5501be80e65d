import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { SecureContext } from 'node:tls';
import { DistillError } from '../../errors.js';
import { hostEnv } from '../../host.js';
import { type DockerEndpoint, resolveDockerEndpoint, type TcpEndpoint } from './endpoint.js';
import { SshConnection } from './ssh.js';

// node:http, node:https and node:tls load on the engine's first request, not with the module: a
// build that never talks to the engine (8-11 ms of a 200 ms warm build) does not pay for them.
const load = createRequire(import.meta.url);
const nodeHttp = () => load('node:http') as typeof import('node:http');
const nodeHttps = () => load('node:https') as typeof import('node:https');
const nodeTls = () => load('node:tls') as typeof import('node:tls');

/**
 * The one Docker Engine API client of distill (every docker-daemon: read and write goes through
 * it; nothing else opens the engine's socket): plain HTTP/1.1 over a unix socket, TCP, TLS with
 * client certificates, or ssh's stdio. Just the few calls distill needs (`images/{name}/get`,
 * `images/load`, and the container calls of `distill debug` in containers.ts, whose attach takes
 * over the connection: `hijack`); no docker CLI is needed on this side.
 */
export interface DaemonOptions {
  /**
   * The environment the endpoint is found in (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH,
   * DOCKER_CONTEXT, DOCKER_CONFIG, HOME), ssh runs in (SSH_AUTH_SOCK, PATH, DISTILL_SSH_COMMAND)
   * and TMPDIR is read from. Default: process.env.
   */
  env?: NodeJS.ProcessEnv;
  /** An endpoint resolved beforehand (resolveDockerEndpoint, parseDockerHost); wins over env. */
  endpoint?: DockerEndpoint;
}

/** How long a tcp:// connection (TLS handshake included) may take, as the docker CLI's dialer. */
const CONNECT_TIMEOUT_MS = 30_000;

export class DaemonClient {
  private secure: SecureContext | undefined;

  constructor(
    readonly endpoint: DockerEndpoint,
    private readonly env: NodeJS.ProcessEnv = hostEnv(),
  ) {}

  static async open(opts: DaemonOptions = {}): Promise<DaemonClient> {
    const env = opts.env ?? hostEnv();
    return new DaemonClient(opts.endpoint ?? (await resolveDockerEndpoint(env)), env);
  }

  /** Where the engine is, for messages: `tcp://127.0.0.1:2376 (DOCKER_HOST)`. */
  get where(): string {
    return `${this.endpoint.url} (${this.endpoint.origin})`;
  }

  /** Sends one request; resolves with the response once its headers arrive. */
  request(
    method: string,
    path: string,
    opts: { body?: Readable; headers?: Record<string, string> } = {},
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = this.send(method, path, opts.headers ?? {}, (res) => {
        if (res.statusCode === 400 && this.endpoint.kind === 'tcp' && !this.endpoint.tls) {
          this.badRequest(res).then(reject, reject);
          return;
        }
        resolve(res);
      });
      req.on('error', (err) => reject(this.connectionError(err)));
      if (opts.body) {
        opts.body.on('error', (err) => req.destroy(err));
        opts.body.pipe(req);
      } else {
        req.end();
      }
    });
  }

  /**
   * Sends a request that takes over the connection (attach): the engine answers `101 UPGRADED`
   * and the socket then carries the container's streams both ways. Resolves with the socket
   * (and any bytes that came with the answer); an answer that is not an upgrade (404 for an
   * unknown container, 409 for a stopped one) rejects with the engine's message.
   */
  hijack(method: string, path: string, body?: unknown): Promise<{ socket: Duplex; head: Buffer }> {
    const json = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'tcp' };
    if (json)
      Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(json.length) });
    return new Promise((resolve, reject) => {
      const req = this.send(method, path, headers, (res) => {
        readBody(res).then(
          (text) =>
            reject(
              new DistillError(
                res.statusCode === 404 ? 'NOT_FOUND' : 'DAEMON',
                `the Docker engine at ${this.where} did not attach (${res.statusCode}): ${engineMessage(text)}`,
              ),
            ),
          reject,
        );
      });
      req.on('upgrade', (_res: IncomingMessage, socket: Duplex, head: Buffer) => {
        // The connect timeout of tcp:// must not end a quiet session.
        if ('setTimeout' in socket) (socket as Socket).setTimeout(0);
        resolve({ socket, head });
      });
      req.on('error', (err) => reject(this.connectionError(err)));
      req.end(json);
    });
  }

  /** A 400 to plain HTTP, which is what a TLS port answers: say so instead of "Bad Request". */
  private async badRequest(res: IncomingMessage): Promise<DistillError> {
    const text = await readBody(res);
    if (/HTTPS server/i.test(text)) {
      return new DistillError(
        'DAEMON_TLS',
        `the Docker engine at ${this.where} speaks TLS; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), or use its docker context`,
      );
    }
    return new DistillError(
      'DAEMON',
      `the Docker engine at ${this.where} answered 400: ${engineMessage(text)}`,
    );
  }

  private send(
    method: string,
    path: string,
    headers: Record<string, string>,
    onResponse: (res: IncomingMessage) => void,
  ): ClientRequest {
    const ep = this.endpoint;
    // A connection per request, closed after it (the engine is asked a couple of times per
    // command); `agent: false` makes node:http ignore createConnection, so ssh sets neither.
    const base: RequestOptions = { method, headers: { Connection: 'close', ...headers } };
    // Over a socket there is no host name; tcp:// sends its own (node:https also checks the
    // engine's certificate against the Host header, so it must be the real one).
    const local: RequestOptions = { ...base, headers: { Host: 'docker', ...base.headers } };
    switch (ep.kind) {
      case 'unix':
        return nodeHttp().request({ ...local, path, socketPath: ep.path, agent: false }, onResponse);
      case 'ssh':
        return nodeHttp().request(
          { ...local, path, createConnection: () => new SshConnection(ep, this.env) as never },
          onResponse,
        );
      case 'tcp': {
        const tcp = { ...base, path: `${ep.basePath}${path}`, host: ep.host, port: ep.port, agent: false };
        let req: ClientRequest;
        if (ep.tls) {
          // https hands secureContext on to tls.connect; its type does not list it.
          const options: HttpsRequestOptions & { secureContext: SecureContext } = {
            ...tcp,
            secureContext: this.secureContext(ep),
            rejectUnauthorized: ep.tls.verify,
          };
          req = nodeHttps().request(options, onResponse);
        } else {
          req = nodeHttp().request(tcp, onResponse);
        }
        req.on('socket', (socket: Socket) => {
          socket.setTimeout(CONNECT_TIMEOUT_MS, () =>
            req.destroy(
              new DistillError(
                'DAEMON_UNAVAILABLE',
                `the Docker engine at ${this.where} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`,
              ),
            ),
          );
          socket.once(ep.tls ? 'secureConnect' : 'connect', () => socket.setTimeout(0));
        });
        return req;
      }
    }
  }

  /** The TLS context of the endpoint's files, checked once (a bad PEM names the directory). */
  private secureContext(ep: TcpEndpoint): SecureContext {
    const files = ep.tls!;
    try {
      this.secure ??= nodeTls().createSecureContext({
        ...(files.ca && { ca: files.ca }),
        ...(files.cert && { cert: files.cert }),
        ...(files.key && { key: files.key }),
      });
    } catch (err) {
      throw new DistillError(
        'DAEMON_TLS',
        `the TLS files in ${files.dir} for ${this.where} are not usable (${(err as Error).message}); ca.pem, cert.pem and key.pem must be PEM, and key.pem must be cert.pem's unencrypted key`,
        { cause: err },
      );
    }
    return this.secure;
  }

  /** A failed connection or request as an error that says what to check. */
  private connectionError(err: NodeJS.ErrnoException): DistillError {
    if (err instanceof DistillError) return err;
    const code = err.code ?? '';
    const ep = this.endpoint;
    if (ep.kind === 'tcp' && ep.tls && isTlsError(code, err.message)) return tlsError(err, ep, this.where);
    if (['ENOENT', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) {
      return new DistillError(
        'DAEMON_UNAVAILABLE',
        `cannot reach the Docker engine at ${this.where} (${code}); start dockerd, or point DOCKER_HOST or DOCKER_CONTEXT at a running one`,
        { cause: err },
      );
    }
    if (code === 'EACCES') {
      return new DistillError(
        'DAEMON_UNAVAILABLE',
        `no permission to use the Docker engine's socket ${this.where}; add your user to the docker group (or run as root)`,
        { cause: err },
      );
    }
    return new DistillError('DAEMON', `the Docker engine at ${this.where} failed: ${err.message}`, {
      cause: err,
    });
  }
}

function isTlsError(code: string, message: string): boolean {
  return (
    /^(ERR_TLS_|ERR_SSL_)|CERT|SIGNATURE|ISSUER|^EPROTO$/.test(code) ||
    /socket disconnected before secure TLS/.test(message)
  );
}

function tlsError(err: NodeJS.ErrnoException, ep: TcpEndpoint, where: string): DistillError {
  const tls = ep.tls!;
  const code = err.code ?? '';
  let what: string;
  if (/CERT_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|disconnected before secure/.test(`${code} ${err.message}`)) {
    what = tls.cert
      ? `the engine refused the client certificate ${tls.dir}/cert.pem: is it signed by the CA the engine trusts (its --tlscacert)?`
      : `the engine wants a client certificate and there is none: put cert.pem and key.pem in ${tls.dir}`;
  } else if (/WRONG_VERSION_NUMBER|EPROTO/.test(`${code} ${err.message}`)) {
    what = 'the endpoint does not speak TLS: unset DOCKER_TLS_VERIFY and DOCKER_TLS, or check the port';
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    what = `its certificate is not for ${ep.host}: use the name or address its certificate names`;
  } else {
    what = tls.ca
      ? `its certificate is not signed by ${tls.dir}/ca.pem: check DOCKER_CERT_PATH (or the context's ca.pem)`
      : 'its certificate is not signed by a CA this system trusts: give the CA as ca.pem';
  }
  return new DistillError(
    'DAEMON_TLS',
    `TLS with the Docker engine at ${where} failed (${code || err.message}): ${what}`,
    {
      cause: err,
    },
  );
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
