/**
 * HTTP for apt repositories: GET with retries (5xx, connection resets) and downloads verified
 * straight into the content-addressed store. Library code: never prints.
 */
import { Readable } from 'node:stream';
import { DistillError, isDistillError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { Store } from '../../store/store.js';

export interface HttpContext {
  fetchImpl: typeof fetch;
  /** Attempts after the first one; default 3. */
  retries: number;
  /** First backoff delay, doubled each retry; default 300 ms. */
  retryDelayMs: number;
  onProgress?: ((e: { what: string; done: number; total?: number }) => void) | undefined;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** The errno-style code of an error or of its cause chain (fetch wraps them in TypeError). */
function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(err: unknown): string {
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${msg}${cause}${code ? ` (${code})` : ''}`;
}

/** What to tell the user when a download fails: for a 404 or 410, and for anything else. */
export interface Hints {
  notFound: string;
  failed: string;
}

function networkError(url: string, err: unknown, hint: string): DistillError {
  return new DistillError('NETWORK', `could not download ${url}: ${describe(err)}; ${hint}`, { cause: err });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * GET with retries. Resolves with a 2xx response (body unread). 404/410 is NOT_FOUND naming the
 * URL; other 4xx is HTTP; 5xx and connection failures are retried, then HTTP / NETWORK.
 */
export async function httpGet(ctx: HttpContext, url: string, hints: Hints): Promise<Response> {
  let last: DistillError | undefined;
  for (let attempt = 0; attempt <= ctx.retries; attempt++) {
    if (attempt > 0) await sleep(ctx.retryDelayMs * 2 ** (attempt - 1));
    let res: Response;
    try {
      res = await ctx.fetchImpl(url, { redirect: 'follow' });
    } catch (err) {
      last = networkError(url, err, hints.failed);
      const code = errorCode(err);
      // fetch() reports every connection failure as TypeError("fetch failed"); retry those.
      if (code === undefined || TRANSIENT_CODES.has(code) || err instanceof TypeError) continue;
      throw last;
    }
    if (res.ok) return res;
    await res.body?.cancel().catch(() => {});
    if (res.status === 404 || res.status === 410) {
      throw new DistillError('NOT_FOUND', `${url} answered ${res.status} Not Found: ${hints.notFound}`);
    }
    const status = `${res.status} ${res.statusText}`.trimEnd();
    const err = new DistillError('HTTP', `${url} answered ${status}; ${hints.failed}`);
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      last = err;
      continue;
    }
    throw err;
  }
  throw last ?? new DistillError('NETWORK', `could not download ${url}`);
}

/** GET a small text document (InRelease). */
export async function httpGetText(ctx: HttpContext, url: string, hints: Hints): Promise<string> {
  let last: unknown;
  for (let attempt = 0; attempt <= ctx.retries; attempt++) {
    if (attempt > 0) await sleep(ctx.retryDelayMs * 2 ** (attempt - 1));
    const res = await httpGet(ctx, url, hints);
    try {
      return await res.text();
    } catch (err) {
      last = networkError(url, err, hints.failed);
    }
  }
  throw last;
}

/** Body chunks with stream failures turned into NETWORK errors (so they can be retried). */
async function* bodyChunks(res: Response, url: string, hint: string): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
  } catch (err) {
    throw networkError(url, err, hint);
  }
}

/**
 * Downloads `urls[0]` (or, when it is 404, the next one) into the store, verified against the
 * expected digest and size by `Store.put` (nothing is kept when they differ). Connection
 * failures mid-body are retried. Digest or size mismatches are thrown as they come
 * (DIGEST_MISMATCH / SIZE_MISMATCH) for the caller to name.
 */
export async function downloadToStore(
  ctx: HttpContext,
  store: Store,
  urls: readonly string[],
  expected: { digest: Digest; size: number },
  what: string,
  hints: Hints,
): Promise<{ digest: Digest; size: number; url: string }> {
  let last: unknown;
  for (let attempt = 0; attempt <= ctx.retries; attempt++) {
    if (attempt > 0) await sleep(ctx.retryDelayMs * 2 ** (attempt - 1));
    let res: Response | undefined;
    let url = '';
    for (let i = 0; i < urls.length; i++) {
      url = urls[i]!;
      try {
        res = await httpGet(ctx, url, hints);
        break;
      } catch (err) {
        if (isDistillError(err, 'NOT_FOUND') && i < urls.length - 1) continue;
        throw err;
      }
    }
    if (!res) throw new DistillError('NOT_FOUND', `${what}: no URL to download from`);
    const onProgress = ctx.onProgress;
    ctx.onProgress?.({ what, done: 0, total: expected.size });
    try {
      const stored = await store.put(Readable.from(bodyChunks(res, url, hints.failed)), expected, {
        what: `${what} (${url})`,
        ...(onProgress && { onProgress: (done: number) => onProgress({ what, done, total: expected.size }) }),
      });
      return { ...stored, url };
    } catch (err) {
      if (isDistillError(err, 'NETWORK')) {
        last = err;
        continue;
      }
      throw err;
    }
  }
  throw last;
}
