import { Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { listenLoopback } from './loopback.js';

/**
 * A plain HTTP forwarder on 127.0.0.1 in front of a real server (a registry, an apt repository)
 * that can stall responses: for a request whose `"METHOD /path"` matches, it sends the headers
 * and the first `afterBytes` bytes of the body, then holds the rest until `release()`. A client
 * is then stuck mid-download for as long as a test needs, with a partial file written: the
 * moment to kill it with SIGKILL, or to keep it running while something else happens.
 */
export interface StallProxy {
  /** host:port of the proxy. */
  readonly host: string;
  /** http://host:port */
  readonly url: string;
  stall(match: RegExp, afterBytes: number): void;
  /** Responses being held now. */
  stalled(): number;
  /** Lets every held response finish, and stops stalling new ones. */
  release(): void;
  stop(): Promise<void>;
}

export async function startStallProxy(upstream: string): Promise<StallProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const rules: { match: RegExp; afterBytes: number }[] = [];
  const held = new Set<() => void>();
  let host = '';

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const rule = rules.find((r) => r.match.test(`${req.method} ${req.url}`));
    const up = request({
      host: target.hostname,
      port: Number(target.port),
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: target.host },
      agent,
    });
    req.pipe(up);
    up.on('error', () => (res.headersSent ? res.socket?.destroy() : res.writeHead(502).end()));
    up.on('response', (upRes) => {
      const headers = { ...upRes.headers };
      if (typeof headers.location === 'string')
        headers.location = headers.location.replace(target.host, host);
      res.writeHead(upRes.statusCode ?? 502, headers);
      let sent = 0;
      upRes.on('data', (chunk: Buffer) => {
        if (!rule || sent + chunk.length <= rule.afterBytes || !rules.includes(rule)) {
          sent += chunk.length;
          res.write(chunk);
          return;
        }
        const head = chunk.subarray(0, Math.max(0, rule.afterBytes - sent));
        sent += chunk.length;
        res.write(head);
        upRes.pause();
        const resume = () => {
          held.delete(resume);
          res.write(chunk.subarray(head.length));
          upRes.resume();
        };
        held.add(resume);
      });
      upRes.on('end', () => res.end());
    });
  };

  const server = await listenLoopback(handle);
  host = server.host;
  return {
    host,
    url: `http://${host}`,
    stall: (match, afterBytes) => {
      rules.push({ match, afterBytes });
    },
    stalled: () => held.size,
    release: () => {
      rules.length = 0;
      for (const resume of [...held]) resume();
    },
    stop: async () => {
      agent.destroy();
      await server.close();
    },
  };
}
