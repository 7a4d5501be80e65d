import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DistillError, wrapError } from '../errors.js';
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
import { openRegularFile, type RegularFile } from './regular.js';

/**
 * Content-addressed blob cache. Blobs live at `blobs/<alg>/<hex>`; every write goes to a unique
 * temp file under `tmp/`, is hashed while it is written, checked against the expected digest and
 * size, and only then renamed into place (atomic on one filesystem), so a reader never sees a
 * partial blob and two distill processes writing the same blob both end with the same file.
 * Reads are verified too: a blob whose bytes no longer match its name is deleted and reported.
 *
 * `meta/` holds small JSON records keyed by strings (layer cache keys and the like), written the
 * same atomic way.
 */
export class Store {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** `$DISTILL_CACHE`, else `$XDG_CACHE_HOME/distill`, else `~/.cache/distill`. */
  static defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
    if (env.DISTILL_CACHE) return env.DISTILL_CACHE;
    const xdg = env.XDG_CACHE_HOME;
    return join(xdg && xdg !== '' ? xdg : join(homedir(), '.cache'), 'distill');
  }

  blobPath(digest: Digest): string {
    return join(this.root, 'blobs', digestAlgorithm(digest), digestHex(digest));
  }

  private async tempPath(): Promise<string> {
    const dir = join(this.root, 'tmp');
    await mkdir(dir, { recursive: true });
    return join(dir, `${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      await stat(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async size(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      return undefined;
    }
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
    const out = createWriteStream(tmp);
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
    if (await this.has(digest)) return digest;
    const tmp = await this.tempPath();
    try {
      await writeFile(tmp, bytes);
    } catch (err) {
      await rm(tmp, { force: true });
      throw wrapError(err, `writing ${what} to the cache at ${this.root}`);
    }
    await this.commit(tmp, digest);
    return digest;
  }

  private async commit(tmp: string, digest: Digest): Promise<void> {
    const dest = this.blobPath(digest);
    try {
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(tmp, dest);
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
    const { handle } = await this.openBlobFile(digest);
    const verify = new VerifyStream({ digest: expected, size }, `part of cached blob ${digest}`);
    if (size === 0) {
      await handle.close();
      verify.end();
      return verify;
    }
    const file = handle.createReadStream({ start, end: start + size - 1 });
    file.on('error', (err) => verify.destroy(wrapError(err, `reading ${digest} from the cache`)));
    return file.pipe(verify);
  }

  /** Reads a (small) blob fully, verified. */
  async readBytes(digest: Digest, size?: number): Promise<Buffer> {
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

  private metaPath(key: string): string {
    return join(this.root, 'meta', digestHex(digestOf(key)));
  }

  async getMeta<T>(key: string): Promise<T | undefined> {
    try {
      const text = await readFile(this.metaPath(key), 'utf8');
      const rec = JSON.parse(text) as { key: string; value: T };
      return rec.key === key ? rec.value : undefined;
    } catch {
      return undefined;
    }
  }

  async putMeta(key: string, value: unknown): Promise<void> {
    const tmp = await this.tempPath();
    const dest = this.metaPath(key);
    await writeFile(tmp, JSON.stringify({ key, value }));
    await mkdir(join(dest, '..'), { recursive: true });
    await rename(tmp, dest);
  }

  /** Bytes and blob count in the cache. */
  async du(): Promise<{ blobs: number; bytes: number; root: string }> {
    let blobs = 0;
    let bytes = 0;
    for (const alg of await readdirSafe(join(this.root, 'blobs'))) {
      for (const name of await readdirSafe(join(this.root, 'blobs', alg))) {
        const st = await stat(join(this.root, 'blobs', alg, name)).catch(() => undefined);
        if (st?.isFile()) {
          blobs++;
          bytes += st.size;
        }
      }
    }
    return { blobs, bytes, root: this.root };
  }

  /**
   * Removes blobs not used for `olderThanMs` (all when 0), metadata records, and temp files left
   * by crashed runs (older than an hour, so a concurrent writer keeps its own).
   */
  async prune(olderThanMs = 0): Promise<{ blobs: number; bytes: number }> {
    const cutoff = Date.now() - olderThanMs;
    let blobs = 0;
    let bytes = 0;
    for (const alg of await readdirSafe(join(this.root, 'blobs'))) {
      for (const name of await readdirSafe(join(this.root, 'blobs', alg))) {
        const p = join(this.root, 'blobs', alg, name);
        const st = await stat(p).catch(() => undefined);
        if (!st?.isFile()) continue;
        if (olderThanMs > 0 && Math.max(st.atimeMs, st.mtimeMs) > cutoff) continue;
        await rm(p, { force: true });
        blobs++;
        bytes += st.size;
      }
    }
    if (olderThanMs === 0) await rm(join(this.root, 'meta'), { recursive: true, force: true });
    const hourAgo = Date.now() - 3600_000;
    for (const name of await readdirSafe(join(this.root, 'tmp'))) {
      const p = join(this.root, 'tmp', name);
      const st = await stat(p).catch(() => undefined);
      if (st && st.mtimeMs < hourAgo) await rm(p, { recursive: true, force: true });
    }
    return { blobs, bytes };
  }
}

/** Resolves once a write stream has released its file (closed, or never opened). */
export function closed(
  stream: NodeJS.WritableStream & { closed?: boolean; destroyed?: boolean },
): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    stream.once('close', () => resolve());
    if (!stream.destroyed) (stream as unknown as { destroy(): void }).destroy();
  });
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
