/**
 * zstd decompression: zlib's where Node has it (22.15 and later), else fzstd, guarded.
 *
 * fzstd's streaming decoder keeps a window of the frame's declared size and shifts all of it after
 * every block (copyWithin): each block costs a copy of the whole window, whatever it holds. A frame
 * declaring a 128 MiB window followed by 200 one-byte RLE blocks (806 bytes) took 7 s; a 2 GiB
 * window (the most fzstd accepts) makes every 4 input bytes cost half a second. So before fzstd
 * sees a byte, FrameGuard walks the frames and blocks (RFC 8878 3.1.1: the framing is simple) and
 * refuses
 * - a window over 128 MiB, the default limit of zstd's own decoder (ZSTD_WINDOWLOG_LIMIT_DEFAULT);
 * - a stream that would make fzstd copy more than 1 KiB of window per byte it outputs, after a
 *   first 2 GiB of copying that any stream gets: the copying then costs at most about 0.1 µs per
 *   output byte, and work stays proportional to output (what decompression-bomb caps bound).
 * Measured on a 60 MB tar: zstd -3 copies 16 bytes per output byte, -19 311, --ultra -20 1,173
 * (32 MiB window, blocks of 28 KiB on average), --ultra -22 --long 2,103: the last two are refused
 * on a Node without zlib's zstd, where fzstd would take minutes per gigabyte for them.
 */
import { Duplex } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { TarFormatError } from './tar-header.js';

/** zstd's default decoder limit: windows up to 2^27 bytes. */
export const MAX_ZSTD_WINDOW = 2 ** 27;
const MAX_BLOCK = 128 * 1024;
const FREE_WORK = 2 ** 31;
/** Bytes of window copying allowed per byte of output. */
const WORK_PER_BYTE = 1024;
const ZSTD_MAGIC = 0xfd2fb528;

type Phase = 'magic' | 'header' | 'block' | 'payload' | 'checksum' | 'skippable' | 'skipped';

/** Walks the frames and blocks of a zstd stream as its bytes go by, accounting fzstd's copying. */
export class FrameGuard {
  private phase: Phase = 'magic';
  private need = 4;
  private readonly held: number[] = [];
  private skipLeft = 0;
  private window = 0;
  private checksum = false;
  private lastBlock = false;
  /** Bytes fzstd copies (window per block and per frame) and bytes it may copy. */
  private work = 0;
  private credit = FREE_WORK;

  /** `n` bytes of output came out. */
  output(n: number): void {
    this.credit += WORK_PER_BYTE * n;
  }

