/**
 * What the merge reads: the entries of an image's layers (decompressed by layers/read.ts, with a
 * guard against decompression bombs), of a root filesystem tarball, or of a directory on disk
 * (walked with lstat, symlinks never followed).
 */
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { DistillError, wrapError } from '../errors.js';
import {
  decompressLayer,
  detectCompression,
  MAGIC_BYTES,
  type TarCompression,
  type TarEntryType,
  type TarHeader,
  TarReader,
} from '../layers/read.js';
import { type Digest, Digester } from '../oci/digest.js';
import { diffIdMismatch } from '../oci/verify.js';
import type { EntrySource, InputEntry } from './merge.js';

export interface InflateLimits {
  /** Uncompressed bytes allowed per compressed byte of a layer (default 100)... */
  inflateRatio: number;
  /** ...once the layer is past this many uncompressed bytes (default 1 GiB). */
  inflateFloor: number;
}

export const DEFAULT_INFLATE_LIMITS: InflateLimits = { inflateRatio: 100, inflateFloor: 1024 ** 3 };

/** Counts the bytes of a layer as they come out of the decompressor. */
export interface ByteCount {
  bytes: number;
  /** Told the size of each chunk as it comes (see InspectOptions.onLayerChunk). */
  onChunk?: ((bytes: number) => void) | undefined;
}

/**
 * The tar entries of a layer blob (gzip, zstd or plain), counting uncompressed bytes into
 * `count`. Past max(ratio x compressed, floor) uncompressed bytes the stream fails with
 * INSPECT_UNSAFE naming the layer, before more is inflated. With `check` (the config's
 * rootfs.diff_ids entry), the tar is hashed as it goes and its end is DIFF_ID_MISMATCH when the
 * config does not describe it; see DiffIdCheck for when no hashing is needed.
 *
 * Entries come straight from layers/read.ts's TarReader, synchronously while the input it holds
 * has them (see EntrySource): no stream is made for a body unless `open()` asks for one, and
 * `peek()`/`head()` read the start of a file without any (most files are only sniffed for a
 * private key). Each chunk is counted as it is taken from the decompressor.
 */
export function layerEntries(
  blob: Readable,
  compressed: number,
  label: string,
  limits: InflateLimits,
  count: ByteCount,
  check?: DiffIdCheck,
): EntrySource {
  return new LayerSource(blob, compressed, label, limits, count, check);
}

/**
 * What a layer's tar must hash to (its diff_id), and the blob's digest when the blob's stream
 * checks that digest itself (a medium's verified stream): a blob that turns out uncompressed is
 * its own tar, so its diff_id must be that digest and nothing is hashed a second time.
 */
export interface DiffIdCheck {
  diffId: Digest;
  verifiedDigest?: Digest | undefined;
}

/** Keeps the first bytes that pass, to tell the compression the decompressor found. */
function headTap(into: { head: Buffer }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (into.head.length < 4) into.head = Buffer.concat([into.head, chunk.subarray(0, 4)]);
      cb(null, chunk);
    },
  });
}

class LayerSource implements EntrySource {
  private reader: TarReader | undefined;
  private tar: Readable | undefined;

  constructor(
    private readonly blob: Readable,
    private readonly compressed: number,
    private readonly label: string,
    private readonly limits: InflateLimits,
    private readonly count: ByteCount,
    private readonly check: DiffIdCheck | undefined,
  ) {}

  next(): InputEntry | null | Promise<InputEntry | null> {
    const reader = this.reader;
    if (reader === undefined) return this.start().then(() => this.next());
    const h = reader.nextBuffered();
    if (h !== undefined) return new TarInputEntry(h, reader);
    return reader.next().then((h) => (h === null ? null : new TarInputEntry(h, reader)));
  }

  close(): void {
    if (this.tar && !this.tar.destroyed) this.tar.destroy();
    if (!this.blob.destroyed) this.blob.destroy();
  }

