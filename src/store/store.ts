import { createWriteStream, mkdirSync, utimesSync } from 'node:fs';
import { lstat, mkdir, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DistillError, wrapError } from '../errors.js';
import { hostEnv } from '../host.js';
import {
  type Digest,
  type DigestAlgorithm,
  Digester,
  digestAlgorithm,
  digestHex,
  digestOf,
  parseDigest,
} from '../oci/digest.js';
import { VerifyStream, verifyBytes } from '../oci/verify.js';
import { closed } from './closed.js';
import { metaFiles } from './meta.js';
import { DIR_MODE, FILE_MODE } from './modes.js';
import { ownedTempName, sweepOwnedTemps } from './owner.js';
import {
  type KeyParts,
  type RecordIo,
  type RecordKind,
  type RecordOptions,
  Records,
  type RecordValues,
  remember,
} from './records.js';
import { openRegularFile, type RegularFile } from './regular.js';
import type { RemoteBlob, RemoteRecords, RemoteSource } from './remote.js';
import { RemoteBlobs } from './remote-blobs.js';
import { type Area, type DiskUsage, diskUsage, type PruneResult, pruneStore } from './usage.js';

export { closed };

/** Roots already swept by this process (the sweep runs at most once per process and root). */
const swept = new Map<string, Promise<void>>();

/**
 * Content-addressed blob cache. Blobs live at `blobs/<alg>/<hex>`; every write goes to a unique
 * temp file under `tmp/`, is hashed while it is written, checked against the expected digest and
 * size, and only then renamed into place (atomic on one filesystem), so a reader never sees a
 * partial blob and two distill processes writing the same blob both end with the same file.
 * Reads are verified too: a blob whose bytes no longer match its name is deleted and reported.
 *
 * `meta/` holds remembered records (records.ts: typed, versioned, with a time to live), written
 * the same atomic way; the other areas (usage.ts) hold toolchains and package-manager caches, so
 * everything distill keeps is counted by `du` and removed by `prune`. Temp names carry their
 * owner (owner.ts), and the leftovers of killed processes are swept when a store is opened.
 * Everything is created 0644 / 0755 whatever the umask (modes.ts).
 */
export class Store {
  readonly root: string;
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** A remote build cache (remote.ts): records of shared kinds are looked up and written there too. */
  remote: RemoteRecords | undefined;
  /** Blobs of remote cache hits not brought in yet, and where a push may mount them from. */
  private readonly remoteBlobs = new RemoteBlobs();

  constructor(root: string) {
    this.root = root;
    this.metaIo = metaFiles(root, (dest, data) => this.writeAtomic(dest, data));
  }

  /** A store whose leftovers of killed processes have been swept (once per process). */
  static async open(root: string): Promise<Store> {
    const store = new Store(root);
    await store.sweep();
    return store;
  }

  /**
   * Removes the temp files and directories of processes that are gone (owner.ts); a live
   * process's are kept. Cheap when tmp/ is empty; runs once per process and root.
   */
  sweep(): Promise<void> {
    let done = swept.get(this.root);
    if (!done) {
      done = (async () => {
        await sweepOwnedTemps(join(this.root, 'tmp'));
        // Older versions extracted toolchains into toolchains/.tmp-<pid>-<hex>.
        await sweepOwnedTemps(join(this.root, 'toolchains'), { prefix: '.tmp-' });
      })().catch(() => {});
      swept.set(this.root, done);
    }
    return done;
  }

  /** `$DISTILL_CACHE`, else `$XDG_CACHE_HOME/distill`, else `~/.cache/distill`. */
  static defaultRoot(env: NodeJS.ProcessEnv = hostEnv()): string {
    if (env.DISTILL_CACHE) return env.DISTILL_CACHE;
    const xdg = env.XDG_CACHE_HOME;
    return join(xdg && xdg !== '' ? xdg : join(homedir(), '.cache'), 'distill');
  }

