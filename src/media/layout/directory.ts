import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DistillError, isDistillError, wrapError } from '../../errors.js';
import { openRegularFile, type ReadLimit, readRegularFile } from '../../store/regular.js';
import { type FileSource, normalizeMemberPath } from '../files.js';

/**
 * The files of an OCI layout directory. Every file read must be a regular file (symlinks are
 * followed, see store/regular.ts): a FIFO, socket, device or directory where a blob or index.json
 * is expected is NOT_REGULAR_FILE, never a read that blocks or never ends. `read` takes a cap that
 * is checked on the open file before anything is read (the JSON size policy, oci/limits.ts).
 */
export class DirectorySource implements FileSource {
  constructor(
    readonly root: string,
    readonly description: string,
  ) {}

  private resolve(path: string): string {
    return join(this.root, normalizeMemberPath(path));
  }

  private what(path: string): string {
    return `${this.description}: ${path}`;
  }

  /** Whether anything is at `path` (reading what is there then says if it is not a file). */
  async exists(path: string): Promise<boolean> {
    try {
      await stat(this.resolve(path));
      return true;
    } catch {
      return false;
    }
  }

  async size(path: string): Promise<number> {
    const p = this.resolve(path);
    try {
      const { handle, stats } = await openRegularFile(p, this.what(path));
      await handle.close();
      return stats.size;
    } catch (err) {
      throw this.failed(path, err);
    }
  }

  async read(path: string, limit?: ReadLimit): Promise<Buffer> {
    try {
      return await readRegularFile(this.resolve(path), this.what(path), limit);
    } catch (err) {
      throw this.failed(path, err);
    }
  }

  async open(path: string): Promise<Readable> {
    try {
      const { handle } = await openRegularFile(this.resolve(path), this.what(path));
      return handle.createReadStream();
    } catch (err) {
      throw this.failed(path, err);
    }
  }

  private failed(path: string, err: unknown): DistillError {
    if (isDistillError(err)) return err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return new DistillError('BLOB_MISSING', `${this.description} has no file ${path}`, { cause: err });
    }
    return wrapError(err, `reading ${path} of ${this.description}`);
  }
}
