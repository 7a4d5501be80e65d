import type { ReadErrors } from './read-errors.js';

/**
 * An input read at positions (a file), which a TarReader skips over without reading: indexing an
 * archive of big blobs then reads its headers only.
 */
export interface PositionalSource {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `buffer`; how many it read. */
  read(buffer: Buffer, position: number, length: number): Promise<number>;
}

/** Chunks of a PositionalSource, and skips that move the position without reading. */
class PositionalChunks implements AsyncIterator<Buffer> {
  private pos = 0;
  private static readonly CHUNK = 64 * 1024;

  constructor(private readonly src: PositionalSource) {}

  async next(): Promise<IteratorResult<Buffer>> {
    const n = Math.min(PositionalChunks.CHUNK, this.src.size - this.pos);
    if (n <= 0) return { done: true, value: undefined };
    const buf = Buffer.allocUnsafe(n);
    const got = await this.src.read(buf, this.pos, n);
    if (!(got > 0)) return { done: true, value: undefined };
    this.pos += got;
    return { done: false, value: got === n ? buf : buf.subarray(0, got) };
  }

  /** Moves `n` bytes on; false when the input ends first (the position is then its end). */
  skip(n: number): boolean {
    const left = this.src.size - this.pos;
    this.pos += Math.min(n, left);
    return n <= left;
  }
}

function isPositional(s: AsyncIterable<unknown> | PositionalSource): s is PositionalSource {
  return (
    typeof (s as PositionalSource).read === 'function' && typeof (s as PositionalSource).size === 'number'
  );
}

/**
 * The input of a TarReader: chunks as they come, buffered in a queue and taken without copying
 * where they can be. The reader's hot paths (nextBuffered, peek) use the fields directly.
 */
export class TarInput {
  private readonly source: AsyncIterator<unknown>;
  private readonly seeker: PositionalChunks | undefined;
  protected readonly queue: Buffer[] = [];
  /** For each buffer of the queue, its memory as 32-bit words (see tar-header.ts checksum). */
  protected readonly words: Uint32Array[] = [];
  /** Offset into queue[0]. */
  protected off = 0;
  protected buffered = 0;
  /** Bytes taken from the input so far (read or skipped over): position = filled - buffered. */
  protected filled = 0;
  private ended = false;

  constructor(
    source: AsyncIterable<unknown> | PositionalSource,
    protected readonly errors: ReadErrors,
  ) {
    if (isPositional(source)) {
      this.seeker = new PositionalChunks(source);
      this.source = this.seeker;
    } else {
      this.seeker = undefined;
      this.source = source[Symbol.asyncIterator]();
    }
  }

  /** Offset in the tar of the next byte to be read: right after next(), where the entry's content starts. */
  get position(): number {
    return this.filled - this.buffered;
  }

  /** Takes one more chunk from the source; false at its end. */
  protected async fill(): Promise<boolean> {
    if (this.ended) return false;
    let r: IteratorResult<unknown>;
    try {
      r = await this.source.next();
    } catch (err) {
      throw this.errors.wrap(err);
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    const v = r.value;
    const c = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array);
    if (c.length > 0) {
      this.queue.push(c);
      this.words.push(new Uint32Array(c.buffer, 0, c.buffer.byteLength >>> 2));
      this.buffered += c.length;
      this.filled += c.length;
    }
    return true;
  }

  /** Up to `max` bytes from the buffered input, without copying. */
  protected takeSome(max: number): Buffer {
    const first = this.queue[0]!;
    const avail = first.length - this.off;
    if (max >= avail) {
      const out = this.off === 0 ? first : first.subarray(this.off);
      this.queue.shift();
      this.words.shift();
      this.off = 0;
      this.buffered -= avail;
      return out;
    }
    const out = first.subarray(this.off, this.off + max);
    this.off += max;
    this.buffered -= max;
    return out;
  }

  /** Drops up to `max` buffered bytes (some must be buffered), making no view of them; how many. */
  protected dropSome(max: number): number {
    const avail = this.queue[0]!.length - this.off;
    if (max >= avail) {
      this.queue.shift();
      this.words.shift();
      this.off = 0;
      this.buffered -= avail;
      return avail;
    }
    this.off += max;
    this.buffered -= max;
    return max;
  }

  /** `n` bytes of queue[0] (all of them there) have been used. */
  protected consumed(n: number): void {
    this.off += n;
    this.buffered -= n;
    if (this.off === this.queue[0]!.length) {
      this.queue.shift();
      this.words.shift();
      this.off = 0;
    }
  }

  /** Exactly `n` buffered bytes (copied only when they span chunks). */
  protected take(n: number): Buffer {
    const first = this.takeSome(n);
    if (first.length === n) return first;
    const parts = [first];
    let got = first.length;
    while (got < n) {
      const p = this.takeSome(n - got);
      parts.push(p);
      got += p.length;
    }
    return Buffer.concat(parts, n);
  }

  /** Waits until `n` bytes are buffered; false when the input ends first. */
  protected async want(n: number): Promise<boolean> {
    while (this.buffered < n) if (!(await this.fill())) return false;
    return true;
  }

  /** Skips `n` bytes (seeking over what is not buffered when it can). */
  protected async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered > 0) left -= this.dropSome(left);
      else if (this.seeker !== undefined && !this.ended) {
        const end = this.position + left;
        this.filled += left;
        if (!this.seeker.skip(left)) throw this.truncated(`what runs to byte ${end}`);
        left = 0;
      } else if (!(await this.fill())) throw this.truncated(`what runs to byte ${this.position + left}`);
    }
  }

  protected truncated(what: string): Error {
    return this.errors.truncated(`it ends inside ${what}`);
  }
}
