/**
 * Reading tars: readTar/readLayer give the entries of a (compressed) tar stream, diffIdOf the
 * digest of its uncompressed bytes. The pieces live in their own modules: compression.ts
 * (sniffing and decompression), tar-reader.ts (the one tar reader), tar-header.ts (headers and
 * PAX records); this module is where the rest of distill imports them from.
 */
import { type Readable, Writable } from 'node:stream';
import { DistillError } from '../errors.js';
import { type Digest, Digester } from '../oci/digest.js';
import { decompressLayer, type TarCompression } from './compression.js';
import type { ReadErrorOptions } from './read-errors.js';
import type { TarHeader } from './tar-header.js';
import { TarReader } from './tar-reader.js';

export { decompressLayer, detectCompression, MAGIC_BYTES, peek, type TarCompression } from './compression.js';
export { type ReadErrorOptions, ReadErrors } from './read-errors.js';
export type { TarEntryType, TarHeader } from './tar-header.js';
export type { PositionalSource } from './tar-input.js';
export { TarReader, type TarReaderOptions } from './tar-reader.js';

export interface TarEntry {
  header: TarHeader;
  /**
   * The entry's content. Read it before asking for the next entry; whatever is left unread
   * when the next entry is requested is skipped.
   */
  body: Readable;
}

export interface ReadTarOptions extends ReadErrorOptions {
  /** Detected from the magic bytes when not given. */
  compression?: TarCompression;
}

/**
 * Reads the entries of a tar stream (gzip, zstd, xz or plain; detected from the magic bytes when
 * `compression` is not given), streaming: each entry's body must be read, or is skipped, before
 * the next entry comes. A truncated or corrupt tar is an error with the options' codes
 * (LAYER_INVALID by default), from the iterator or from the body being read. Stopping early
 * (break) releases the input stream.
 */
export async function* readTar(
  stream: Readable,
  opts: ReadTarOptions = {},
): AsyncGenerator<TarEntry, void, undefined> {
  const tar = await decompressLayer(stream, opts.compression, opts);
  const reader = new TarReader(tar, opts);
  try {
    for (
      let header = reader.nextBuffered() ?? (await reader.next());
      header !== null;
      header = reader.nextBuffered() ?? (await reader.next())
    ) {
      // The body stream is made only when asked for: most consumers skip most bodies.
      let body: Readable | undefined;
      const entry: TarEntry = {
        header,
        get body(): Readable {
          body ??= reader.body();
          return body;
        },
      };
      yield entry;
      if (body && !body.readableEnded && !body.destroyed) body.destroy();
    }
  } finally {
    if (!tar.destroyed) tar.destroy();
    if (!stream.destroyed) stream.destroy();
  }
}

/** The entries of a layer: readTar with a layer's error codes (LAYER_INVALID). */
export function readLayer(
  stream: Readable,
  opts: { compression?: TarCompression } = {},
): AsyncGenerator<TarEntry, void, undefined> {
  return readTar(stream, opts);
}

/**
 * The diff_id of a layer (sha256 of its uncompressed tar) and the uncompressed size, in one
 * streaming pass. Does not parse the tar, but a size that is not a whole number of 512-byte
 * blocks (a cut tar) is LAYER_INVALID.
 */
export async function diffIdOf(
  stream: Readable,
  compression?: TarCompression,
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
