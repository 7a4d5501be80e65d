import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as makePack, type Pack } from 'tar-stream';
import { DistillError, wrapError } from '../errors.js';
import type { Artifact, Image } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { VerifyStream } from '../oci/verify.js';
import { DIR_MODE, FILE_MODE } from '../store/modes.js';
import { ownedTempName, sweepOwnedTemps } from '../store/owner.js';
import { closed } from '../store/store.js';
import { blobPath, type TransferProgress } from './blobs.js';

/**
 * Where a writer puts blobs: a directory layout, or a tar being written. `writeArtifactBlobs`
 * walks an image or index and hands every blob (layers, configs, manifests) to a sink once.
 */
export interface BlobSink {
  has(d: Descriptor): Promise<boolean>;
  /** `file`: a local file with exactly the blob's bytes, which the sink may link (Layer.file). */
  write(
    d: Descriptor,
    source: () => Promise<Readable> | Readable,
    what: string,
    file?: string,
  ): Promise<void>;
}

export async function writeArtifactBlobs(
  artifact: Artifact,
  sink: BlobSink,
  progress: TransferProgress = {},
): Promise<void> {
  const seen = new Set<string>();
  const put = async (
    d: Descriptor,
    source: () => Promise<Readable> | Readable,
    what: string,
    file?: string,
  ) => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (await sink.has(d)) {
      progress.blob?.({ digest: d.digest, done: d.size, total: d.size, phase: 'skip' });
      return;
    }
    await sink.write(d, source, what, file);
  };
  const writeOne = async (a: Artifact): Promise<void> => {
    if (a.kind === 'index') {
      for (const d of a.manifest.value.manifests) await writeOne(await a.child(d));
    } else {
      await writeImageBlobs(a, put);
    }
    const m = a.manifest;
    await put(
      { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length },
      () => Readable.from([m.bytes]),
      'manifest',
    );
  };
  await writeOne(artifact);
}

async function writeImageBlobs(
  image: Image,
  put: (
    d: Descriptor,
    source: () => Promise<Readable> | Readable,
    what: string,
    file?: string,
  ) => Promise<void>,
): Promise<void> {
  const c = image.config;
  await put(image.manifest.value.config, () => Readable.from([c.bytes]), 'config');
  for (const layer of image.layers) await put(layer.descriptor, () => layer.open(), 'layer', layer.file);
}

function progressTap(d: Descriptor, progress: TransferProgress, phase: 'write' | 'pull'): Transform {
  let done = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      done += chunk.length;
      if (done - last >= 1 << 20 || done === d.size) {
        last = done;
        progress.blob?.({ digest: d.digest, done, total: d.size, phase });
      }
      cb(null, chunk);
    },
  });
}

/**
 * Blobs into `DIR/blobs/<alg>/<hex>` of an OCI layout: each through a temp file and a rename,
 * verified on the way. `rollback` removes the blobs this sink created, for a failed write.
 */
export class DirectoryBlobSink implements BlobSink {
  private readonly created: string[] = [];

  constructor(
    readonly dir: string,
    readonly progress: TransferProgress = {},
  ) {}

  async has(d: Descriptor): Promise<boolean> {
    try {
      return (await stat(join(this.dir, blobPath(d)))).size === d.size;
    } catch {
      return false;
    }
  }

  async write(
    d: Descriptor,
    source: () => Promise<Readable> | Readable,
    what: string,
    file?: string,
  ): Promise<void> {
    const dest = join(this.dir, blobPath(d));
    await mkdir(dirname(dest), { recursive: true, mode: DIR_MODE });
    const tmp = join(dirname(dest), ownedTempName('.tmp-'));
    let out: ReturnType<typeof createWriteStream> | undefined;
    try {
      if (file !== undefined && (await this.linked(d, file, tmp, what))) {
        // linked from the cache, checked first
      } else {
        out = createWriteStream(tmp, { mode: FILE_MODE });
        await pipeline(
          await source(),
          new VerifyStream(d, `${what} ${d.digest}`),
          progressTap(d, this.progress, 'write'),
          out,
        );
      }
      await rename(tmp, dest);
      this.created.push(dest);
    } catch (err) {
      if (out) await closed(out);
      await rm(tmp, { force: true });
      throw err instanceof DistillError ? err : wrapError(err, `writing ${what} ${d.digest} to ${this.dir}`);
    }
  }