  /** Accounts `chunk`, the next input bytes; throws when the stream must be refused. */
  scan(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, chunk.length - i);
        this.skipLeft -= n;
        i += n;
        if (this.skipLeft === 0) this.afterSkip();
        continue;
      }
      this.held.push(chunk[i++]!);
      if (this.held.length === this.need) this.step();
    }
    if (this.work > this.credit) {
      throw new TarFormatError(
        `zstd: blocks this small in a ${this.window}-byte window would make fzstd copy over ${WORK_PER_BYTE} bytes per byte it outputs; read it with Node 22.15 or later (zlib's zstd), or recompress it without --ultra or --long`,
      );
    }
  }

  /** Whether the input may end here: between frames. */
  atFrameBoundary(): boolean {
    return this.phase === 'magic' && this.held.length === 0;
  }

  private step(): void {
    const h = this.held;
    switch (this.phase) {
      case 'magic': {
        const magic = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        if (magic === ZSTD_MAGIC) this.expect('header', 1);
        else if (magic >>> 4 === 0x184d2a5) this.expect('skippable', 4);
        else throw new TarFormatError('zstd: not a zstd frame where one should start');
        return;
      }
      case 'header':
        this.header();
        return;
      case 'skippable':
        this.skipLeft = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        this.expect(this.skipLeft > 0 ? 'skipped' : 'magic', 4);
        return;
      case 'block':
        this.block();
        return;
      case 'checksum':
        this.expect('magic', 4);
        return;
    }
  }

  private afterSkip(): void {
    if (this.phase === 'payload') this.endOfBlock();
    else this.expect('magic', 4);
  }

  private header(): void {
    const h = this.held;
    const fhd = h[0]!;
    const single = (fhd >> 5) & 1;
    const fcsCode = fhd >> 6;
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const fcsBytes = fcsCode === 0 ? single : 1 << fcsCode;
    const size = 1 + (single ? 0 : 1) + dictBytes + fcsBytes;
    if (fhd & 8) throw new TarFormatError('zstd: a frame header sets its reserved bit');
    if (h.length < size) {
      this.need = size;
      return;
    }
    if (single) {
      let fcs = 0;
      for (let k = 0; k < fcsBytes; k++) fcs += h[1 + dictBytes + k]! * 256 ** k;
      this.window = fcsCode === 1 ? fcs + 256 : fcs;
    } else {
      const wd = h[1]!;
      const base = 2 ** (10 + (wd >> 3));
      this.window = base + (base / 8) * (wd & 7);
    }
    if (this.window > MAX_ZSTD_WINDOW) {
      throw new TarFormatError(
        `zstd frame needs a ${this.window}-byte window, over the limit of ${MAX_ZSTD_WINDOW} (zstd's own default; recompress without --long or --ultra)`,
      );
    }
    this.checksum = ((fhd >> 2) & 1) === 1;
    this.work += this.window; // fzstd allocates the window
    this.expect('block', 3);
  }

  private block(): void {
    const h = this.held;
    const bh = h[0]! | (h[1]! << 8) | (h[2]! << 16);
    this.lastBlock = (bh & 1) === 1;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) throw new TarFormatError('zstd: a block of the reserved type');
    if (size > Math.min(this.window, MAX_BLOCK)) {
      throw new TarFormatError(`zstd: a block of ${size} bytes, over the largest a block may be`);
    }
    this.work += this.window; // fzstd shifts its window after every block
    this.held.length = 0;
    this.skipLeft = type === 1 ? 1 : size;
    this.phase = 'payload';
    if (this.skipLeft === 0) this.endOfBlock();
  }

  private endOfBlock(): void {
    if (!this.lastBlock) this.expect('block', 3);
    else if (this.checksum) this.expect('checksum', 4);
    else this.expect('magic', 4);
  }

  private expect(phase: Phase, need: number): void {
    this.phase = phase;
    this.need = need;
    this.held.length = 0;
  }
}

/**
 * fzstd as a Duplex stream. fzstd decodes everything a push() holds at once, so input is fed in
 * 1 KiB slices and the next slice waits while the output is not read. That bounds memory even for
 * a maliciously compressible input: 1 KiB of RLE blocks (4 bytes each, up to 128 KiB of output) is
 * at most 32 MiB beyond the high-water mark. The cost of slicing is small next to fzstd's decoding
 * (measured: ~7% on a 700 MB tar).
 */
class FzstdDecompressStream extends Duplex {
  private readonly dec: ZstdDecompress;
  private readonly guard = new FrameGuard();
  private full = false;
  private waiting: (() => void) | null = null;
  private static readonly SLICE = 1024;

  constructor() {
    super({ readableHighWaterMark: 1 << 20 });
    this.dec = new ZstdDecompress((data) => {
      this.guard.output(data.length);
      if (data.length > 0 && !this.push(Buffer.from(data))) this.full = true;
    });
  }

  override _read(): void {
    this.full = false;
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  private async feed(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; off += FzstdDecompressStream.SLICE) {
      if (this.destroyed) return;
      const slice = chunk.subarray(off, off + FzstdDecompressStream.SLICE);
      this.guard.scan(slice);
      this.dec.push(slice);
      if (this.full) await new Promise<void>((r) => (this.waiting = r));
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.feed(chunk).then(
      () => cb(),
      (err: unknown) => cb(err as Error),
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    try {
      if (!this.guard.atFrameBoundary())
        throw new TarFormatError('zstd: unexpected end of data inside a frame');
      this.dec.push(new Uint8Array(0), true);
      this.push(null);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const w = this.waiting;
    this.waiting = null;
    w?.();
    cb(err);
  }
}

/** A zstd decompressing stream: zlib's when this Node has one, else fzstd's, guarded. */
export function zstdDecompressor(): Duplex {
  const z = zlib as unknown as { createZstdDecompress?: () => Duplex };
  return typeof z.createZstdDecompress === 'function'
    ? z.createZstdDecompress()
    : new FzstdDecompressStream();
}
