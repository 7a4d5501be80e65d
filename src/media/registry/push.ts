import { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';
import { type Digest, Digester, digestAlgorithm } from '../../oci/digest.js';
import { type Artifact, imageBlobs, type RawJson } from '../../oci/image.js';
import type { Descriptor } from '../../oci/types.js';
import { drain, type StreamBody } from './client.js';
import type { RepositoryContext } from './context.js';
import { forEachLimited } from './pool.js';
import { backoffMs, isRetryableNetworkError, isRetryableStatus, sleep } from './retry.js';

export interface PushSettings {
  concurrency: number;
  /** 0: a big blob goes up in one streamed PATCH; otherwise in PATCH chunks of this size. */
  chunkSize: number;
  monolithicMax: number;
  /** A repository on the same registry to mount blobs from instead of uploading them. */
  mountFrom?: string | undefined;
}

interface BlobSource {
  descriptor: Descriptor;
  open(): Promise<Readable>;
}

interface PushPlan {
  blobs: BlobSource[];
  /** Manifests in push order: every child before the index that names it; the root last. */
  manifests: RawJson<unknown>[];
}

/** Walks an artifact (an index's children recursively) for its blobs and manifests, each once. */
export async function planPush(artifact: Artifact): Promise<PushPlan> {
  const blobs = new Map<string, BlobSource>();
  const manifests: RawJson<unknown>[] = [];
  const seen = new Set<string>();
  const visit = async (a: Artifact): Promise<void> => {
    if (seen.has(a.manifest.digest)) return;
    seen.add(a.manifest.digest);
    if (a.kind === 'index') {
      for (const d of a.manifest.value.manifests) await visit(await a.child(d));
    } else {
      const layers = new Map(a.layers.map((l) => [l.descriptor.digest as string, l]));
      const config = a.config;
      for (const d of imageBlobs(a)) {
        if (blobs.has(d.digest)) continue;
        const layer = layers.get(d.digest);
        if (d.digest === a.manifest.value.config.digest) {
          blobs.set(d.digest, { descriptor: d, open: async () => Readable.from([config.bytes]) });
        } else if (layer) {
          blobs.set(d.digest, { descriptor: d, open: () => layer.open() });
        }
      }
    }
    manifests.push(a.manifest);
  };
  await visit(artifact);
  return { blobs: [...blobs.values()], manifests };
}

/** Pushes every blob (bounded concurrency), then the manifests, the root under `reference`. */
export async function pushArtifact(
  ctx: RepositoryContext,
  artifact: Artifact,
  reference: string,
  settings: PushSettings,
): Promise<Digest> {
  const plan = await planPush(artifact);
  await forEachLimited(plan.blobs, settings.concurrency, (b) => pushBlob(ctx, b, settings));
  const root = plan.manifests[plan.manifests.length - 1]!;
  for (const m of plan.manifests) await putManifest(ctx, m, m === root ? reference : m.digest);
  return root.digest;
}

/** Signals that the upload session is lost and the blob must be uploaded again from its start. */
class RestartUpload extends Error {
  constructor(readonly reason: DistillError) {
    super(reason.message, { cause: reason });
  }
}

function blobsUrl(ctx: RepositoryContext, digest: string): string {
  return `/v2/${ctx.repository}/blobs/${digest}`;
}

export async function blobExists(ctx: RepositoryContext, d: Descriptor): Promise<boolean> {
  const what = `checking for blob ${d.digest} in ${ctx.registry}/${ctx.repository}`;
  const res = await ctx.client.request({
    method: 'HEAD',
    url: blobsUrl(ctx, d.digest),
    scopes: ctx.scopes,
    what,
  });
  await drain(res);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw await ctx.client.responseError(res, what);
}

async function pushBlob(ctx: RepositoryContext, blob: BlobSource, settings: PushSettings): Promise<void> {
  const d = blob.descriptor;
  if (await blobExists(ctx, d)) {
    ctx.onProgress?.({ digest: d.digest, done: d.size, total: d.size, phase: 'skip' });
    return;
  }
  let small: Buffer | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      let location: URL | 'mounted';
      if (settings.mountFrom !== undefined && attempt === 0)
        location = await startUpload(ctx, d, settings.mountFrom);
      else location = await startUpload(ctx, d);
      if (location === 'mounted') {
        ctx.onProgress?.({ digest: d.digest, done: d.size, total: d.size, phase: 'mount' });
        return;
      }
      if (d.size <= settings.monolithicMax) {
        small ??= await readBlobSource(blob, `blob ${d.digest}`);
        await uploadMonolithic(ctx, d, small, location);
      } else if (settings.chunkSize > 0) {
        await uploadChunked(ctx, blob, location, settings.chunkSize);
      } else {
        await uploadStreamed(ctx, blob, location);
      }
      return;
    } catch (err) {
      if (!(err instanceof RestartUpload)) throw err;
      if (attempt >= ctx.client.retries) {
        throw new DistillError(
          err.reason.code,
          `${err.reason.message}; gave up after ${attempt + 1} attempts`,
          {
            cause: err.reason,
          },
        );
      }
      await sleep(backoffMs(attempt));
    }
  }
}

