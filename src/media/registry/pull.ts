import { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';
import { type Digest, digestOf, isDigest } from '../../oci/digest.js';
import { type Artifact, loadManifest } from '../../oci/image.js';
import { isImageManifest, isIndex, MediaType } from '../../oci/mediatypes.js';
import type { Descriptor } from '../../oci/types.js';
import { parseJsonDocument, sniffManifestKind } from '../../oci/validate.js';
import { VerifyStream, verifyBytes } from '../../oci/verify.js';
import { formatDockerReference } from '../../ref/docker.js';
import { joined } from '../streams.js';
import { drain } from './client.js';
import type { RepositoryContext } from './context.js';
import { readLimited } from './http.js';
import { backoffMs, isRetryableNetworkError, sleep } from './retry.js';

/** Every manifest type distill reads, so the registry never down-converts to schema 1. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(', ');

export interface RawManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

function manifestUrl(ctx: RepositoryContext, reference: string): string {
  return `/v2/${ctx.repository}/manifests/${reference}`;
}

function contentType(res: Response): string | undefined {
  const v = res.headers.get('content-type');
  return v ? v.split(';')[0]!.trim() : undefined;
}

function unknownManifest(ctx: RepositoryContext, reference: string): DistillError {
  const name = `${ctx.registry}/${ctx.repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  return new DistillError(
    'MANIFEST_UNKNOWN',
    `registry ${ctx.registry} has no image ${name}; check the repository name and the ${isDigest(reference) ? 'digest' : 'tag'}`,
  );
}

/**
 * GETs a manifest by tag or digest and keeps its raw bytes. The digest is always computed from
 * the bytes; when pulling by digest (or with an expected descriptor) the bytes must match it.
 */
export async function fetchManifest(
  ctx: RepositoryContext,
  reference: string,
  expected?: Pick<Descriptor, 'digest' | 'size'>,
): Promise<RawManifest> {
  const what = `pulling manifest ${ctx.registry}/${ctx.repository}${isDigest(reference) ? '@' : ':'}${reference}`;
  const res = await ctx.client.request({
    method: 'GET',
    url: manifestUrl(ctx, reference),
    headers: { accept: MANIFEST_ACCEPT },
    scopes: ctx.scopes,
    what,
  });
  if (res.status === 404) {
    await drain(res);
    throw unknownManifest(ctx, reference);
  }
  if (res.status !== 200) throw await ctx.client.responseError(res, what);
  // An index may be bigger than an image manifest (oci/limits.ts): bounded by the larger cap here,
  // by its own kind's when it is parsed.
  const bytes = await readLimited(res, isImageManifest(contentType(res)) ? 'manifest' : 'index', what);
  const digest = digestOf(bytes);
  if (expected) verifyBytes(bytes, expected, what);
  else if (isDigest(reference)) verifyBytes(bytes, { digest: reference }, what);
  else {
    const claimed = res.headers.get('docker-content-digest');
    if (claimed?.startsWith('sha256:') && claimed !== digest) {
      throw new DistillError(
        'DIGEST_MISMATCH',
        `${what}: the registry says the manifest is ${claimed} but its bytes hash to ${digest}`,
      );
    }
  }
  let mediaType = contentType(res);
  if (!isImageManifest(mediaType) && !isIndex(mediaType)) {
    const doc = parseJsonDocument(bytes, what, 'index') as { mediaType?: unknown };
    const kind = sniffManifestKind(doc);
    if (typeof doc.mediaType === 'string' && (isImageManifest(doc.mediaType) || isIndex(doc.mediaType))) {
      mediaType = doc.mediaType;
    } else if (kind === 'image') mediaType = MediaType.OciManifest;
    else if (kind === 'index') mediaType = MediaType.OciIndex;
    else {
      throw new DistillError(
        'MEDIA_TYPE_UNSUPPORTED',
        `${what}: the registry sent ${mediaType ?? 'no media type'}, which is neither an image manifest nor an index`,
      );
    }
  }
  return { bytes, mediaType: mediaType!, digest };
}

/** Turns a fetched manifest into the image model; children and layers load lazily. */
export function loadArtifact(ctx: RepositoryContext, raw: RawManifest): Promise<Artifact> {
  return loadManifest(raw.bytes, raw.mediaType, raw.digest, {
    where: `${ctx.registry}/${ctx.repository}`,
    readConfig: async (cd) => readStream(await openBlob(ctx, cd, 'config')),
    openLayer: (d) => openBlob(ctx, d, 'layer'),
    child: async (d) => loadArtifact(ctx, await fetchManifest(ctx, d.digest, d)),
  });
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** GETs a blob (from `offset` with a Range request), following redirects. */
async function requestBlob(
  ctx: RepositoryContext,
  d: Descriptor,
  offset: number,
  what: string,
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (offset > 0) headers.range = `bytes=${offset}-`;
  const res = await ctx.client.request({
    method: 'GET',
    url: `/v2/${ctx.repository}/blobs/${d.digest}`,
    headers,
    scopes: ctx.scopes,
    what,
  });
  if (res.status === 200 || res.status === 206) return res;
  if (res.status === 404) {
    await drain(res);
    throw new DistillError(
      'BLOB_MISSING',
      `registry ${ctx.registry} has no blob ${d.digest} in ${ctx.repository}, though a manifest names it; the image there is incomplete, push it again`,
    );
  }
  throw await ctx.client.responseError(res, what);
}

/**
 * Opens a blob as a stream verified against its descriptor. The first request happens here,
 * so a missing blob rejects the promise. When the connection drops mid-blob, the rest is asked
 * for with `Range: bytes=N-`; a registry that answers 200 instead of 206 sends it all again and
 * the bytes already delivered are skipped. At most `retries` resumptions.
 */
export async function openBlob(ctx: RepositoryContext, d: Descriptor, kind: string): Promise<Readable> {
  const what = `pulling ${kind} ${d.digest} from ${ctx.registry}/${ctx.repository}`;
  const first = await requestBlob(ctx, d, 0, what);
  const source = Readable.from(blobChunks(ctx, d, first, what), { objectMode: false });
  return joined(source, new VerifyStream(d, `${kind} ${d.digest} from ${ctx.registry}/${ctx.repository}`));
}

async function* blobChunks(
  ctx: RepositoryContext,
  d: Descriptor,
  first: Response,
  what: string,
): AsyncGenerator<Buffer> {
  let res = first;
  let received = 0;
  let skip = 0;
  let failures = 0;
  for (;;) {
    let cause: unknown;
    try {
      if (res.body) {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          received += c.length;
          ctx.onProgress?.({ digest: d.digest, done: received, total: d.size, phase: 'pull' });
          yield c;
        }
      }
      // A clean end: done, unless the server stopped short of the size the descriptor names
      // (more or different bytes are the verifier's business).
      if (skip === 0 && received >= d.size) return;
      cause = new Error(`the registry ended the blob after ${received} of ${d.size} bytes`);
    } catch (err) {
      if (!isRetryableNetworkError(err)) throw ctx.client.networkError(err, what, failures + 1);
      cause = err;
    }
    if (++failures > ctx.client.retries) throw ctx.client.networkError(cause, what, failures);
    await sleep(backoffMs(failures - 1));
    res = await requestBlob(ctx, d, received, what);
    skip = 0;
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
      const from = start ? Number(start[1]) : received;
      if (from > received) {
        await drain(res);
        throw new DistillError(
          'REGISTRY',
          `${what}: asked to resume at byte ${received}, the registry sent from ${from}`,
        );
      }
      skip = received - from;
    } else {
      skip = received;
    }
  }
}

