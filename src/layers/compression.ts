/**
 * Decompression of the tars distill reads (layers, archives, .deb members, Node tarballs): the one
 * sniffer of compression by magic bytes, and one decompressing stream per kind, errors classified
 * by read-errors.ts. Pure: streams in, streams out.
 *
 * What the framing of each kind may hold (tests in test/layers/compression.test.ts):
 * - gzip (zlib): several members are read one after another; NUL padding after the last is
 *   ignored, other trailing bytes are an error; a cut stream is a truncation.
 * - zstd (zlib where Node has it, else fzstd through zstd.ts; concatenated frames are read, which refuses windows over 128 MiB
 *   and streams of many small blocks that would make fzstd copy its window once per block).
 * - xz (xz-embedded in WebAssembly, through xz.ts): concatenated streams are read; dictionaries
 *   over 64 MiB are refused; trailing bytes that are not a stream are an error.
 * None of them caps the ratio of output to input: callers that read untrusted layers whole cap
 * what they inflate (inspect/input.ts), the others stream.
 */
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { DistillError } from '../errors.js';
import type { Compression } from '../oci/mediatypes.js';
import { type ReadErrorOptions, ReadErrors } from './read-errors.js';
import { xzDecompressor, xzError } from './xz.js';
import { zstdDecompressor } from './zstd.js';

/** What a tar distill reads may be compressed with: the layer compressions, and xz (.deb, Node tarballs). */
export type TarCompression = Compression | 'xz';

/** How a build compresses the layers it writes (`--compression gzip|zstd[:LEVEL]`). */
export interface LayerCompression {
  kind: 'gzip' | 'zstd';
  /** gzip 0-9, zstd 1-19. */
  level: number;
}

export const DEFAULT_LAYER_COMPRESSION: LayerCompression = { kind: 'gzip', level: 6 };
export const ZSTD_DEFAULT_LEVEL = 3;
/** zstd levels 20-22 ("ultra") need windows larger than the encoder's frames (zstd-encode.ts). */
export const ZSTD_MAX_LEVEL = 19;

/** `gzip`, `gzip:LEVEL`, `zstd`, `zstd:LEVEL` as a LayerCompression; USAGE for anything else. */
export function parseLayerCompression(spec: string, what = '--compression'): LayerCompression {
  const m = /^(gzip|zstd)(?::(\d{1,2}))?$/.exec(spec.trim());
  const kind = m?.[1] as LayerCompression['kind'] | undefined;
  const level = m?.[2] !== undefined ? Number(m[2]) : kind === 'zstd' ? ZSTD_DEFAULT_LEVEL : 6;
  const [lo, hi] = kind === 'zstd' ? [1, ZSTD_MAX_LEVEL] : [0, 9];
  if (kind === undefined || level < lo || level > hi) {
    throw new DistillError(
      'USAGE',
      `${what} takes gzip, gzip:0-9, zstd or zstd:1-${ZSTD_MAX_LEVEL} (zstd default 3), not "${spec}"`,
    );
  }
  return { kind, level };
}

/**
 * What names the bytes of a gzip layer besides its level: the deflate (libdeflate, decision 0042)
 * and pgzip's block size. Cache keys carry it, so that a store or a remote cache holding layers
 * of another encoder (zlib's, before 0042) does not answer with their digests. Change it whenever
 * the gzip bytes change.
 */
export const GZIP_ENCODER = 'libdeflate-1.23-4m';

/**
 * What a cache key says of a compression: `gzip:6:libdeflate-1.23-4m` (the encoder too, see
 * GZIP_ENCODER), `zstd:3`.
 */
export function compressionKey(c: LayerCompression = DEFAULT_LAYER_COMPRESSION): string {
  return c.kind === 'gzip' ? `gzip:${c.level}:${GZIP_ENCODER}` : `${c.kind}:${c.level}`;
}

