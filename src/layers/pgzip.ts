import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { deflateChunk, deflateChunkHere } from './libdeflate.js';

/**
 * Parallel gzip, the pigz way: ONE gzip member whose deflate stream is made of independently
 * compressed blocks. The input is cut into BLOCK_SIZE blocks, each deflated by libdeflate at the
 * level asked (libdeflate.ts: WebAssembly, on worker threads, several blocks at once). Every
 * block but the last ends with a sync flush (an empty stored block, BFINAL clear, byte aligned),
 * so the outputs concatenate into one valid deflate stream; the last block ends it (BFINAL set).
 * One member, not one per block: some readers (Rust's flate2 GzDecoder) stop after the first.
 *
 * libdeflate has no preset dictionary, so a block does not see the 32 KiB before it (zlib's
 * pgzip primed each block with them). What that costs shrinks with the block: on the Node layer
 * (117 MB of tar) 1 MiB blocks were 0.20 % larger than one deflate stream, 2 MiB 0.10 %, 4 MiB
 * 0.04 %, 8 MiB 0.01 % (decision 0042). 4 MiB keeps it negligible with enough blocks to share
 * out: the Node layer has 28, medium's node_modules 7.
 *
 * Deterministic: each block's bytes depend only on its input, the level and whether it is the
 * last, and blocks are written in input order, so the output does not depend on timing, threads
 * or how many blocks run at once. BLOCK_SIZE is part of the output format: changing it changes
 * every digest (and then GZIP_ENCODER in compression.ts must change).
 */
export const BLOCK_SIZE = 4 * 1024 * 1024;

/**
 * Blocks compressed at once: enough to keep the pool's threads (one per core, at most 4) busy
 * while the oldest block is awaited. Memory stays about 4 x (4 MiB input + its output).
 */
const DEFAULT_IN_FLIGHT = 4;

export interface PgzipOptions {
  /** gzip level 0-9; default 6. */
  level?: number;
  /** Blocks in flight at once (output does not depend on it); default 4. */
  inFlight?: number;
}

/**
 * The 10-byte gzip header zlib writes (no name, no mtime), with the OS byte pinned to 255
 * "unknown" as Go's compress/gzip writes it. XFL follows zlib's rule: 2 at level 9, 4 at
 * levels 0-1, else 0.
 */
export function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff]);
}

// --- CRC-32 (IEEE 802.3, as gzip uses) ---------------------------------------------------------
// zlib.crc32 (native, fast) exists from Node 22.2 and 20.15; distill supports Node 20.0 and later,
// where it may be missing, so there is a table-driven fallback: slicing-by-8 (8 tables of 256
// entries, 8 input bytes per step), several times faster in JS than the bytewise 1-table loop.

type Crc32 = (data: Uint8Array, value: number) => number;

let tables: Int32Array | undefined;
function crcTables(): Int32Array {
  if (tables) return tables;
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n] as number;
    for (let k = 1; k < 8; k++) {
      c = (t[c & 0xff] as number) ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  tables = t;
  return t;
}

