import { Readable } from 'node:stream';
import { type ReadErrorOptions, ReadErrors } from './read-errors.js';
import {
  decodeHeader,
  decodePax,
  decodeStr,
  GNU_SPARSE,
  MAX_LONG_HEADER,
  padding,
  type RawHeader,
  sparseExtended,
  sparseExtensionContinues,
  TarFormatError,
  type TarHeader,
  toHeader,
} from './tar-header.js';
import { type PositionalSource, TarInput } from './tar-input.js';

export interface TarReaderOptions extends ReadErrorOptions {
  /**
   * End at the first block of zeros (the end-of-archive marker), reading nothing after it, as GNU
   * tar does; `endMarker` then tells whether the archive had one. By default zero blocks are
   * skipped and the input is read to its end, as tar-stream does.
   */
  stopAtEnd?: boolean;
}

/**
 * A pull parser of an uncompressed tar: `next()` gives the next header (the rest of the previous
 * entry skipped without being copied), `read()`/`head()`/`body()` the current entry's content.
 * It is the one tar reader of distill: layers (readLayer, inspect), archives (media/files.ts, over
 * a PositionalSource), .deb members (debian/deb.ts). There tar-stream's extract cost an emitted
 * event, a streamx stream and a Node stream per entry, whether or not its content was wanted
 * (measured on the bench/inspect image, 46,617 entries: 1.4 s of CPU over gunzip alone, 0.2 s with
 * this reader).
 *
 * Every step consumes at least one 512-byte block or ends the read, so it ends on every input; a
 * size, PAX record or long name that cannot be right is refused (see tar-header.ts). Errors are
 * DistillErrors: those of the input keep their code, the rest get the options' codes
 * (LAYER_INVALID by default).
 */
export class TarReader extends TarInput {
  private readonly stopAtEnd: boolean;
  private sawEnd = false;
  /** Unread bytes of the current entry's content, then its padding. */
  private remaining = 0;
  private pad = 0;
  /** Counts entries, so that a body stream knows when its entry has been left. */
  private serial = 0;
  private busy: Promise<unknown> | null = null;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private longPath: string | null = null;
  private longLink: string | null = null;
  /** Whether the header decodeNext() read last was an old GNU sparse one with extension blocks. */
  private lastSparseExtended = false;
  /** Told every piece of content read() takes (not what is skipped unread). */
  onContent: ((chunk: Buffer) => void) | undefined;

  constructor(source: AsyncIterable<unknown> | PositionalSource, opts: TarReaderOptions = {}) {
    super(source, new ReadErrors(opts));
    this.stopAtEnd = opts.stopAtEnd ?? false;
  }

  /** Whether a block of zeros (the end-of-archive marker) has been read. */
  get endMarker(): boolean {
    return this.sawEnd;
  }

  /** The next entry's header, or null at the end of the archive. */
  async next(): Promise<TarHeader | null> {
    if (this.busy) await this.busy.catch(() => {});
    this.serial++;
    const left = this.remaining + this.pad;
    this.remaining = 0;
    this.pad = 0;
    if (left > 0) await this.skip(left);
    for (;;) {
      if (this.sawEnd && this.stopAtEnd) return null;
      const at = this.position;
      if (this.buffered < 512 && !(await this.want(512))) {
        if (this.buffered === 0) return null;
        throw this.truncated(`the header at byte ${at}`);
      }
      const h = this.decodeNext(at);
      if (h === null) {
        this.sawEnd = true;
        continue;
      }
      if (h.type === GNU_SPARSE && this.lastSparseExtended) await this.skipSparseExtensions();
      switch (h.type) {
        case 'gnu-long-path':
        case 'gnu-long-link-path':
        case 'pax-global-header':
        case 'pax-header':
          await this.longHeader(h, at);
          continue;
      }
      return this.begin(h);
    }
  }

  /** Decodes and consumes the buffered header block at `at`; null for a block of zeros. */
  private decodeNext(at: number): RawHeader | null {
    const first = this.queue[0]!;
    try {
      let h: RawHeader | null;
      if (first.length - this.off >= 512) {
        // Decoded where it lies: no view made for the block.
        h = decodeHeader(first, this.off, at, this.words[0]);
        this.lastSparseExtended = h?.type === GNU_SPARSE && sparseExtended(first, this.off);
        this.consumed(512);
      } else {
        const b = this.take(512);
        h = decodeHeader(b, 0, at);
        this.lastSparseExtended = h?.type === GNU_SPARSE && sparseExtended(b, 0);
      }
      return h;
    } catch (err) {
      throw err instanceof TarFormatError ? this.errors.wrap(err) : err;
    }
  }

  /** The extension blocks of an old GNU sparse header: more of its map, each 512 bytes. */
  private async skipSparseExtensions(): Promise<void> {
    for (let more = true; more; ) {
      const at = this.position;
      if (!(await this.want(512))) throw this.truncated(`the sparse map at byte ${at}`);
      more = sparseExtensionContinues(this.take(512));
    }
  }

