import { createWriteStream } from 'node:fs';
import { link, mkdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { DistillError, wrapError } from '../errors.js';
import type { Artifact } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { verifyBytes } from '../oci/verify.js';
import { DIR_MODE, FILE_MODE } from '../store/modes.js';
import { ownedTempName } from '../store/owner.js';
import { openRegularFile } from '../store/regular.js';
import { closed } from '../store/store.js';
import { blobPath, type TransferProgress } from './blobs.js';
import { checksFor, type OutgoingBlob, outgoingBlobs } from './outgoing.js';
import { pipelineAll } from './streams.js';

/**
 * Where a writer puts blobs: a directory layout, or a tar being written (tarsink.ts).
 * `writeArtifactBlobs` walks an image or index and hands every blob to a sink once.
 */
export interface BlobSink {
  has(d: Descriptor): Promise<boolean>;
  write(blob: OutgoingBlob): Promise<void>;
}

export async function writeArtifactBlobs(
  artifact: Artifact,
  sink: BlobSink,
  progress: TransferProgress = {},
): Promise<void> {
  for await (const blob of outgoingBlobs(artifact)) {
    const d = blob.descriptor;
    if (await sink.has(d)) {
      progress.blob?.({ digest: d.digest, done: d.size, total: d.size, phase: 'skip' });
      continue;
    }
    await sink.write(blob);
  }
}

export function progressTap(d: Descriptor, progress: TransferProgress, phase: 'write' | 'pull'): Transform {
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
 * `mkdir -p` that remembers the directories it made, so that a failed write can take them away
 * again (only while they are empty: whatever another process put there stays).
 */
export class MadeDirs {
  private readonly made: string[] = [];

  async mkdir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (first === undefined) return;
    const chain: string[] = [];
    for (let d = dir; ; d = dirname(d)) {
      chain.unshift(d);
      if (d === first || d === dirname(d)) break;
    }
    this.made.push(...chain);
  }

  /** Removes the directories made, deepest first, each only if it is empty. */
  async removeEmpty(): Promise<void> {
    for (const d of this.made.splice(0).reverse()) await rmdir(d).catch(() => {});
  }
}

/**
 * Blobs into `DIR/blobs/<alg>/<hex>` of an OCI layout: each through a temp file and a rename,
 * checked on the way. `rollback` removes the blobs and directories this sink created.
 */
export class DirectoryBlobSink implements BlobSink {
  private readonly created: string[] = [];

  constructor(
    readonly dir: string,
    readonly progress: TransferProgress = {},
    private readonly dirs = new MadeDirs(),
  ) {}

  async has(d: Descriptor): Promise<boolean> {
    try {
      const st = await stat(join(this.dir, blobPath(d)));
      return st.isFile() && st.size === d.size;
    } catch {
      return false;
    }
  }

  async write(blob: OutgoingBlob): Promise<void> {
    const d = blob.descriptor;
    const dest = join(this.dir, blobPath(d));
    const tmp = join(dirname(dest), ownedTempName('.tmp-'));
    let out: ReturnType<typeof createWriteStream> | undefined;
    try {
      await this.dirs.mkdir(dirname(dest));
      if (blob.bytes !== undefined && blob.check === undefined) {
        // In memory (a manifest, a config, an attached document): checked and written at once.
        verifyBytes(blob.bytes, d, `${blob.what} ${d.digest}`);
        await writeFile(tmp, blob.bytes, { mode: FILE_MODE });
        this.progress.blob?.({ digest: d.digest, done: d.size, total: d.size, phase: 'write' });
      } else if (blob.file === undefined || !(await this.linked(blob, blob.file, tmp))) {
        const source = await blob.open();
        out = createWriteStream(tmp, { mode: FILE_MODE });
        await pipelineAll([source, ...checksFor(source, blob), progressTap(d, this.progress, 'write'), out]);
      }
      await rename(tmp, dest);
      this.created.push(dest);
    } catch (err) {
      if (out) await closed(out);
      await rm(tmp, { force: true });
      throw err instanceof DistillError
        ? err
        : wrapError(err, `writing ${blob.what} ${d.digest} to ${this.dir}`);
    }
  }

  /**
   * Hard-links a cache file as the blob (no copy) after reading it once to check it; false when
   * the file is on another filesystem or cannot be linked (the caller copies).
   */
  private async linked(blob: OutgoingBlob, file: string, tmp: string): Promise<boolean> {
    const d = blob.descriptor;
    try {
      const { handle } = await openRegularFile(file, `cached ${blob.what} ${d.digest} at ${file}`);
      const source = handle.createReadStream();
      await pipelineAll([source, ...checksFor(source, blob), new Writable({ write: (_c, _e, cb) => cb() })]);
      await link(file, tmp);
    } catch (err) {
      if (err instanceof DistillError) throw err;
      return false;
    }
    this.progress.blob?.({ digest: d.digest, done: d.size, total: d.size, phase: 'write' });
    return true;
  }

  /** Removes what this sink wrote: its blobs, then the directories it made for them. */
  async rollback(): Promise<void> {
    for (const p of this.created.splice(0)) await rm(p, { force: true });
    await this.dirs.removeEmpty();
  }
}
