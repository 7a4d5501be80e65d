import { DistillError } from '../../errors.js';

/** Retry policy shared by every registry request: what is worth retrying and how long to wait. */

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/**
 * True for a dropped connection: undici reports them as `TypeError: fetch failed` or
 * `terminated` with the socket error as `cause`, so the whole cause chain is searched.
 */
export function isRetryableNetworkError(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e !== null && typeof e === 'object'; depth++) {
    // distill's own errors are final, except NETWORK, whose cause says what the socket did
    if (e instanceof DistillError && e.code !== 'NETWORK') return false;
    const x = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof x.code === 'string' && RETRYABLE_CODES.has(x.code)) return true;
    if (typeof x.message === 'string' && /socket hang up|other side closed|^terminated$/i.test(x.message))
      return true;
    e = x.cause;
  }
  return false;
}

/** The deepest message of an error chain, which names what actually happened on the socket. */
export function networkReason(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e !== null && typeof e === 'object'; depth++) {
    const x = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof x.message === 'string' && x.message !== 'fetch failed') parts.push(x.message);
    if (typeof x.code === 'string' && !parts.some((p) => p.includes(x.code as string))) parts.push(x.code);
    e = x.cause;
  }
  return parts.length > 0 ? parts.join(': ') : String(err);
}

/** Exponential backoff with full jitter: attempt 0 waits up to 250 ms, capped at 8 s. */
export function backoffMs(attempt: number, baseMs = 250, capMs = 8000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Retry-After in milliseconds (seconds or an HTTP date), capped at a minute; undefined if absent. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const s = header.trim();
  let ms: number;
  if (/^\d+$/.test(s)) ms = Number(s) * 1000;
  else {
    const t = Date.parse(s);
    if (Number.isNaN(t)) return undefined;
    ms = t - now;
  }
  return Math.max(0, Math.min(ms, 60_000));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
