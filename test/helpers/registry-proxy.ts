import { randomBytes } from 'node:crypto';
import { Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { listenLoopback } from './loopback.js';

/**
 * An HTTP proxy on 127.0.0.1 in front of a real registry, for fault tests: it logs every
 * request and can corrupt, cut or refuse responses, cut uploads, and demand bearer tokens it
 * issues itself. Faults match a RegExp against `"METHOD /path?query"`.
 */
export interface ProxyLogEntry {
  method: string;
  path: string;
  query: string;
  status: number;
  /** Request body bytes the proxy received. */
  uploaded: number;
  range?: string;
  contentRange?: string;
  location?: string;
  authorization?: string;
  /** The fault the proxy applied to this request, if any. */
  fault?: 'corrupt' | 'cut-response' | 'status' | 'cut-upload';
}

interface Fault {
  match: RegExp;
  times: number;
  kind: 'corrupt' | 'cut-response' | 'status' | 'cut-upload';
  bytes?: number;
  status?: number;
  headers?: Record<string, string>;
}

export interface BearerMode {
  username?: string;
  password?: string;
}

export interface RegistryProxy {
  /** host:port of the proxy. */
  readonly host: string;
  readonly log: ProxyLogEntry[];
  /** Token requests the proxy answered in bearer mode: their scope parameters. */
  readonly tokenRequests: { scopes: string[]; authorized: boolean }[];
  /** Flips the first byte of matching response bodies. */
  corruptResponse(match: RegExp, times?: number): void;
  /** Sends `bytes` bytes of matching response bodies, then destroys the connection. */
  cutResponse(match: RegExp, bytes: number, times?: number): void;
  /** Answers matching requests with `status` without forwarding them. */
  failWith(match: RegExp, status: number, times?: number, headers?: Record<string, string>): void;
  /** Destroys the connection after `bytes` request body bytes of matching requests. */
  cutUpload(match: RegExp, bytes: number, times?: number): void;
  /** Demands bearer tokens issued by the proxy's own `/token` endpoint. */
  requireBearer(mode: BearerMode): void;
  clearFaults(): void;
  /** Log entries whose `"METHOD /path?query"` matches. */
  requests(match: RegExp): ProxyLogEntry[];
  stop(): Promise<void>;
}

export async function startRegistryProxy(upstream: string): Promise<RegistryProxy> {
  const [upstreamHost, upstreamPort] = upstream.split(':') as [string, string];
  const agent = new Agent({ keepAlive: true });
  const faults: Fault[] = [];
  const log: ProxyLogEntry[] = [];
  const tokenRequests: { scopes: string[]; authorized: boolean }[] = [];
  const tokens = new Set<string>();
  let bearer: BearerMode | undefined;
  let host = '';

  const take = (kind: Fault['kind'], target: string): Fault | undefined => {
    const f = faults.find((x) => x.kind === kind && x.times > 0 && x.match.test(target));
    if (f) f.times--;
    return f;
  };

  const handleToken = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const scopes = url.searchParams.getAll('scope');
    let authorized = false;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [user, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      authorized = user === bearer?.username && rest.join(':') === bearer?.password;
      if (!authorized) {
        tokenRequests.push({ scopes, authorized });
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
    }
    tokenRequests.push({ scopes, authorized });
    if (bearer?.username !== undefined && !authorized) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"credentials required"}');
      return;
    }
    const token = randomBytes(16).toString('hex');
    tokens.add(token);
    // Some token servers say access_token, some token; this one says access_token only.
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: token, expires_in: 300 }));
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    const target = `${req.method} ${url.pathname}${url.search}`;
    const entry: ProxyLogEntry = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      status: 0,
      uploaded: 0,
    };
    if (req.headers.range) entry.range = req.headers.range;
    if (typeof req.headers['content-range'] === 'string') entry.contentRange = req.headers['content-range'];
    if (req.headers.authorization) entry.authorization = req.headers.authorization.split(' ')[0];
    log.push(entry);

    if (url.pathname === '/token' && bearer) {
      entry.status = 200;
      handleToken(req, res, url);
      return;
    }
    if (bearer && url.pathname.startsWith('/v2/')) {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !tokens.has(auth.slice(7))) {
        entry.status = 401;
        req.resume();
        res
          .writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer realm="http://${host}/token",service="distill-proxy"`,
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
    }

    const status = take('status', target);
    if (status) {
      entry.status = status.status!;
      entry.fault = 'status';
      req.resume();
      res
        .writeHead(status.status!, { 'content-type': 'application/json', ...status.headers })
        .end('{"errors":[{"code":"UNAVAILABLE","message":"injected by the test proxy"}]}');
      return;
    }

    const headers = { ...req.headers, host };
    if (bearer) delete headers.authorization;
    const up = request({
      host: upstreamHost,
      port: Number(upstreamPort),
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    const cutUpload = take('cut-upload', target);
    req.on('data', (chunk: Buffer) => {
      entry.uploaded += chunk.length;
      if (cutUpload && entry.uploaded > cutUpload.bytes!) {
        entry.fault = 'cut-upload';
        up.destroy();
        req.socket.destroy();
        return;
      }
      up.write(chunk);
    });
    req.on('end', () => up.end());
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.socket?.destroy();
    });
    up.on('response', (upRes) => {
      entry.status = upRes.statusCode ?? 0;
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upRes.headers)) {
        if (v === undefined) continue;
        out[k] = k === 'location' && typeof v === 'string' ? v.replace(`//${upstream}`, `//${host}`) : v;
      }
      if (typeof out.location === 'string') entry.location = out.location;
      if (typeof out['content-range'] === 'string') entry.contentRange = out['content-range'];
      res.writeHead(upRes.statusCode ?? 502, out);
      const corrupt = take('corrupt', target);
      const cut = take('cut-response', target);
      let sent = 0;
      let first = true;
      upRes.on('data', (chunk: Buffer) => {
        let c = chunk;
        if (corrupt && first && c.length > 0) {
          entry.fault = 'corrupt';
          c = Buffer.from(c);
          c[0] = c[0]! ^ 0xff;
        }
        first = false;
        if (cut) {
          const room = cut.bytes! - sent;
          if (c.length >= room) {
            entry.fault = 'cut-response';
            upRes.destroy();
            res.write(c.subarray(0, room), () => res.socket?.destroy());
            sent += room;
            return;
          }
        }
        sent += c.length;
        res.write(c);
      });
      upRes.on('end', () => res.end());
    });
  };

  const server = await listenLoopback(handle);
  host = server.host;

  const add = (f: Fault): void => {
    faults.push(f);
  };
  return {
    host,
    log,
    tokenRequests,
    corruptResponse: (match, times = 1) => add({ match, times, kind: 'corrupt' }),
    cutResponse: (match, bytes, times = 1) => add({ match, times, kind: 'cut-response', bytes }),
    failWith: (match, status, times = 1, headers = {}) =>
      add({ match, times, kind: 'status', status, headers }),
    cutUpload: (match, bytes, times = Number.POSITIVE_INFINITY) =>
      add({ match, times, kind: 'cut-upload', bytes }),
    requireBearer: (mode) => {
      bearer = mode;
    },
    clearFaults: () => {
      faults.length = 0;
    },
    requests: (match) => log.filter((e) => match.test(`${e.method} ${e.path}${e.query}`)),
    stop: async () => {
      agent.destroy();
      await server.close();
    },
  };
}
