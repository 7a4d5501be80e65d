import type { Agent, request as httpRequest, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { type JsonKind, jsonLimit, tooLarge } from '../../oci/limits.js';

/**
 * The fetch the registry client uses by default: one HTTP exchange over node:http(s), answered as
 * a fetch Response. Node 20's global fetch is undici, loaded on first use: loading it and making
 * the first request took 0.19 s here against 0.02 s for node:http, and a warm `distill build`
 * that pushes makes only a handful of small requests, so that load was a third of its time.
 * Connections are kept alive (the agents unref idle sockets, so they never hold the process).
 *
 * Covers what the client sends: a method, headers, a string or byte body, and `redirect:
 * 'manual'` (redirects are never followed here; the client follows them itself). Streamed uploads
 * go through the client's own node:http path (sendStream).
 */
export interface Sender {
  send: typeof httpRequest;
  agent: Agent;
}

const senders = new Map<string, Promise<Sender>>();

/**
 * node:http or node:https with its keep-alive agent, loaded on the first request of that scheme:
 * loading node:https (with tls and net) costs 8-11 ms, a twentieth of a warm `distill build`,
 * which sends no request at all when its outputs are local.
 */
export function senderFor(url: URL): Promise<Sender> {
  const tls = url.protocol === 'https:';
  const key = tls ? 'https' : 'http';
  let sender = senders.get(key);
  if (sender === undefined) {
    sender = (tls ? import('node:https') : import('node:http')).then((m) => ({
      send: m.request,
      agent: new m.Agent({ keepAlive: true }),
    }));
    senders.set(key, sender);
  }
  return sender;
}

function headerRecord(h: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined) return out;
  if (Array.isArray(h)) {
    for (const [k, v] of h) if (k !== undefined && v !== undefined) out[k.toLowerCase()] = v;
  } else if (h instanceof Headers) {
    h.forEach((v, k) => {
      out[k] = v;
    });
  } else {
    for (const [k, v] of Object.entries(h as Record<string, string>)) out[k.toLowerCase()] = v;
  }
  return out;
}

function bodyBytes(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('httpFetch sends string and byte bodies only');
}

/** The response of node:http as a fetch Response: its body streamed, or `read` when given. */
export function toResponse(res: IncomingMessage, method: string, read?: Buffer): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  }
  const status = res.statusCode ?? 500;
  const empty = method === 'HEAD' || status === 204 || status === 205 || status === 304;
  if (empty) {
    res.resume();
    return new Response(null, { status, headers });
  }
  if (read !== undefined) return new Response(read, { status, headers });
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers });
}

export const httpFetch: typeof fetch = async (input, init = {}) => {
  const url = input instanceof URL ? input : new URL(typeof input === 'string' ? input : input.url);
  const method = (init.method ?? 'GET').toUpperCase();
  const headers = headerRecord(init.headers);
  const body = bodyBytes(init.body);
  if (body !== undefined) headers['content-length'] = String(body.length);
  const { send, agent } = await senderFor(url);
  return new Promise<Response>((resolve, reject) => {
    const req = send(url, { method, headers, agent }, (res) => resolve(toResponse(res, method)));
    req.on('error', reject);
    req.end(body);
  });
};

/**
 * Reads a response body holding a JSON document of `kind`, refusing it as soon as it passes that
 * kind's cap (oci/limits.ts): a bigger body is an error, never a memory hazard.
 */
export async function readLimited(res: Response, kind: JsonKind, what: string): Promise<Buffer> {
  const limit = jsonLimit(kind);
  const length = Number(res.headers.get('content-length') ?? Number.NaN);
  if (length > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(kind, what, `${length} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > limit) {
        await res.body.cancel().catch(() => undefined);
        throw tooLarge(kind, what, `more than ${limit} bytes`);
      }
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
  }
  return Buffer.concat(chunks, total);
}