  blobPath(digest: Digest): string {
    return join(this.root, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  /**
   * An area's directory (usage.ts), created, and marked as used now (what `prune --older-than`
   * goes by for toolchains and pm-cache): for callers that hand it to another program, such as
   * the package managers' cache directory (`store.area('pm-cache')`).
   */
  area(name: Area): string {
    const dir = join(this.root, name);
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    const now = new Date();
    utimesSync(dir, now, now);
    return dir;
  }

  /** Marks a directory (a toolchain) as used now, for `prune --older-than`. */
  async markUsed(path: string): Promise<void> {
    const now = new Date();
    await utimes(path, now, now).catch(() => {});
  }

  /** A new path under tmp/ named by its owner, for a file or directory to rename into place. */
  async tempPath(): Promise<string> {
    const dir = join(this.root, 'tmp');
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    await this.sweep();
    return join(dir, ownedTempName());
  }

  /**
   * Renames a finished temp into place, creating the parent; once more when a concurrent
   * `cache prune` removed the parent meanwhile.
   */
  async moveIntoPlace(tmp: string, dest: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await mkdir(dirname(dest), { recursive: true, mode: DIR_MODE });
      try {
        await rename(tmp, dest);
        return;
      } catch (err) {
        const parentGone = (err as NodeJS.ErrnoException).code === 'ENOENT';
        const tmpThere = parentGone && (await lstat(tmp).catch(() => undefined)) !== undefined;
        if (!tmpThere || attempt >= 2) throw err;
      }
    }
  }

  /** Writes small bytes atomically: a temp file renamed into place. */
  private async writeAtomic(dest: string, data: string | Uint8Array): Promise<void> {
    const tmp = await this.tempPath();
    try {
      await writeFile(tmp, data, { mode: FILE_MODE, flag: 'wx' });
      await this.moveIntoPlace(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Whether the blob is here, or left in a remote cache to be brought in when read. */
  async has(digest: Digest): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  noteRemoteSource(digest: Digest, source: RemoteSource): void {
    this.remoteBlobs.noteSource(digest, source);
  }
  /** Where a push to the same registry may mount a blob from (a remote cache's repository). */
  remoteSource(digest: Digest): RemoteSource | undefined {
    return this.remoteBlobs.source(digest);
  }

  /** A remote cache hit's blob left there (decision 0036): it counts as here; the first read brings it in. */
  noteRemoteBlob(digest: Digest, blob: RemoteBlob): void {
    this.remoteBlobs.note(digest, blob);
  }

  /** The blob's size here, else that of a noted remote blob; undefined when it is neither. */
  async size(digest: Digest): Promise<number | undefined> {
    return (await this.localSize(digest)) ?? this.remoteBlobs.get(digest)?.size;
  }

  /** The size of the blob's file here (not of a remote blob not brought in). */
  async localSize(digest: Digest): Promise<number | undefined> {
    return (await stat(this.blobPath(digest)).catch(() => undefined))?.size;
  }

  /** The blob's file, brought in first when it is a noted remote blob. */
  async file(digest: Digest): Promise<string> {
    await this.bringIn(digest);
    return this.blobPath(digest);
  }

  /** The blob's file when it is here, undefined while it is a remote blob not brought in. */
  localFile(digest: Digest): string | undefined {
    return this.remoteBlobs.get(digest) === undefined ? this.blobPath(digest) : undefined;
  }

  /**
   * A noted remote blob into the store, once for concurrent readers (CACHE_BLOB_UNAVAILABLE when
   * that fails); nothing to transfer when it is here already (putBytes, another process).
   */
  private async bringIn(digest: Digest): Promise<void> {
    const note = this.remoteBlobs.get(digest);
    if (note && (await this.localSize(digest)) === note.size) this.remoteBlobs.forget(digest);
    return this.remoteBlobs.bringIn(digest, (source, expected, what) => this.put(source, expected, { what }));
  }

  /**
   * Streams `source` into the store. With `expected`, the bytes must match its digest (and size);
   * without, the blob is named by its sha256. Nothing is left behind when the stream fails or the
   * bytes do not match. `onProgress` sees the byte count as it grows.
   */
  async put(
    source: Readable,
    expected?: { digest: Digest; size?: number | undefined },
    opts: { what?: string; onProgress?: (bytes: number) => void; algorithm?: DigestAlgorithm } = {},
  ): Promise<{ digest: Digest; size: number }> {
    const what = opts.what ?? (expected ? `blob ${expected.digest}` : 'blob');
    const tmp = await this.tempPath();
    const digester = new Digester(expected ? digestAlgorithm(expected.digest) : (opts.algorithm ?? 'sha256'));
    const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [source];
    if (expected) stages.push(new VerifyStream(expected, what));
    stages.push(
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          digester.update(chunk);
          opts.onProgress?.(digester.size);
          cb(null, chunk);
        },
      }),
    );
    const out = createWriteStream(tmp, { mode: FILE_MODE, flags: 'wx' });
    stages.push(out);
    try {
      await (pipeline as (...s: unknown[]) => Promise<void>)(...stages);
    } catch (err) {
      // The file may still be being opened when the pipeline fails: removing it before the
      // stream has closed would let the open create it again afterwards.
      await closed(out);
      await rm(tmp, { force: true });
      throw err instanceof DistillError
        ? err
        : wrapError(err, `writing ${what} to the cache at ${this.root}`);
    }
    const digest = digester.digest();
    await this.commit(tmp, digest);
    return { digest, size: digester.size };
  }

  /** Stores bytes already in memory, verified like `put`. */
  async putBytes(
    bytes: Uint8Array,
    expected?: { digest: Digest; size?: number },
    what = 'blob',
  ): Promise<Digest> {
    const d = new Digester(expected ? digestAlgorithm(expected.digest) : 'sha256');
    d.update(bytes);
    const digest = d.digest();
    if (expected) verifyBytes(bytes, expected, what);
    if ((await this.localSize(digest)) !== undefined) return digest;
    try {
      await this.writeAtomic(this.blobPath(digest), bytes);
    } catch (err) {
      throw wrapError(err, `writing ${what} to the cache at ${this.root}`);
    }
    return digest;
  }

  private async commit(tmp: string, digest: Digest): Promise<void> {
    try {
      await this.moveIntoPlace(tmp, this.blobPath(digest));
    } catch (err) {
      await rm(tmp, { force: true });
      throw wrapError(err, `moving ${digest} into the cache at ${this.root}`);
    }
  }

  /**
   * Opens a blob; the stream fails at its end if the bytes no longer match the digest (the blob
   * is then removed so the next run fetches it again). Throws BLOB_MISSING when absent.
   */
  async open(digest: Digest, size?: number): Promise<Readable> {
    parseDigest(digest);
    const path = this.blobPath(digest);
    await this.bringIn(digest);
    const { handle, stats: st } = await this.openBlobFile(digest);
    const now = new Date();
    await utimes(path, now, st.mtime).catch(() => {}); // atime marks use, for prune
    const verify = new VerifyStream({ digest, size }, `cached blob ${digest}`);
    verify.on('error', (err) => {
      if (err instanceof DistillError && (err.code === 'DIGEST_MISMATCH' || err.code === 'SIZE_MISMATCH')) {
        unlink(path).catch(() => {});
      }
    });
    const file = handle.createReadStream();
    file.on('error', (err) => verify.destroy(wrapError(err, `reading ${digest} from the cache`)));
    // A reader that stops early (a `break` out of for await) destroys only the verifier: close
    // the file too, instead of leaving its handle to the garbage collector.
    verify.once('close', () => file.destroy());
    return file.pipe(verify);
  }

  /** A blob's file, which must be a regular file (store/regular.ts); BLOB_MISSING when absent. */
  private async openBlobFile(digest: Digest): Promise<RegularFile> {
    try {
      const path = this.blobPath(digest);
      return await openRegularFile(path, `cached blob ${digest} at ${path}`);
    } catch (err) {
      if (err instanceof DistillError) throw err;
      throw new DistillError('BLOB_MISSING', `blob ${digest} is not in the cache at ${this.root}`, {
        cause: err,
      });
    }
  }

  /**
   * Opens `size` bytes at `start` of a blob, verified against `expected` (the digest of that
   * part, known to the caller) as they are read: for files kept together in one pack blob.
   */
  async openRange(digest: Digest, start: number, size: number, expected: Digest): Promise<Readable> {
    await this.bringIn(digest);
    const { handle } = await this.openBlobFile(digest);
    const verify = new VerifyStream({ digest: expected, size }, `part of cached blob ${digest}`);
    if (size === 0) {
      await handle.close();
      verify.end();
      return verify;
    }
    const file = handle.createReadStream({ start, end: start + size - 1 });
    file.on('error', (err) => verify.destroy(wrapError(err, `reading ${digest} from the cache`)));
    verify.once('close', () => file.destroy());
    return file.pipe(verify);
  }

  /** Reads a (small) blob fully, verified. */
  async readBytes(digest: Digest, size?: number): Promise<Buffer> {
    await this.bringIn(digest);
    const { handle } = await this.openBlobFile(digest);
    let bytes: Buffer;
    try {
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
    try {
      verifyBytes(bytes, { digest, ...(size !== undefined && { size }) }, `cached blob ${digest}`);
    } catch (err) {
      await unlink(this.blobPath(digest)).catch(() => {});
      throw err;
    }
    return bytes;
  }

  private readonly metaIo: RecordIo;

  /** Typed access to one kind of record (records.ts). */
  record<K extends RecordKind>(kind: K): Records<K> {
    return new Records(this.metaIo, kind, undefined, this.remote);
  }

  /**
   * The record of `kind` for `parts` when there is a usable one younger than its time to live,
   * else what `compute` gives, recorded.
   */
  remember<K extends RecordKind>(
    kind: K,
    parts: KeyParts,
    compute: () => Promise<RecordValues[K]>,
    opts: RecordOptions<RecordValues[K]> = {},
  ): Promise<RecordValues[K]> {
    return remember(this.record(kind), this.inflight, parts, compute, opts);
  }

  /** @deprecated A record by a hand-made key string; use `record(kind)` or `remember`. */
  async getMeta<T>(key: string): Promise<T | undefined> {
    const rec = (await this.metaIo.read(digestHex(digestOf(key)))) as { key?: string; value?: T } | undefined;
    return rec?.key === key ? rec.value : undefined;
  }

  /** @deprecated See getMeta. */
  async putMeta(key: string, value: unknown): Promise<void> {
    await this.metaIo.write(digestHex(digestOf(key)), { key, value });
  }

  /** What the store holds, per area; `bytes` is what `du -sb ROOT` prints. */
  du(): Promise<DiskUsage> {
    return diskUsage(this.root);
  }

  /**
   * Empties the store (`olderThanMs` 0) or removes what was not used for `olderThanMs`, in
   * every area (usage.ts). Temp files of running distill processes are kept. A toolchain in use
   * by a concurrent build can be removed under it: prune everything when no build runs.
   */
  async prune(olderThanMs = 0): Promise<PruneResult> {
    await this.sweep();
    return pruneStore(this.root, olderThanMs > 0 ? Date.now() - olderThanMs : undefined);
  }
}
