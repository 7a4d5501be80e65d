import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A tiny in-process registry for behaviour the real docker-registry does not show: it keeps
 * the bytes of a PATCH whose connection broke (as registries on resumable storage do) and
 * reports them in the upload status, and it can ignore Range requests on blob GETs; with
 * `referrersApi` it serves the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`, and
 * `OCI-Subject` on a manifest PUT with a subject), which Debian's docker-registry does not. Only
 * what the tests need; blobs and manifests live in memory.
 */
export interface FakeRegistry {
  host: string;
  blobs: Map<string, Buffer>;
  log: { method: string; url: string; status: number; range?: string; contentRange?: string }[];
  /** Cut the connection of the next PATCH after this many bytes, keeping what arrived. */
  cutNextPatchAfter?: number;
  /** Answer Range requests for blobs with the whole blob and 200. */
  ignoreRange: boolean;
  /** Cut the next blob GET response after this many bytes. */
  cutNextBlobGetAfter?: number;
  /** Serve the referrers API (off: answer 404 there, as distribution 2.8 does). */
  referrersApi: boolean;
  /** Referrers API answers hold at most this many entries, with a Link header to the next page. */
  referrersPageSize?: number;
  /** Called before each request is handled: a test plays another writer here. */
  onRequest?: (method: string, path: string) => Promise<void> | void;
  /** Stores a manifest as a PUT would (another writer's push). */
  putManifest(reference: string, mediaType: string, body: Buffer): string;
  stop(): Promise<void>;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const uploads = new Map<string, Buffer>();
  const manifests = new Map<string, { type: string; body: Buffer }>();
  const referrers = new Map<string, object[]>();
  const sockets = new Set<Socket>();
  let nextId = 1;
  const fake: FakeRegistry = {
    host: '',
    blobs: new Map(),
    log: [],
    ignoreRange: false,
    referrersApi: false,
    putManifest: (reference, type, body) => {
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      manifests.set(reference, { type, body });
      manifests.set(digest, { type, body });
      return digest;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', `http://${fake.host}`);
    const entry: FakeRegistry['log'][number] = { method: req.method ?? '', url: req.url ?? '', status: 0 };
    if (req.headers.range) entry.range = req.headers.range;
    if (typeof req.headers['content-range'] === 'string') entry.contentRange = req.headers['content-range'];
    fake.log.push(entry);
    await fake.onRequest?.(entry.method, url.pathname);
    const send = (status: number, headers: Record<string, string> = {}, body?: Buffer): void => {
      entry.status = status;
      res.writeHead(status, { 'content-length': String(body?.length ?? 0), ...headers });
      res.end(body);
    };
    const path = url.pathname;
    if (path === '/v2/') return send(200);
    if (/^\/v2\/(.+)\/blobs\/uploads\/$/.test(path) && req.method === 'POST') {
      const id = String(nextId++);
      uploads.set(id, Buffer.alloc(0));
      return send(202, { location: `/upload/${id}`, range: '0-0' });
    }
    const upload = /^\/upload\/(\d+)$/.exec(path);
    if (upload) {
      const id = upload[1]!;
      const have = uploads.get(id);
      if (!have) return send(404);
      if (req.method === 'GET')
        return send(204, { location: `/upload/${id}`, range: `0-${Math.max(0, have.length - 1)}` });
      if (req.method === 'PATCH') {
        const start = Number(/^(\d+)-/.exec(String(req.headers['content-range']))?.[1] ?? -1);
        if (start !== have.length) {
          req.resume();
          return send(416);
        }
        const cut = fake.cutNextPatchAfter;
        fake.cutNextPatchAfter = undefined;
        const parts: Buffer[] = [have];
        let got = 0;
        for await (const chunk of req) {
          const c = chunk as Buffer;
          if (cut !== undefined && got + c.length > cut) {
            parts.push(c.subarray(0, cut - got));
            uploads.set(id, Buffer.concat(parts));
            entry.status = -1;
            req.socket.destroy();
            return;
          }
          got += c.length;
          parts.push(c);
        }
        const all = Buffer.concat(parts);
        uploads.set(id, all);
        return send(202, { location: `/upload/${id}`, range: `0-${all.length - 1}` });
      }
      if (req.method === 'PUT') {
        const parts: Buffer[] = [have];
        for await (const chunk of req) parts.push(chunk as Buffer);
        const all = Buffer.concat(parts);
        const digest = `sha256:${createHash('sha256').update(all).digest('hex')}`;
        if (digest !== url.searchParams.get('digest')) return send(400);
        fake.blobs.set(digest, all);
        uploads.delete(id);
        return send(201, { 'docker-content-digest': digest });
      }
    }
    const blobPath = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (blobPath) {
      const blob = fake.blobs.get(blobPath[2]!);
      if (!blob) return send(404);
      if (req.method === 'HEAD') return send(200, { 'content-length': String(blob.length) });
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      let status = 200;
      let body = blob;
      const headers: Record<string, string> = {};
      if (range && !fake.ignoreRange) {
        status = 206;
        body = blob.subarray(Number(range[1]));
        headers['content-range'] = `bytes ${range[1]}-${blob.length - 1}/${blob.length}`;
      }
      const cut = fake.cutNextBlobGetAfter;
      if (cut !== undefined) {
        fake.cutNextBlobGetAfter = undefined;
        entry.status = status;
        res.writeHead(status, { 'content-length': String(body.length), ...headers });
        res.write(body.subarray(0, cut), () => res.socket?.destroy());
        return;
      }
      return send(status, headers, body);
    }
    const referrersPath = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (referrersPath && req.method === 'GET') {
      if (!fake.referrersApi) return send(404);
      const all = referrers.get(referrersPath[2]!) ?? [];
      const from = Number(url.searchParams.get('page') ?? 0);
      const manifests = all.slice(from, from + Math.max(fake.referrersPageSize ?? all.length, 1));
      const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests };
      const more = from + manifests.length < all.length;
      const link: Record<string, string> = more
        ? { link: `<${path}?page=${from + manifests.length}>; rel="next"` }
        : {};
      return send(200, { 'content-type': OCI_INDEX, ...link }, Buffer.from(JSON.stringify(index)));
    }
    const manifestPath = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (manifestPath) {
      if (req.method === 'PUT') {
        const parts: Buffer[] = [];
        for await (const chunk of req) parts.push(chunk as Buffer);
        const body = Buffer.concat(parts);
        const type = String(req.headers['content-type']);
        const digest = fake.putManifest(manifestPath[2]!, type, body);
        const subject = fake.referrersApi ? indexReferrer(referrers, type, body, digest) : undefined;
        return send(201, { 'docker-content-digest': digest, ...(subject && { 'oci-subject': subject }) });
      }
      const man = manifests.get(manifestPath[2]!);
      if (!man) return send(404);
      const digest = `sha256:${createHash('sha256').update(man.body).digest('hex')}`;
      // node sends no body for HEAD
      return send(200, { 'content-type': man.type, 'docker-content-digest': digest }, man.body);
    }
    send(404);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.socket?.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** Lists a manifest with a subject under that subject, as the referrers API answers; its subject digest. */
function indexReferrer(
  referrers: Map<string, object[]>,
  type: string,
  body: Buffer,
  digest: string,
): string | undefined {
  const m = JSON.parse(body.toString()) as {
    subject?: { digest: string };
    artifactType?: string;
    config?: { mediaType: string };
    annotations?: Record<string, string>;
  };
  if (m.subject === undefined) return undefined;
  const list = referrers.get(m.subject.digest) ?? [];
  if (!list.some((d) => (d as { digest: string }).digest === digest)) {
    const artifactType = m.artifactType ?? m.config?.mediaType;
    list.push({ mediaType: type, digest, size: body.length, artifactType, annotations: m.annotations });
  }
  referrers.set(m.subject.digest, list);
  return m.subject.digest;
}
