import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as makePack, type Pack } from 'tar-stream';
import { DistillError, wrapError } from '../errors.js';
import type { Descriptor } from '../oci/types.js';
import { FILE_MODE } from '../store/modes.js';
import { ownedTempName, sweepOwnedTemps } from '../store/owner.js';
import { closed } from '../store/store.js';
import { blobPath, type TransferProgress } from './blobs.js';
import { checksFor, type OutgoingBlob } from './outgoing.js';
import { type BlobSink, MadeDirs, progressTap } from './sink.js';
import { joined } from './streams.js';

/**
 * Adds one file to a tar being packed, streaming its body. Settles once: resolved when the entry
 * is complete, rejected with the first error of the source, of the entry, or of the pack (a
 * destroyed pack destroys its entry), and the source is destroyed on any failure.
 */
export function packEntry(
  pack: Pack,
  header: { name: string; size: number },
  source: Readable | Uint8Array,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (!(source instanceof Uint8Array) && !source.destroyed) source.destroy();
      if (settled) return;
      settled = true;
      reject(err);
    };
    let entry: ReturnType<Pack['entry']>;
    try {
      entry = pack.entry(
        {
          name: header.name,
          size: header.size,
          mode: 0o644,
          mtime: new Date(0),
          uid: 0,
          gid: 0,
          type: 'file',
        },
        (err) => {
          if (err) return fail(err);
          settled = true;
          resolve();
        },
      );
    } catch (err) {
      // The pack was destroyed (its output failed) or finalized.
      fail(err);
      return;
    }
    // The entry reports its failure through the callback too; an 'error' event with no
    // listener would kill the process.
    entry.on('error', fail);
    if (source instanceof Uint8Array) {
      entry.end(Buffer.from(source));
      return;
    }
    source.on('error', (err) => {
      fail(err);
      entry.destroy(err);
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

  async write(blob: OutgoingBlob): Promise<void> {
    const d = blob.descriptor;
    const source = await blob.open();
    const body = joined(source, ...checksFor(source, blob), progressTap(d, this.progress, 'write'));
    await packEntry(this.pack, { name: blobPath(d), size: d.size }, body);
    this.written.add(d.digest);
  }
}

/**
 * Writes a tar file atomically: packs into a temp file beside `dest`, renames on success. On any
 * failure (of `fill`, of a blob's stream, of the disk) the temp file and the directories made
 * for it are removed, so the destination is either the old file or the new one. A failure of
 * the output (ENOSPC) stops `fill` at once rather than letting it pack into a dead stream.
 */
export async function writeTarFile(dest: string, fill: (pack: Pack) => Promise<void>): Promise<void> {
  const dirs = new MadeDirs();
  const tmp = join(dirname(dest), ownedTempName('.', '.tmp'));
  let out: ReturnType<typeof createWriteStream> | undefined;
  const pack = makePack({});
  try {
    await dirs.mkdir(dirname(dest));
    await sweepOwnedTemps(dirname(dest), { prefix: '.', suffix: '.tmp' }); // killed runs' leftovers
    out = createWriteStream(tmp, { mode: FILE_MODE });
    const done = pipeline(pack as unknown as Readable, out);
    const outputFailed = new Promise<never>((_, reject) => done.catch(reject));
    outputFailed.catch(() => {});
    const filled = fill(pack);
    filled.catch(() => {}); // when the output fails first, fill's own failure follows unobserved
    await Promise.race([filled, outputFailed]);
    pack.finalize();
    await done;
    await rename(tmp, dest);
  } catch (err) {
    pack.destroy();
    if (out) await closed(out);
    await rm(tmp, { force: true });
    await dirs.removeEmpty();
    throw err instanceof DistillError ? err : wrapError(err, `writing ${dest}`);
  }
}
