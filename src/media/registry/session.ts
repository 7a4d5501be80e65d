import { DistillError } from '../../errors.js';
import type { Descriptor } from '../../oci/types.js';
import { drain, type StreamBody } from './client.js';
import type { RepositoryContext } from './context.js';
import { isRetryableNetworkError, isRetryableStatus } from './retry.js';

/**
 * The upload session of the distribution spec, one request at a time: whether a blob is there,
 * `POST` to start (or mount), one `PATCH`, the session's status, `PUT ?digest=` to commit. How a
 * blob's bytes are cut into these requests is upload.ts's business.
 */

/** Signals that the upload session is lost and the blob must be uploaded again from its start. */
export class RestartUpload extends Error {
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

/**
 * Opens an upload session: `POST /blobs/uploads/`, or with `mountFrom` a cross-repository
 * mount, which the registry answers 201 (mounted, nothing to send) or 202 (upload it).
 */
export async function startUpload(
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

export function uploadLocation(ctx: RepositoryContext, res: Response, base: URL, what: string): URL {
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

/**
 * Finishes an upload with `PUT ?digest=`. When the connection breaks, the registry may or may
 * not have committed the blob: a HEAD tells; if it is not there the upload starts over.
 */
export async function commitUpload(
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

/**
 * One PATCH of an upload, classified: 202 gives the next location; 404 or 416 mean the session
 * is lost (the blob starts over); 429, 5xx and broken connections are a failure the caller
 * may retry after asking the session how much it kept; anything else is thrown. A DistillError
 * from the source stream (a digest or size mismatch) is thrown as it is.
 */
export async function patchOnce(
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

/** How many bytes an upload session holds (`GET` its location: 204 with `Range: 0-N`). */
export async function uploadStatus(
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