  private async start(): Promise<void> {
    const { compressed, label, limits, count, check } = this;
    const seen = { head: Buffer.alloc(0) };
    const tar = await decompressLayer(
      check?.verifiedDigest === undefined ? this.blob : pipeline(this.blob, headTap(seen), () => {}),
    );
    this.tar = tar;
    const max = Math.max(limits.inflateRatio * compressed, limits.inflateFloor);
    const plain = check?.verifiedDigest !== undefined && detectCompression(seen.head) === 'none';
    const digester = check === undefined || plain ? undefined : new Digester('sha256');
    async function* guarded(): AsyncGenerator<Buffer> {
      for await (const chunk of tar) {
        count.bytes += (chunk as Buffer).length;
        count.onChunk?.((chunk as Buffer).length);
        if (count.bytes > max) {
          throw new DistillError(
            'INSPECT_UNSAFE',
            `${label} inflates past ${max} bytes from ${compressed} compressed (limits: ${limits.inflateRatio}x and ${limits.inflateFloor} bytes), which looks like a decompression bomb; raise the inflate limits only if the image is trusted`,
          );
        }
        digester?.update(chunk as Buffer);
        yield chunk as Buffer;
      }
      // The reader takes the input to its end (past the end-of-archive blocks), so this is the
      // whole tar; a plain blob's stream has checked its digest by now.
      if (check !== undefined) {
        const actual = plain ? check.verifiedDigest! : digester!.digest();
        if (actual !== check.diffId) throw diffIdMismatch(label, check.diffId, actual);
      }
    }
    this.reader = new TarReader(guarded());
  }
}

/** An entry of a layer, its content read through the layer's TarReader. */
class TarInputEntry implements InputEntry {
  readonly name: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly linkname: string | null;

  constructor(
    h: TarHeader,
    private readonly reader: TarReader,
  ) {
    this.name = h.name;
    this.type = h.type;
    this.mode = h.mode;
    this.uid = h.uid;
    this.gid = h.gid;
    this.size = h.size;
    this.linkname = h.linkname;
  }

  open(): Readable {
    return this.reader.body();
  }

  head(max: number): Promise<{ bytes: Buffer; truncated: boolean }> {
    return this.reader.head(max);
  }

  peek(max: number): Buffer | undefined {
    return this.reader.peek(max);
  }
}

/**
 * The entries of a directory holding a root filesystem, parents before children, names sorted.
 * Files linked more than once (same device and inode) become hardlinks to the first path, as in
 * a tar. Counts file bytes into `count`; calls `warn` for what cannot be read.
 */
export async function* directoryEntries(
  root: string,
  count: ByteCount,
  warn: (message: string) => void,
): AsyncGenerator<InputEntry> {
  const inodes = new Map<string, string>();
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let names: string[];
    try {
      names = await readdir(join(root, rel));
    } catch (err) {
      if (rel === '') throw wrapError(err, `reading the root filesystem ${root}`);
      warn(`cannot read directory /${rel} of ${root} (${(err as Error).message}); its contents are left out`);
      continue;
    }
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const dirs: string[] = [];
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, path);
      let st: Awaited<ReturnType<typeof lstat>>;
      let linkname: string | null = null;
      try {
        st = await lstat(abs);
        if (st.isSymbolicLink()) linkname = await readlink(abs);
      } catch (err) {
        warn(`cannot read /${path} of ${root} (${(err as Error).message}); left out`);
        continue;
      }
      let type: TarEntryType;
      let size = 0;
      if (st.isDirectory()) {
        type = 'directory';
        dirs.push(path);
      } else if (st.isSymbolicLink()) type = 'symlink';
      else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? inodes.get(key) : undefined;
        if (first !== undefined) {
          type = 'link';
          linkname = first;
        } else {
          if (st.nlink > 1) inodes.set(key, path);
          type = 'file';
          size = st.size;
          count.bytes += size;
        }
      } else if (st.isCharacterDevice()) type = 'character-device';
      else if (st.isBlockDevice()) type = 'block-device';
      else if (st.isFIFO()) type = 'fifo';
      else type = 'unknown';
      yield {
        name: path,
        type,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size,
        linkname,
        open: () => readableFile(abs, `/${path}`, warn),
      };
    }
    for (let i = dirs.length - 1; i >= 0; i--) stack.push(dirs[i]!);
  }
}

/** A file's content; a read error ends it early with a warning instead of failing the walk. */
function readableFile(abs: string, path: string, warn: (message: string) => void): Readable {
  async function* read(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of createReadStream(abs)) yield chunk as Buffer;
    } catch (err) {
      warn(`cannot read ${path} (${(err as Error).message}); facts from it are left out`);
    }
  }
  return Readable.from(read(), { objectMode: false });
}

/** The compression of a tarball, from its first bytes (as the layer reader tells it). */
export async function tarballCompression(path: string): Promise<TarCompression> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(MAGIC_BYTES), 0, MAGIC_BYTES, 0);
    return detectCompression(buffer.subarray(0, bytesRead));
  } catch (err) {
    throw wrapError(err, `reading the root filesystem ${path}`);
  } finally {
    await fh?.close();
  }
}
