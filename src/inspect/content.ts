/** Bounded reads of a file's content while its layer streams by. */
import type { Readable } from 'node:stream';
import type { InputEntry } from './merge.js';

/**
 * Feeds a stream's chunks to `onChunk` until it returns false or the stream ends, then lets go
 * of the stream (destroyed: the layer reader skips the rest). Event-based on purpose: breaking
 * out of `for await` waits for the stream to close, which costs ~100 µs per file.
 */
function consume(body: Readable, onChunk: (chunk: Buffer) => boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      body.off('data', onData);
      body.off('end', done);
      body.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      if (onChunk(chunk)) return;
      done();
      body.destroy();
    };
    body.on('data', onData);
    body.on('end', done);
    body.on('error', done);
  });
}

/**
 * Up to `max` bytes from the start of an entry's content, through its `head()` when it has one
 * (no stream made), else through `readCapped(open())`; the same bytes and flag either way.
 */
export function readHead(
  entry: Pick<InputEntry, 'open' | 'head'>,
  max: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  return entry.head ? entry.head(max) : readCapped(entry.open(), max);
}

/** Up to `max` bytes from the start of a stream; stops reading there (the rest is skipped). */
export async function readCapped(
  body: Readable,
  max: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let len = 0;
  let truncated = false;
  await consume(body, (c) => {
    if (len + c.length >= max) {
      chunks.push(c.subarray(0, max - len));
      len = max;
      truncated = true;
      return false;
    }
    chunks.push(c);
    len += c.length;
    return true;
  });
  return { bytes: Buffer.concat(chunks, len), truncated };
}

/**
 * Searches the first `max` bytes of a stream for `pattern` (no `g` flag) around each occurrence of
 * `anchor`, a plain string every match contains (found with Buffer.indexOf, so a 100 MB binary
 * scans quickly). `window` bytes either side of the anchor are matched, in latin1, across chunk
 * boundaries. Returns the first capture group of the first match, or undefined.
 */
export async function scanFor(
  body: Readable,
  anchor: string,
  pattern: RegExp,
  opts: { max: number; window: number },
): Promise<string | undefined> {
  let carry: Buffer = Buffer.alloc(0);
  let seen = 0;
  let found: string | undefined;
  await consume(body, (c) => {
    const take = Math.min(c.length, opts.max - seen);
    seen += take;
    const buf = carry.length > 0 ? Buffer.concat([carry, c.subarray(0, take)]) : c.subarray(0, take);
    for (let i = buf.indexOf(anchor, 0, 'latin1'); i >= 0; i = buf.indexOf(anchor, i + 1, 'latin1')) {
      const from = Math.max(0, i - opts.window);
      const m = pattern.exec(
        buf.toString('latin1', from, Math.min(buf.length, i + anchor.length + opts.window)),
      );
      if (m) {
        found = m[1] ?? m[0];
        return false;
      }
    }
    carry = Buffer.from(buf.subarray(Math.max(0, buf.length - opts.window - anchor.length)));
    return seen < opts.max;
  });
  return found;
}

/**
 * Lines of a UTF-8 text stream (split on `\n`, a trailing `\r` removed). A line longer than
 * `maxLine` is cut there and the rest of it skipped, so memory stays bounded.
 */
export async function* lines(body: Readable, maxLine: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let skipping = false;
  for await (const chunk of body) {
    pending += decoder.decode(chunk as Buffer, { stream: true });
    let start = 0;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
      if (!skipping) yield trimLine(pending.slice(start, nl), maxLine);
      skipping = false;
      start = nl + 1;
    }
    pending = pending.slice(start);
    if (pending.length > maxLine) {
      if (!skipping) yield trimLine(pending, maxLine);
      skipping = true;
      pending = '';
    }
  }
  pending += decoder.decode();
  if (pending !== '' && !skipping) yield trimLine(pending, maxLine);
}

function trimLine(line: string, max: number): string {
  const l = line.endsWith('\r') ? line.slice(0, -1) : line;
  return l.length > max ? l.slice(0, max) : l;
}