  /** A PAX header or GNU long name: its content read and kept for the entry it precedes. */
  private async longHeader(h: RawHeader, at: number): Promise<void> {
    if (h.size > MAX_LONG_HEADER) {
      throw this.errors.corrupt(
        `the ${h.type} at byte ${at} is ${h.size} bytes, over the limit of ${MAX_LONG_HEADER}`,
      );
    }
    // tar-stream reads a long header only when it has content; an empty one is ignored.
    if (h.size === 0) return;
    if (!(await this.want(h.size))) throw this.truncated(`the ${h.type} at byte ${at}`);
    const buf = this.take(h.size);
    try {
      if (h.type === 'gnu-long-path') this.longPath = decodeStr(buf, 0, buf.length);
      else if (h.type === 'gnu-long-link-path') this.longLink = decodeStr(buf, 0, buf.length);
      else if (h.type === 'pax-global-header') this.paxGlobal = decodePax(buf, at);
      else
        this.pax =
          this.paxGlobal === null ? decodePax(buf, at) : { ...this.paxGlobal, ...decodePax(buf, at) };
    } catch (err) {
      throw err instanceof TarFormatError ? this.errors.wrap(err) : err;
    }
    await this.skip(padding(h.size));
  }

  /**
   * The next entry's header when all it takes is already buffered: the rest of the current entry
   * and one plain header block (no long name, pax record or end-of-archive block before it), with
   * no body stream reading. Undefined when next() must be awaited instead; nothing of the next
   * header is consumed then. The same header as next() would give, without its promises: a layer
   * of 950,000 small files spent more on next()'s async steps than on decoding.
   */
  nextBuffered(): TarHeader | undefined {
    if (this.busy !== null || this.pax !== null || this.longPath !== null || this.longLink !== null) {
      return undefined;
    }
    const left = this.remaining + this.pad;
    if (this.buffered < left + 512) return undefined;
    this.serial++;
    this.remaining = 0;
    this.pad = 0;
    for (let n = left; n > 0; ) n -= this.dropSome(n);
    const first = this.queue[0]!;
    if (first.length - this.off < 512) return undefined;
    let h: RawHeader | null;
    try {
      h = decodeHeader(first, this.off, this.filled - this.buffered, this.words[0]);
    } catch {
      return undefined; // next() decodes it again and fails as it does
    }
    if (h === null || h.type === 'gnu-long-path' || h.type === 'gnu-long-link-path') return undefined;
    if (h.type === 'pax-global-header' || h.type === 'pax-header' || h.type === GNU_SPARSE) return undefined;
    this.consumed(512);
    return this.begin(h);
  }

  /** A plain header just read: long names and pax records applied, its content made current. */
  private begin(h: RawHeader): TarHeader {
    if (this.longPath !== null) {
      h.name = this.longPath;
      this.longPath = null;
    }
    if (this.longLink !== null) {
      h.linkname = this.longLink;
      this.longLink = null;
    }
    if (this.pax) {
      const pax = this.pax;
      if (pax.path) h.name = pax.path;
      if (pax.linkpath) h.linkname = pax.linkpath;
      if (pax.size) h.size = Number(pax.size); // a safe count: checked by decodePax
      h.pax = pax;
      this.pax = null;
    }
    // A directory's size is not content to skip (tar-stream reads on from the next block).
    if (h.size > 0 && h.type !== 'directory') {
      this.remaining = h.size;
      this.pad = padding(h.size);
    }
    return toHeader(h);
  }

  /**
   * What head(max) would give, when it is buffered in one piece: a view of the input (valid until
   * the reader moves on, not to be kept), nothing consumed, no promise. Undefined otherwise.
   */
  peek(max: number): Buffer | undefined {
    const n = Math.min(max, this.remaining);
    if (this.busy !== null) return undefined;
    if (n === 0) return EMPTY;
    const first = this.queue[0];
    if (first === undefined || first.length - this.off < n) return undefined;
    return first.subarray(this.off, this.off + n);
  }

  /** The next piece of the current entry's content (at most `max` bytes), or null at its end. */
  async read(max = Number.POSITIVE_INFINITY): Promise<Buffer | null> {
    if (this.remaining === 0) return null;
    while (this.buffered === 0) {
      if (!(await this.fill()))
        throw this.truncated(`the content of the entry before byte ${this.position + this.remaining}`);
    }
    const out = this.takeSome(Math.min(max, this.remaining));
    this.remaining -= out.length;
    this.onContent?.(out);
    return out;
  }

  /**
   * Up to `max` bytes from the start of the current entry's content, copied, and whether the
   * content reached `max` bytes (as readCapped in inspect/content.ts tells it).
   */
  async head(max: number): Promise<{ bytes: Buffer; truncated: boolean }> {
    const parts: Buffer[] = [];
    let len = 0;
    while (len < max) {
      const c = await this.read(max - len);
      if (c === null) break;
      parts.push(c);
      len += c.length;
    }
    return { bytes: Buffer.concat(parts, len), truncated: len >= max };
  }

  /**
   * Reads what is left of the current entry's content (after a body stream, if one is reading),
   * so that onContent sees all of it; skipping (next()) would drop it unseen.
   */
  async drain(): Promise<void> {
    if (this.busy) await this.busy.catch(() => {});
    while ((await this.read()) !== null) {
      // onContent sees it
    }
  }

  /**
   * The current entry's content as a stream. It ends early (destroyed) when the reader moves on
   * to the next entry; an error of the input destroys it with that DistillError.
   */
  body(): Readable {
    const serial = this.serial;
    const reader = this;
    return new Readable({
      highWaterMark: 64 * 1024,
      read() {
        if (reader.serial !== serial) {
          this.destroy();
          return;
        }
        // As much as the current input chunk holds: no copy, and fewer trips for a big file.
        const p = reader.read();
        reader.busy = p;
        p.then(
          (c) => {
            if (reader.busy === p) reader.busy = null;
            if (reader.serial !== serial) this.destroy();
            else this.push(c);
          },
          (err: unknown) => {
            if (reader.busy === p) reader.busy = null;
            this.destroy(reader.errors.wrap(err));
          },
        );
      },
    });
  }
}

const EMPTY = Buffer.alloc(0);