/**
 * Opens an upload session: `POST /blobs/uploads/`, or with `mountFrom` a cross-repository
 * mount, which the registry answers 201 (mounted, nothing to send) or 202 (upload it).
 */
async function startUpload(
  ctx: RepositoryContext,
  d: Descriptor,
  mountFrom?: string,
): Promise<URL | 'mounted'> {
  let url = `/v2/${ctx.repository}/blobs/uploads/`;
  if (mountFrom !== undefined) {
    url += `?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(mountFrom)}`;
  }
  const what = `${mountFrom !== undefined ? `mounting blob ${d.digest} from ${mountFrom}` : `starting the upload of blob ${d.digest}`} to ${ctx.registry}/${ctx.repository}`;
  const res = await ctx.client.request({ method: 'POST', url, scopes: ctx.scopes, what });
  if (res.status === 201 && mountFrom !== undefined) {
    await drain(res);
    return 'mounted';
  }
  if (res.status !== 202) throw await ctx.client.responseError(res, what);
  await drain(res);
  return uploadLocation(ctx, res, new URL(url, ctx.client.baseUrl), what);
}

function uploadLocation(ctx: RepositoryContext, res: Response, base: URL, what: string): URL {
  const location = res.headers.get('location');
  if (!location)
    throw new DistillError('REGISTRY', `registry ${ctx.registry} sent no upload location while ${what}`);
  return ctx.client.resolve(location, base);
}

function withDigest(location: URL, digest: string): URL {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u;
}

/** Reads a small blob into memory, checking it against its descriptor before it is sent. */
async function readBlobSource(blob: BlobSource, what: string): Promise<Buffer> {
  const d = blob.descriptor;
  const stream = await blob.open();
  const digester = new Digester(digestAlgorithm(d.digest));
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) {
      const c = chunk as Buffer;
      digester.update(c);
      if (digester.size > d.size) break;
      chunks.push(c);
    }
  } finally {
    stream.destroy();
  }
  checkSource(digester, d, what);
  return Buffer.concat(chunks, d.size);
}

function checkSource(digester: Digester, d: Descriptor, what: string): void {
  if (digester.size !== d.size) {
    throw new DistillError(
      'SIZE_MISMATCH',
      `${what}: the source gave ${digester.size > d.size ? 'more than' : 'only'} ${digester.size} bytes, its descriptor declares ${d.size}; refusing to push it`,
    );
  }
  const actual = digester.digest();
  if (actual !== d.digest) {
    throw new DistillError(
      'DIGEST_MISMATCH',
      `${what}: the source's bytes hash to ${actual}, not the digest its descriptor declares; refusing to push it`,
    );
  }
}

/**
 * Finishes an upload with `PUT ?digest=`. When the connection breaks, the registry may or may
 * not have committed the blob: a HEAD tells; if it is not there the upload starts over.
 */
async function commitUpload(
  ctx: RepositoryContext,
  d: Descriptor,
  location: URL,
  body?: Buffer,
): Promise<void> {
  const what = `uploading blob ${d.digest} to ${ctx.registry}/${ctx.repository}`;
  let res: Response;
  try {
    const req = {
      method: 'PUT',
      url: withDigest(location, d.digest),
      headers: { 'content-type': 'application/octet-stream' },
      scopes: ctx.scopes,
      what,
      retry: false,
    };
    res = await ctx.client.request(body === undefined ? req : { ...req, body });
  } catch (err) {
    if (!isRetryableNetworkError(err)) throw err;
    if (await blobExists(ctx, d)) return;
    throw new RestartUpload(ctx.client.networkError(err, what, 1));
  }
  if (res.status === 201 || res.status === 204) {
    await drain(res);
    return;
  }
  if (isRetryableStatus(res.status) || res.status === 404)
    throw new RestartUpload(await ctx.client.responseError(res, what));
  throw await ctx.client.responseError(res, what);
}

