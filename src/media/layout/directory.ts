import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { DistillError, isDistillError, wrapError } from '../../errors.js';
import { openRegularFile, type ReadLimit, readRegularFile } from '../../store/regular.js';
import { type FileSource, normalizeMemberPath } from '../files.js';

/**
 * The files of an OCI layout directory. Every file read must be a regular file inside the layout:
 * symlinks are followed while they stay in it (one to /proc/kmsg is a "regular file" whose read
 * waits for kernel messages forever: LAYOUT_INVALID), and a FIFO, socket, device or directory
 * where a blob or index.json is expected is NOT_REGULAR_FILE (store/regular.ts), never a read
 * that blocks or never ends. `read` takes a cap that
 * is checked on the open file before anything is read (the JSON size policy, oci/limits.ts).
 */
export class DirectorySource implements FileSource {
  private realRoot: Promise<string> | undefined;

  constructor(
    readonly root: string,
    readonly description: string,
  ) {}

  private resolve(path: string): string {
    return join(this.root, normalizeMemberPath(path));
  }

  /** The path of `path` after checking that, links followed, it is still inside the layout. */
  private async inside(path: string): Promise<string> {
    const p = this.resolve(path);
    const real = await realpath(p);
    this.realRoot ??= realpath(this.root);
    const root = await this.realRoot;
    // A link to a device or FIFO is refused as what it is (NOT_REGULAR_FILE) when opened.
    if (real !== root && !real.startsWith(root === sep ? root : root + sep) && (await stat(real)).isFile()) {
      throw new DistillError(
        'LAYOUT_INVALID',
        `${this.description}: ${path} links to ${real}, outside the layout; replace the link with the file`,
      );
    }
    return p;
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
    try {
      const { handle, stats } = await openRegularFile(await this.inside(path), this.what(path));
      await handle.close();
      return stats.size;
    } catch (err) {
      throw this.failed(path, err);
    }
  }

  async read(path: string, limit?: ReadLimit): Promise<Buffer> {
    try {
      return await readRegularFile(await this.inside(path), this.what(path), limit);
    } catch (err) {
      throw this.failed(path, err);
    }
  }

  async open(path: string): Promise<Readable> {
    try {
      const { handle } = await openRegularFile(await this.inside(path), this.what(path));
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
