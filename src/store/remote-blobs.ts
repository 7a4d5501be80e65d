import type { Readable } from 'node:stream';
import { DistillError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { RemoteBlob, RemoteSource } from './remote.js';

/**
 * The blobs of remote cache hits that the store has not brought in (decision 0036), and where
 * each can be mounted from. A blob noted here counts as in the store for `has` and `size`; the
 * first reader brings it in through `bringIn`, and readers that come while it is on its way wait
 * for the same transfer: one download however many read it at once. A transfer that fails (the
 * blob gone from the cache, or not the bytes its digest names) leaves nothing in the store and
 * forgets the note, so the store no longer claims the blob.
 */
export class RemoteBlobs {
  private readonly notes = new Map<Digest, RemoteBlob>();
  private readonly sources = new Map<Digest, RemoteSource>();
  private readonly coming = new Map<Digest, Promise<void>>();

  note(digest: Digest, blob: RemoteBlob): void {
    this.notes.set(digest, blob);
    if (blob.source !== undefined) this.sources.set(digest, blob.source);
  }

  noteSource(digest: Digest, source: RemoteSource): void {
    this.sources.set(digest, source);
  }

  source(digest: Digest): RemoteSource | undefined {
    return this.sources.get(digest);
  }

  /** Drops the note of a blob that is in the store by other means (unless on its way in). */
  forget(digest: Digest): void {
    if (!this.coming.has(digest)) this.notes.delete(digest);
  }

  /** The note of a blob not brought in yet. */
  get(digest: Digest): RemoteBlob | undefined {
    return this.notes.get(digest);
  }

  /**
   * Brings a noted blob in (once, whoever asks) through `put`, which verifies its digest and
   * size and writes it atomically; nothing to do for a blob that is not noted. The error of a
   * failed transfer is CACHE_BLOB_UNAVAILABLE, naming the blob and the cache entry.
   */
  bringIn(
    digest: Digest,
    put: (source: Readable, expected: { digest: Digest; size: number }, what: string) => Promise<unknown>,
  ): Promise<void> {
    const blob = this.notes.get(digest);
    if (blob === undefined) return this.coming.get(digest) ?? Promise.resolve();
    let work = this.coming.get(digest);
    if (work === undefined) {
      const what = `blob ${digest} of the cache entry ${blob.where}`;
      work = (async () => {
        try {
          await put(await blob.open(), { digest, size: blob.size }, what);
        } catch (err) {
          throw new DistillError(
            'CACHE_BLOB_UNAVAILABLE',
            `${what} could not be brought in: ${err instanceof Error ? err.message : String(err)}; the cache's copy is gone or damaged: build without reading that cache (--cache-to REF in place of --cache REF or --cache-from REF) and have its storage checked`,
            { cause: err },
          );
        } finally {
          this.notes.delete(digest);
          this.coming.delete(digest);
        }
      })();
      this.coming.set(digest, work);
    }
    return work;
  }
}
