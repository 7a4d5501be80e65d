import { Duplex, Readable, Writable } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import * as tarStream from 'tar-stream';
import { DistillError } from '../errors.js';
import { type Digest, Digester } from '../oci/digest.js';
import type { Compression } from '../oci/mediatypes.js';

export type TarEntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'directory'
  | 'character-device'
  | 'block-device'
  | 'fifo'
  | 'contiguous-file'
  | 'unknown';

/** A tar header as read, pax records applied (path, linkpath, size, uid, gid, mtime). */
export interface TarHeader {
  /** As stored: no normalization (directories usually end with `/`, some tars start with `./`). */
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string | null;
  uname: string;
  gname: string;
  /** The entry's pax records (global ones merged in), or null when it had none. */
  pax: Record<string, string> | null;
}

export interface TarEntry {
  header: TarHeader;
  /**
   * The entry's content. Read it before asking for the next entry; whatever is left unread
   * when the next entry is requested is skipped.
   */
  body: Readable;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Compression of a layer from its first bytes: gzip, zstd, else uncompressed tar. */
export function detectCompression(head: Uint8Array): Compression {
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) return 'gzip';
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) return 'zstd';
  return 'none';
}

function layerError(err: unknown): DistillError {
  if (err instanceof DistillError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new DistillError('LAYER_INVALID', `layer is truncated or corrupt: ${msg}`, { cause: err });
}

/**
 * Reads up to `n` bytes from the start of a stream without consuming them: the bytes are
 * pushed back (or, when the stream ended sooner, a new stream holding them is returned).
 */
function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  if (stream.destroyed || stream.readableEnded) {
    return Promise.reject(new Error('the layer stream was already consumed or closed'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onReadable = () => {
      for (let c = stream.read() as Buffer | null; c !== null; c = stream.read() as Buffer | null) {
        const buf = typeof c === 'string' ? Buffer.from(c) : c;
        chunks.push(buf);
        len += buf.length;
        if (len >= n) {
          cleanup();
          const head = Buffer.concat(chunks);
          stream.unshift(head);
          resolve({ head, stream });
          return;
        }
      }
    };
    const onEnd = () => {
      cleanup();
      const head = Buffer.concat(chunks);
      resolve({ head, stream: Readable.from(head.length > 0 ? [head] : [], { objectMode: false }) });
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

/**
 * zstd decompression through fzstd, for a Node whose zlib lacks it. fzstd decodes everything a
 * push() holds at once, so input is fed in 1 KiB slices and the next slice waits while the output
 * is not read. That bounds memory even for a maliciously compressible input: 1 KiB of RLE blocks
 * (4 bytes each, up to 128 KiB of output) is at most 32 MiB beyond the high-water mark. The cost of
 * slicing is small next to fzstd's decoding (measured: ~7% on a 700 MB tar).
 */
class FzstdDecompressStream extends Duplex {
  private readonly dec: ZstdDecompress;
  private full = false;
  private waiting: (() => void) | null = null;
  private static readonly SLICE = 1024;

  constructor() {
    super({ readableHighWaterMark: 1 << 20 });
    this.dec = new ZstdDecompress((data) => {
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
      this.dec.push(chunk.subarray(off, off + FzstdDecompressStream.SLICE));
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

function decompressor(compression: Compression): Duplex | undefined {
  switch (compression) {
    case 'none':
      return undefined;
    case 'gzip':
      return zlib.createGunzip();
    case 'zstd': {
      const z = zlib as unknown as { createZstdDecompress?: () => Duplex };
      return typeof z.createZstdDecompress === 'function'
        ? z.createZstdDecompress()
        : new FzstdDecompressStream();
    }
    default:
      throw new DistillError(
        'MEDIA_TYPE_UNSUPPORTED',
        `unknown layer compression ${JSON.stringify(compression)}`,
      );
  }
}

/**
 * The uncompressed tar of a layer, compression detected from the magic bytes when not given.
 * Errors of the compressed data are LAYER_INVALID; errors of `stream` itself that are already
 * DistillErrors (a digest mismatch, say) keep their code.
 */
export async function decompressLayer(stream: Readable, compression?: Compression): Promise<Readable> {
  let src = stream;
  let comp = compression;
  if (comp === undefined) {
    try {
      const peeked = await peek(stream, 4);
      src = peeked.stream;
      comp = detectCompression(peeked.head);
    } catch (err) {
      throw layerError(err);
    }
  }
  const dec = decompressor(comp);
  if (!dec) {
    // Give errors of a plain stream the same code as those of a compressed one.
    const out = new Readable({ read: () => src.resume() });
    src.on('data', (c: Buffer) => {
      if (!out.push(c)) src.pause();
    });
    src.on('end', () => out.push(null));
    src.on('error', (err) => out.destroy(layerError(err)));
    out.on('close', () => {
      if (!src.destroyed) src.destroy();
    });
    return out;
  }
  src.on('error', (err) => dec.destroy(layerError(err)));
  const out = new Readable({ read: () => dec.resume() });
  dec.on('data', (c: Buffer) => {
    if (!out.push(c)) dec.pause();
  });
  dec.on('end', () => out.push(null));
  dec.on('error', (err) => {
    out.destroy(layerError(err));
    if (!src.destroyed) src.destroy();
  });
  out.on('close', () => {
    if (!dec.destroyed) dec.destroy();
    if (!src.destroyed) src.destroy();
  });
  src.pipe(dec);
  return out;
}

function tarType(t: string | null | undefined): TarEntryType {
  switch (t) {
    case 'file':
    case 'link':
    case 'symlink':
    case 'directory':
    case 'character-device':
    case 'block-device':
    case 'fifo':
    case 'contiguous-file':
      return t;
    default:
      return 'unknown';
  }
}

function paxNumber(pax: Record<string, string> | null, key: string, fallback: number): number {
  const v = pax?.[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new DistillError('LAYER_INVALID', `pax record ${key}=${v} is not a number`);
  return key === 'mtime' ? Math.floor(n) : n;
}

function toHeader(h: tarStream.Header): TarHeader {
  const pax = (h.pax as Record<string, string> | null | undefined) ?? null;
  return {
    name: h.name,
    type: tarType(h.type),
    mode: h.mode ?? 0,
    uid: paxNumber(pax, 'uid', h.uid ?? 0),
    gid: paxNumber(pax, 'gid', h.gid ?? 0),
    size: h.size ?? 0,
    mtime: paxNumber(pax, 'mtime', h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0),
    linkname: h.linkname ?? null,
    uname: h.uname ?? '',
    gname: h.gname ?? '',
    pax,
  };
}

/**
 * Reads the entries of a layer (gzip, zstd or plain tar; detected from the magic bytes when
 * `compression` is not given), streaming: each entry's body must be read, or is skipped, before
 * the next entry comes. A truncated or corrupt layer is LAYER_INVALID, from the iterator or
 * from the body being read. Stopping early (break) releases the input stream.
 */
export async function* readLayer(
  stream: Readable,
  opts: { compression?: Compression } = {},
): AsyncGenerator<TarEntry, void, undefined> {
  const tar = await decompressLayer(stream, opts.compression);
  const extract = tarStream.extract();
  let failure: DistillError | undefined;
  const fail = (err: unknown) => {
    failure ??= layerError(err);
    extract.destroy(failure);
  };
  tar.on('error', fail);
  extract.on('error', (err: unknown) => {
    failure ??= layerError(err);
  });
  tar.pipe(extract);
  try {
    for await (const entry of extract) {
      const header = toHeader(entry.header);
      let abandoned = false;
      const body = new Readable({
        read: () => entry.resume(),
        destroy: (err, cb) => {
          // The consumer gave up on this body: drain the rest so the next entry can come.
          abandoned = true;
          entry.resume();
          cb(err);
        },
      });
      entry.on('data', (c: unknown) => {
        if (abandoned) return;
        if (!body.push(c)) entry.pause();
      });
      entry.on('end', () => {
        if (!abandoned) body.push(null);
      });
      entry.on('error', (err: unknown) => {
        if (!abandoned) body.destroy(failure ?? layerError(err));
      });
      yield { header, body };
      if (!body.readableEnded) {
        abandoned = true;
        entry.resume();
        if (!body.destroyed) body.destroy();
      }
    }
  } catch (err) {
    throw failure ?? layerError(err);
  } finally {
    if (!tar.destroyed) tar.destroy();
    if (!stream.destroyed) stream.destroy();
  }
  if (failure) throw failure;
}

/**
 * The diff_id of a layer (sha256 of its uncompressed tar) and the uncompressed size, in one
 * streaming pass. Does not parse the tar, but a size that is not a whole number of 512-byte
 * blocks (a cut tar) is LAYER_INVALID.
 */
export async function diffIdOf(
  stream: Readable,
  compression?: Compression,
): Promise<{ diffId: Digest; size: number }> {
  const tar = await decompressLayer(stream, compression);
  const d = new Digester('sha256');
  await new Promise<void>((resolve, reject) => {
    tar.on('error', reject);
    tar.pipe(
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          d.update(chunk);
          cb();
        },
        final(cb) {
          cb();
          resolve();
        },
      }),
    );
  });
  if (d.size % 512 !== 0) {
    throw new DistillError(
      'LAYER_INVALID',
      `layer is truncated or corrupt: its tar is ${d.size} bytes, not a whole number of 512-byte blocks`,
    );
  }
  return { diffId: d.digest(), size: d.size };
}
