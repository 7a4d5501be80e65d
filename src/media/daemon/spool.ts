import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';
import { readLayer } from '../../layers/read.js';
import { type Digest, Digester } from '../../oci/digest.js';
import type { HashedFiles, TransferProgress } from '../blobs.js';
import { normalizeMemberPath } from '../files.js';

/**
 * The regular files of a tar stream (the Docker engine's `images/{name}/get`), spooled into ONE
 * private temporary file and indexed there, each hashed once on its way in. The file is unlinked
 * the moment it is created: nothing is left behind whatever becomes of the process, and nothing
 * goes into the blob store, so reading an image from the engine leaves the cache as it was.
 * Its space is freed when close() is called, or when the spool is garbage collected (then its
 * file handle is closed), or when the process ends.
 *
 * Reads need no second hash: only this process can reach the bytes (see HashedFiles).
 */

interface Member {
  offset: number;
  size: number;
  digest: Digest;
}

const READ_CHUNK = 512 * 1024;

/** Closes the handle of a spool nobody holds any more. */
const release = new FinalizationRegistry<FileHandle>((handle) => {
  handle.close().catch(() => {});
});

export class SpoolFiles implements HashedFiles {
  private closed = false;

  private constructor(
    readonly description: string,
    private readonly handle: FileHandle,
    private readonly members: Map<string, Member>,
  ) {
    release.register(this, handle, this);
  }

  /**
   * Spools `stream` (an uncompressed tar) into a new unlinked file in `dir`. Fails (and frees the
   * file) when the stream errors or is not a tar.
   */
  static async fromTar(
    stream: Readable,
    opts: { dir: string; description: string; progress?: TransferProgress },
  ): Promise<SpoolFiles> {
    const handle = await openUnlinked(opts.dir);
    const members = new Map<string, Member>();
    try {
      let offset = 0;
      for await (const { header, body } of readLayer(stream, { compression: 'none' })) {
        if (header.type !== 'file' && header.type !== 'contiguous-file') continue;
        const name = normalizeMemberPath(header.name);
        const d = new Digester('sha256');
        for await (const chunk of body as AsyncIterable<Buffer>) {
          const at = offset + d.size;
          d.update(chunk);
          await writeAll(handle, chunk, at, opts);
          opts.progress?.blob?.({ digest: name, done: d.size, total: header.size, phase: 'pull' });
        }
        members.set(name, { offset, size: d.size, digest: d.digest() });
        offset += d.size;
      }
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
    return new SpoolFiles(opts.description, handle, members);
  }

  private member(path: string): Member {
    const m = this.members.get(normalizeMemberPath(path));
    if (!m) throw new DistillError('BLOB_MISSING', `${this.description} has no file ${path}`);
    return m;
  }

  hashed(path: string): { digest: Digest; size: number } | undefined {
    const m = this.members.get(normalizeMemberPath(path));
    return m && { digest: m.digest, size: m.size };
  }

  async exists(path: string): Promise<boolean> {
    return this.members.has(normalizeMemberPath(path));
  }

  async size(path: string): Promise<number> {
    return this.member(path).size;
  }

  async read(path: string): Promise<Buffer> {
    const m = this.member(path);
    const buf = Buffer.alloc(m.size);
    let done = 0;
    while (done < m.size) {
      const { bytesRead } = await this.live().read(buf, done, m.size - done, m.offset + done);
      if (bytesRead === 0) throw this.lost(path);
      done += bytesRead;
    }
    return buf;
  }

  async open(path: string): Promise<Readable> {
    const m = this.member(path);
    this.live();
    return new MemberStream(this, path, m);
  }

  /** Frees the spooled file now; its files can no longer be read. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    release.unregister(this);
    await this.handle.close();
  }

  /** @internal the open handle, for MemberStream (which holds the spool, keeping it alive). */
  live(): FileHandle {
    if (this.closed) {
      throw new DistillError('INTERNAL', `${this.description} was read after it was closed`, {
        userError: false,
      });
    }
    return this.handle;
  }

  /** @internal */
  lost(path: string): DistillError {
    return new DistillError('IO', `${this.description}: ${path} ends early in its temporary file`);
  }
}

/** A member's bytes, read from the spool with positioned reads. */
class MemberStream extends Readable {
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly spool: SpoolFiles,
    private readonly path: string,
    m: Member,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.pos = m.offset;
    this.end = m.offset + m.size;
  }

  override _read(): void {
    const len = Math.min(READ_CHUNK, this.end - this.pos);
    if (len <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(len);
    let handle: FileHandle;
    try {
      handle = this.spool.live();
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    handle.read(buf, 0, len, this.pos).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) {
          this.destroy(this.spool.lost(this.path));
          return;
        }
        this.pos += bytesRead;
        this.push(bytesRead === len ? buf : buf.subarray(0, bytesRead));
      },
      (err: Error) => this.destroy(err),
    );
  }
}

/** A new file in `dir`, open for reading and writing, already unlinked (and its directory gone). */
async function openUnlinked(dir: string): Promise<FileHandle> {
  let tmp: string;
  try {
    tmp = await mkdtemp(join(dir, 'distill-daemon-'));
  } catch (err) {
    throw new DistillError(
      'IO',
      `cannot make a temporary file in ${dir} for the image the Docker engine sends (${(err as Error).message}); set TMPDIR to a writable directory with room for it`,
      { cause: err },
    );
  }
  try {
    return await open(join(tmp, 'save.tar.spool'), 'w+', 0o600);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function writeAll(
  handle: FileHandle,
  chunk: Buffer,
  position: number,
  where: { dir: string; description: string },
): Promise<void> {
  let done = 0;
  try {
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done);
      done += bytesWritten;
    }
  } catch (err) {
    throw new DistillError(
      'IO',
      `writing the temporary copy of ${where.description} in ${where.dir} failed (${(err as Error).message}); set TMPDIR to a directory with room for the image`,
      { cause: err },
    );
  }
}