/** HEADs a manifest for its digest, media type and size (GETs it when the registry does not say). */
export async function resolveManifest(
  ctx: RepositoryContext,
  reference: string,
): Promise<{ digest: Digest; mediaType: string; size: number }> {
  const what = `resolving ${formatDockerReference({ registry: ctx.registry, repository: ctx.repository })}${isDigest(reference) ? '@' : ':'}${reference}`;
  const res = await ctx.client.request({
    method: 'HEAD',
    url: manifestUrl(ctx, reference),
    headers: { accept: MANIFEST_ACCEPT },
    scopes: ctx.scopes,
    what,
  });
  await drain(res);
  if (res.status === 404) throw unknownManifest(ctx, reference);
  if (res.status !== 200) throw await ctx.client.responseError(res, what);
  const digest = res.headers.get('docker-content-digest') ?? (isDigest(reference) ? reference : undefined);
  const length = res.headers.get('content-length');
  const mediaType = contentType(res);
  if (
    digest &&
    isDigest(digest) &&
    length &&
    /^\d+$/.test(length) &&
    (isImageManifest(mediaType) || isIndex(mediaType))
  ) {
    return { digest, mediaType: mediaType!, size: Number(length) };
  }
  const raw = await fetchManifest(ctx, reference);
  return { digest: raw.digest, mediaType: raw.mediaType, size: raw.bytes.length };
}