/** A LayerCompression as buildLayer's options. */
export function layerCompressionOptions(c: LayerCompression = DEFAULT_LAYER_COMPRESSION): {
  compression: Compression;
  gzipLevel?: number;
  zstdLevel?: number;
} {
  return c.kind === 'zstd'
    ? { compression: 'zstd', zstdLevel: c.level }
    : { compression: 'gzip', gzipLevel: c.level };
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/** How many leading bytes detectCompression looks at. */
export const MAGIC_BYTES = 6;

/** A zstd skippable frame starts with 0x184D2A5? (little-endian), as moby's DetectCompression knows. */
function isZstdSkippable(head: Uint8Array): boolean {
  return (
    head.length >= 4 && (head[0]! & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18
  );
}

/** Compression from the first bytes of a stream: gzip, zstd, xz, else none (a plain tar). */
export function detectCompression(head: Uint8Array): TarCompression {
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) return 'gzip';
  if (ZSTD_MAGIC.every((b, i) => head[i] === b) || isZstdSkippable(head)) return 'zstd';
  if (XZ_MAGIC.every((b, i) => head[i] === b)) return 'xz';
  return 'none';
}

/**
 * Reads up to `n` bytes from the start of a stream without consuming them: the bytes are
 * pushed back (or, when the stream ended sooner, a new stream holding them is returned).
 */
export function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  if (stream.errored) return Promise.reject(stream.errored);
  if (stream.destroyed || stream.readableEnded) {
    return Promise.reject(new Error('the stream was already consumed or closed'));
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
 * Output chunk of gunzip. With zlib's default of 16 KiB, every 16 KiB of tar costs a round trip
 * from the thread pool into JavaScript and a trip down the stream pipeline: `distill inspect` of
 * the bench/inspect image (334 MB of tar in 6 layers) took 4.15 s with it, 3.04 s with 256 KiB
 * (64 KiB: 3.2 s, 512 KiB: no better), for about 10 MB more peak RSS.
 */
const GUNZIP_CHUNK = 256 * 1024;

/** Wires `src` into a decompressor; the stream returned is what comes out. */
async function decompressing(src: Readable, compression: TarCompression): Promise<Readable | undefined> {
  switch (compression) {
    case 'none':
      return undefined;
    case 'gzip': {
      const z = zlib.createGunzip({ chunkSize: GUNZIP_CHUNK });
      src.pipe(z);
      return z;
    }
    case 'zstd': {
      const z = zstdDecompressor();
      src.pipe(z);
      return z;
    }
    case 'xz':
      return xzDecompressor(src);
    default:
      throw new DistillError('MEDIA_TYPE_UNSUPPORTED', `unknown compression ${JSON.stringify(compression)}`);
  }
}

/**
 * The uncompressed tar of a stream, compression detected from the magic bytes when not given.
 * Errors of the compressed data get the options' codes (LAYER_INVALID by default); errors of
 * `stream` itself that are already DistillErrors (a digest mismatch, say) keep their code.
 * Destroying the stream returned releases `stream` and the decompressor.
 */
export async function decompressLayer(
  stream: Readable,
  compression?: TarCompression,
  opts: ReadErrorOptions = {},
): Promise<Readable> {
  const errors = new ReadErrors(opts);
  // An error of `stream` while the magic is peeked at (a verifying stream fails at its end, which
  // for a small blob comes at once) must find a listener: kept here, handed to the output below.
  let early: { err: unknown } | undefined;
  const keepEarly = (err: unknown) => {
    early ??= { err };
  };
  stream.on('error', keepEarly);
  let src = stream;
  let comp = compression;
  if (comp === undefined) {
    try {
      const peeked = await peek(stream, MAGIC_BYTES);
      src = peeked.stream;
      comp = detectCompression(peeked.head);
    } catch (err) {
      stream.off('error', keepEarly);
      throw errors.wrap(err);
    }
  }
  const out = await wire(src, comp, errors);
  stream.off('error', keepEarly);
  // When the input ended while peeked at, the bytes come from a new stream; errors of the input
  // still reach the output.
  if (src !== stream) stream.on('error', (err) => out.destroy(errors.wrap(err) as Error));
  if (early) out.destroy(errors.wrap(early.err) as Error);
  return out;
}

/** One stream out, whatever is inside, so that every error reaches it with the same codes. */
async function wire(src: Readable, comp: TarCompression, errors: ReadErrors): Promise<Readable> {
  const dec = await decompressing(src, comp);
  const inner = dec ?? src;
  const out = new Readable({ read: () => inner.resume() });
  inner.on('data', (c: Buffer) => {
    if (!out.push(c)) inner.pause();
  });
  inner.on('end', () => out.push(null));
  inner.on('error', (err) => {
    out.destroy(errors.wrap(comp === 'xz' ? xzError(err) : err));
    if (!src.destroyed) src.destroy();
  });
  if (dec) src.on('error', (err) => dec.destroy(errors.wrap(err) as Error));
  out.on('close', () => {
    if (!inner.destroyed) inner.destroy();
    if (!src.destroyed) src.destroy();
  });
  return out;
}