/** Table-driven CRC-32 (slicing-by-8); `value` is the CRC of the data before `data`. */
export function crc32Js(data: Uint8Array, value = 0): number {
  const t = crcTables();
  let c = ~value | 0;
  const n = data.length;
  let i = 0;
  const end8 = n - (n % 8);
  // Indices below are in range by construction: masked to a byte plus a table offset.
  while (i < end8) {
    const a =
      c ^
      ((data[i] as number) |
        ((data[i + 1] as number) << 8) |
        ((data[i + 2] as number) << 16) |
        ((data[i + 3] as number) << 24));
    c =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (data[i + 4] as number)] as number) ^
      (t[512 + (data[i + 5] as number)] as number) ^
      (t[256 + (data[i + 6] as number)] as number) ^
      (t[data[i + 7] as number] as number);
    i += 8;
  }
  while (i < n) {
    c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

const nativeCrc32 = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const crc32: Crc32 =
  typeof nativeCrc32 === 'function' ? (d, v) => nativeCrc32(d, v) >>> 0 : (d, v) => crc32Js(d, v);

// --- the stream ----------------------------------------------------------------------------

/** A Transform from bytes to one gzip member, compressed on several threads. */
export class ParallelGzip extends Transform {
  readonly #level: number;
  readonly #inFlight: number;
  #block: Buffer = Buffer.allocUnsafe(BLOCK_SIZE);
  #filled = 0;
  #dispatched = false;
  readonly #pending: Promise<Buffer>[] = [];
  #crc = 0;
  #size = 0;
  #headerSent = false;

  constructor(opts: PgzipOptions = {}) {
    super();
    const level = opts.level ?? 6;
    if (!Number.isInteger(level) || level < 0 || level > 9) {
      throw new RangeError(`gzip level must be an integer from 0 to 9, got ${level}`);
    }
    this.#level = level;
    this.#inFlight = Math.max(1, opts.inFlight ?? DEFAULT_IN_FLIGHT);
  }

  #sendHeader(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(gzipHeader(this.#level));
  }

  /** Starts compressing `input` (owned: it is handed to a thread and not used afterwards). */
  #dispatch(input: Buffer, last: boolean): void {
    const p = deflateChunk(input, this.#level, last);
    p.catch(() => {}); // rejections are seen when the block is awaited; none are left unhandled
    this.#pending.push(p);
    this.#dispatched = true;
  }

  /** Writes finished blocks in order until at most `keep` are still in flight. */
  async #drain(keep: number): Promise<void> {
    while (this.#pending.length > keep) {
      const out = await (this.#pending[0] as Promise<Buffer>);
      this.#pending.shift();
      this.push(out);
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#consume(chunk).then(() => cb(), cb);
  }

  async #consume(chunk: Buffer): Promise<void> {
    this.#sendHeader();
    this.#crc = crc32(chunk, this.#crc);
    this.#size = (this.#size + chunk.length) % 0x1_0000_0000;
    let off = 0;
    while (off < chunk.length) {
      // A full block is sent only once more input follows it, so the last block is never empty
      // unless the whole input is (pigz does the same).
      if (this.#filled === BLOCK_SIZE) {
        this.#dispatch(this.#block, false);
        this.#block = Buffer.allocUnsafe(BLOCK_SIZE);
        this.#filled = 0;
        if (this.#pending.length >= this.#inFlight) await this.#drain(this.#inFlight - 1);
      }
      const n = Math.min(BLOCK_SIZE - this.#filled, chunk.length - off);
      chunk.copy(this.#block, this.#filled, off, off + n);
      this.#filled += n;
      off += n;
    }
  }

  override _flush(cb: TransformCallback): void {
    this.#sendHeader();
    // The last block (1 to BLOCK_SIZE bytes, or empty for an empty input) ends the deflate
    // stream. A layer of one block (a warm build's app layer) is compressed in this thread: it
    // would wait for a thread to start for nothing.
    const last = this.#block.subarray(0, this.#filled);
    if (this.#dispatched) {
      this.#dispatch(last, true);
    } else {
      this.#pending.push(deflateChunkHere(last, this.#level, true));
    }
    this.#drain(0).then(() => {
      const trailer = Buffer.allocUnsafe(8);
      trailer.writeUInt32LE(this.#crc >>> 0, 0);
      trailer.writeUInt32LE(this.#size >>> 0, 4);
      this.push(trailer);
      cb();
    }, cb);
  }
}

/** Compresses a whole buffer with ParallelGzip (tests and small inputs). */
export async function pgzip(data: Uint8Array, opts: PgzipOptions = {}): Promise<Buffer> {
  const z = new ParallelGzip(opts);
  const parts: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    z.on('data', (b: Buffer) => parts.push(b));
    z.on('end', resolve);
    z.on('error', reject);
  });
  z.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  await done;
  return Buffer.concat(parts);
}