  /**
   * Hard-links a cache file as the blob (no copy) after reading it once to check its digest;
   * false when the file is on another filesystem or cannot be linked (the caller copies).
   */
  private async linked(d: Descriptor, file: string, tmp: string, what: string): Promise<boolean> {
    try {
      await pipeline(
        createReadStream(file),
        new VerifyStream(d, `${what} ${d.digest}`),
        new Writable({ write: (_c, _e, cb) => cb() }),
      );
      await link(file, tmp);
    } catch (err) {
      if (err instanceof DistillError) throw err;
      return false;
    }
    this.progress.blob?.({ digest: d.digest, done: d.size, total: d.size, phase: 'write' });
    return true;
  }

  async rollback(): Promise<void> {
    for (const p of this.created.splice(0)) await rm(p, { force: true });
  }
}

/** Adds one file to a tar being packed, streaming its body. */
export async function packEntry(
  pack: Pack,
  header: { name: string; size: number },
  source: Readable | Uint8Array,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const entry = pack.entry(
      { name: header.name, size: header.size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, type: 'file' },
      (err) => (err ? reject(err) : resolve()),
    );
    if (source instanceof Uint8Array) {
      entry.end(Buffer.from(source));
      return;
    }
    source.on('error', (err) => {
      entry.destroy(err);
      reject(err);
    });
    source.on('data', (chunk: Buffer) => {
      if (!entry.write(chunk)) {
        source.pause();
        entry.once('drain', () => source.resume());
      }
    });
    source.on('end', () => (entry as unknown as NodeJS.WritableStream).end());
  });
}

/** Blobs as `blobs/<alg>/<hex>` entries of a tar being packed (oci-archive, docker-archive). */
export class TarBlobSink implements BlobSink {
  private readonly written = new Set<string>();

  constructor(
    readonly pack: Pack,
    readonly progress: TransferProgress = {},
  ) {}

  async has(d: Descriptor): Promise<boolean> {
    return this.written.has(d.digest);
  }

  async write(d: Descriptor, source: () => Promise<Readable> | Readable, what: string): Promise<void> {
    const verified = (await source()).pipe(new VerifyStream(d, `${what} ${d.digest}`));
    const tapped = verified.pipe(progressTap(d, this.progress, 'write'));
    verified.on('error', (err) => tapped.destroy(err));
    await packEntry(this.pack, { name: blobPath(d), size: d.size }, tapped);
    this.written.add(d.digest);
  }
}

/**
 * Writes a tar file atomically: packs into a temp file beside `dest`, renames on success,
 * removes the temp file on failure, so the destination is either the old file or the new one.
 */
export async function writeTarFile(dest: string, fill: (pack: Pack) => Promise<void>): Promise<void> {
  await mkdir(dirname(dest), { recursive: true, mode: DIR_MODE });
  await sweepOwnedTemps(dirname(dest), { prefix: '.', suffix: '.tmp' }); // killed runs' leftovers
  const tmp = join(dirname(dest), ownedTempName('.', '.tmp'));
  const pack = makePack({});
  const out = createWriteStream(tmp, { mode: FILE_MODE });
  const done = pipeline(pack as unknown as Readable, out);
  try {
    await fill(pack);
    pack.finalize();
    await done;
    await rename(tmp, dest);
  } catch (err) {
    pack.destroy();
    await done.catch(() => {});
    await closed(out);
    await rm(tmp, { force: true });
    throw err instanceof DistillError ? err : wrapError(err, `writing ${dest}`);
  }
}
