/**
 * The ar archive around a .deb (deb(5)): `!<arch>\n`, then members, each a 60-byte header (name,
 * decimal size, "`\n") followed by its bytes and a padding byte to an even offset. Read as a
 * stream: a member's bytes are handed on as they come, never buffered whole. Every header and
 * member moves the position on by at least 60 bytes, so reading ends on every input; sizes are
 * decimal digits only (10 at most, so below 2^34), names printable.
 */
import { DistillError } from '../errors.js';

export const AR_MAGIC = '!<arch>\n';
const AR_HEADER = 60;

export class DebError extends DistillError {
  constructor(source: string | undefined, message: string, cause?: unknown) {
    super('DEB_INVALID', `${source ? `${source}: ` : ''}${message}`, cause === undefined ? {} : { cause });
  }
}

/** An error of the input stream itself (I/O, network): passed to the caller unchanged. */
export class InputStreamError extends Error {
  readonly original: unknown;
  constructor(original: unknown) {
    super('input stream failed');
    this.original = original;
  }
}

export interface ArMember {
  name: string;
  size: number;
  /** Offset of the header in the archive, for messages. */
  offset: number;
}

/** Pulls exact byte counts out of a chunk stream. */
class ByteReader {
  private readonly it: AsyncIterator<unknown>;
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(input: AsyncIterable<unknown>) {
    this.it = input[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    while (this.buf.length === 0 && !this.eof) {
      let r: IteratorResult<unknown>;
      try {
        r = await this.it.next();
      } catch (err) {
        throw new InputStreamError(err);
      }
      if (r.done) {
        this.eof = true;
        break;
      }
      const v = r.value;
      if (typeof v === 'string') this.buf = Buffer.from(v, 'latin1');
      else if (v instanceof Uint8Array) this.buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      else throw new TypeError('readDeb: the input stream must yield bytes');
    }
    return this.buf.length > 0;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.more());
  }

  /** Up to n bytes from what is buffered (at least one unless at end). */
  private async some(n: number): Promise<Buffer | undefined> {
    if (!(await this.more())) return undefined;
    const take = Math.min(n, this.buf.length);
    const out = this.buf.subarray(0, take);
    this.buf = this.buf.subarray(take);
    this.position += take;
    return out;
  }

  /** Exactly n bytes, or undefined when the stream ends first (with the bytes read so far lost). */
  async exact(n: number): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const b = await this.some(n - got);
      if (!b) return undefined;
      parts.push(b);
      got += b.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Yields exactly n bytes in chunks; onShort is thrown when the stream ends first. */
  async *take(n: number, onShort: () => Error): AsyncGenerator<Buffer, void, undefined> {
    let left = n;
    while (left > 0) {
      const b = await this.some(left);
      if (!b) throw onShort();
      left -= b.length;
      yield b;
    }
  }
}

export function parseArHeader(h: Buffer, offset: number, source: string | undefined): ArMember {
  const text = h.toString('latin1');
  if (text.slice(58, 60) !== '`\n') {
    throw new DebError(source, `ar member header at offset ${offset} is corrupt (bad terminator)`);
  }
  let name = text.slice(0, 16).trimEnd();
  if (name.endsWith('/') && name !== '/' && name !== '//') name = name.slice(0, -1);
  if (name === '' || name === '/' || name === '//' || name.startsWith('#1/')) {
    throw new DebError(
      source,
      `ar member at offset ${offset} uses a symbol table or long-name form ("${name}"), not allowed in a .deb`,
    );
  }
  if (!/^[\x21-\x7e]+$/.test(name)) {
    throw new DebError(source, `ar member at offset ${offset} has an invalid name`);
  }
  const sizeText = text.slice(48, 58).trim();
  if (!/^[0-9]+$/.test(sizeText)) {
    throw new DebError(source, `ar member ${name} has an invalid size field "${sizeText}"`);
  }
  return { name, size: Number(sizeText), offset };
}

/** The members of an ar archive, one after the other; each member's bytes must be taken or drained before the next. */
export class ArReader {
  private readonly bytes: ByteReader;

  constructor(
    input: AsyncIterable<unknown>,
    private readonly source: string | undefined,
  ) {
    this.bytes = new ByteReader(input);
  }

  truncated(what: string): DebError {
    return new DebError(this.source, `truncated: the archive ends inside ${what}`);
  }

  /** Checks the `!<arch>` magic. */
  async start(): Promise<void> {
    const magic = await this.bytes.exact(AR_MAGIC.length);
    if (!magic || magic.toString('latin1') !== AR_MAGIC) {
      throw new DebError(this.source, 'not a Debian package (no "!<arch>" ar magic)');
    }
  }

  /** The next member's header, or undefined at the end of the archive. */
  async next(): Promise<ArMember | undefined> {
    if (await this.bytes.atEnd()) return undefined;
    const offset = this.bytes.position;
    const h = await this.bytes.exact(AR_HEADER);
    if (!h) throw this.truncated(`the ar member header at offset ${offset}`);
    return parseArHeader(h, offset, this.source);
  }

  /** The next member whose name does not start with `_` (those are skipped, as dpkg does). */
  async nextNonReserved(): Promise<ArMember | undefined> {
    for (;;) {
      const m = await this.next();
      if (!m?.name.startsWith('_')) return m;
      await this.drain(m);
      await this.skipPad(m, true);
    }
  }

  /** Exactly `size` bytes of `n` bytes: a small member read whole. */
  async exact(m: ArMember): Promise<Buffer> {
    const b = await this.bytes.exact(m.size);
    if (!b) throw this.truncated(`member ${m.name}`);
    return b;
  }

  /** A member's bytes as they come. */
  body(m: ArMember): AsyncGenerator<Buffer, void, undefined> {
    return this.bytes.take(m.size, () => this.truncated(`member ${m.name} (${m.size} bytes declared)`));
  }

  async drain(m: ArMember): Promise<void> {
    for await (const _ of this.body(m)) {
      // discard
    }
  }

  /** The padding byte after a member of odd size; at the end of the archive it may be missing. */
  async skipPad(m: ArMember, lenientAtEnd: boolean): Promise<void> {
    if (m.size % 2 === 0) return;
    if (await this.bytes.atEnd()) {
      if (lenientAtEnd) return;
      throw this.truncated(`the padding after ${m.name}`);
    }
    await this.bytes.exact(1);
  }
}