async function uploadMonolithic(
  ctx: RepositoryContext,
  d: Descriptor,
  bytes: Buffer,
  location: URL,
): Promise<void> {
  ctx.onProgress?.({ digest: d.digest, done: 0, total: d.size, phase: 'push' });
  await commitUpload(ctx, d, location, bytes);
  ctx.onProgress?.({ digest: d.digest, done: d.size, total: d.size, phase: 'push' });
}

/** Cuts a stream into buffers of exactly `size` bytes (the last one shorter); one in memory at a time. */
export async function* fixedChunks(stream: AsyncIterable<unknown>, size: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const chunk of stream) {
    let b = chunk as Buffer;
    while (b.length > 0) {
      const n = Math.min(size - filled, b.length);
      b.copy(buf, filled, 0, n);
      filled += n;
      b = b.subarray(n);
      if (filled === size) {
        yield buf;
        buf = Buffer.allocUnsafe(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buf.subarray(0, filled);
}

/**
 * One PATCH of an upload, classified: 202 gives the next location; 404 or 416 mean the session
 * is lost (the blob starts over); 429, 5xx and broken connections are a failure the caller
 * may retry after asking the session how much it kept; anything else is thrown. A DistillError
 * from the source stream (a digest or size mismatch) is thrown as it is.
 */
async function patchOnce(
  ctx: RepositoryContext,
  location: URL,
  headers: Record<string, string>,
  body: Uint8Array | StreamBody,
  what: string,
  attempt: number,
): Promise<{ location: URL } | { failure: DistillError }> {
  try {
    const res = await ctx.client.request({
      method: 'PATCH',
      url: location,
      headers: { 'content-type': 'application/octet-stream', ...headers },
      body,
      scopes: ctx.scopes,
      what,
      retry: false,
    });
    if (res.status === 202) {
      await drain(res);
      return { location: uploadLocation(ctx, res, location, what) };
    }
    if (res.status === 404 || res.status === 416) {
      throw new RestartUpload(await ctx.client.responseError(res, what));
    }
    if (!isRetryableStatus(res.status)) throw await ctx.client.responseError(res, what);
    return { failure: await ctx.client.responseError(res, what) };
  } catch (err) {
    if (err instanceof RestartUpload) throw err;
    if (err instanceof DistillError && err.code !== 'NETWORK') throw err;
    if (!(err instanceof DistillError) && !isRetryableNetworkError(err)) throw err;
    return { failure: err instanceof DistillError ? err : ctx.client.networkError(err, what, attempt) };
  }
}

/**
 * A chunked upload: `PATCH` with `Content-Range` per chunk, streamed from the source one chunk
 * at a time, then `PUT ?digest=`. When a PATCH fails, the upload's status (`GET` on its
 * location, `Range: 0-N`) says how much the registry kept, and the chunk goes on from there;
 * a lost or inconsistent session restarts the blob.
 */
async function uploadChunked(
  ctx: RepositoryContext,
  blob: BlobSource,
  start: URL,
  chunkSize: number,
): Promise<void> {
  const d = blob.descriptor;
  const what = `uploading blob ${d.digest} to ${ctx.registry}/${ctx.repository}`;
  const digester = new Digester(digestAlgorithm(d.digest));
  let location = start;
  let offset = 0;
  const stream = await blob.open();
  try {
    for await (const chunk of fixedChunks(stream, chunkSize)) {
      digester.update(chunk);
      if (digester.size > d.size) break;
      let sent = 0;
      let failures = 0;
      while (sent < chunk.length) {
        const from = offset + sent;
        const part = chunk.subarray(sent);
        const result = await patchOnce(
          ctx,
          location,
          { 'content-range': `${from}-${from + part.length - 1}` },
          part,
          what,
          failures + 1,
        );
        if ('location' in result) {
          location = result.location;
          sent = chunk.length;
          ctx.onProgress?.({ digest: d.digest, done: offset + sent, total: d.size, phase: 'push' });
          continue;
        }
        const failure = result.failure;
        if (++failures > ctx.client.retries) throw failure;
        await sleep(backoffMs(failures - 1));
        const status = await uploadStatus(ctx, location, what);
        if (status === undefined || status.offset < offset || status.offset > offset + chunk.length) {
          throw new RestartUpload(failure);
        }
        location = status.location;
        sent = status.offset - offset;
      }
      offset += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  checkSource(digester, d, `blob ${d.digest}`);
  await commitUpload(ctx, d, location);
}

/**
 * The source's bytes from `offset` on (a resumed upload reads from the start and skips what the
 * registry has), counted, with progress reported as they go. They are not hashed again here: a
 * Layer's `open()` is verified by its medium (the stream fails at its end on a mismatch, which
 * aborts the PATCH before any commit), and the registry checks the digest on `PUT ?digest=`.
 */
async function* tailOf(
  stream: Readable,
  offset: number,
  d: Descriptor,
  onBytes: (done: number) => void,
): AsyncGenerator<Uint8Array> {
  let pos = 0;
  try {
    for await (const chunk of stream) {
      const c = chunk as Buffer;
      const start = Math.max(0, offset - pos);
      pos += c.length;
      if (pos > d.size) break;
      if (start < c.length) {
        yield start === 0 ? c : c.subarray(start);
        onBytes(pos);
      }
    }
  } finally {
    stream.destroy();
  }
  if (pos !== d.size) {
    throw new DistillError(
      'SIZE_MISMATCH',
      `blob ${d.digest}: the source gave ${pos > d.size ? 'more than' : 'only'} ${pos} bytes, its descriptor declares ${d.size}; refusing to push it`,
    );
  }
}

/**
 * A streamed upload: the whole blob in one `PATCH`, read from the source as it is sent (one
 * pass, memory bounded by the socket's buffers), then `PUT ?digest=`. When the PATCH breaks, the
 * upload's status says how much the registry kept and the rest is sent from there; a lost
 * session restarts the blob.
 */
async function uploadStreamed(ctx: RepositoryContext, blob: BlobSource, start: URL): Promise<void> {
  const d = blob.descriptor;
  const what = `uploading blob ${d.digest} to ${ctx.registry}/${ctx.repository}`;
  let location = start;
  let offset = 0;
  let failures = 0;
  for (;;) {
    const from = offset;
    const result = await patchOnce(
      ctx,
      location,
      { 'content-range': `${from}-${d.size - 1}`, 'content-length': String(d.size - from) },
      {
        open: async () =>
          tailOf(await blob.open(), from, d, (done) =>
            ctx.onProgress?.({ digest: d.digest, done, total: d.size, phase: 'push' }),
          ),
      },
      what,
      failures + 1,
    );
    if ('location' in result) {
      await commitUpload(ctx, d, result.location);
      return;
    }
    const failure = result.failure;
    if (++failures > ctx.client.retries) throw failure;
    await sleep(backoffMs(failures - 1));
    const status = await uploadStatus(ctx, location, what);
    if (status === undefined || status.offset > d.size) throw new RestartUpload(failure);
    location = status.location;
    offset = status.offset;
  }
}

/** How many bytes an upload session holds (`GET` its location: 204 with `Range: 0-N`). */
async function uploadStatus(
  ctx: RepositoryContext,
  location: URL,
  what: string,
): Promise<{ offset: number; location: URL } | undefined> {
  let res: Response;
  try {
    res = await ctx.client.request({ method: 'GET', url: location, scopes: ctx.scopes, what });
  } catch (err) {
    if (err instanceof DistillError && err.code === 'NETWORK') return undefined;
    throw err;
  }
  await drain(res);
  if (res.status !== 204 && res.status !== 200) return undefined;
  const range = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range') ?? '');
  if (!range) return undefined;
  const end = Number(range[1]);
  // "0-0" means zero bytes to docker-registry (and one byte to the spec); a wrong guess only
  // costs a 416 and a restart.
  const offset = end === 0 ? 0 : end + 1;
  const next = res.headers.get('location');
  return { offset, location: next ? ctx.client.resolve(next, location) : location };
}

/** PUTs a manifest's raw bytes with its own media type, under a tag or its digest. */
async function putManifest(ctx: RepositoryContext, m: RawJson<unknown>, reference: string): Promise<void> {
  const what = `pushing manifest ${m.digest} to ${ctx.registry}/${ctx.repository}${reference === m.digest ? '' : `:${reference}`}`;
  const res = await ctx.client.request({
    method: 'PUT',
    url: `/v2/${ctx.repository}/manifests/${reference}`,
    headers: { 'content-type': m.mediaType },
    body: m.bytes,
    scopes: ctx.scopes,
    what,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 202)
    throw await ctx.client.responseError(res, what);
  await drain(res);
  const claimed = res.headers.get('docker-content-digest');
  if (
    claimed &&
    digestAlgorithm(m.digest) === 'sha256' &&
    claimed.startsWith('sha256:') &&
    claimed !== m.digest
  ) {
    throw new DistillError(
      'DIGEST_MISMATCH',
      `${what}: the registry stored it as ${claimed}; it must have changed the manifest's bytes`,
    );
  }
}
