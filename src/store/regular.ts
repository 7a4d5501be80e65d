import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { DistillError } from '../errors.js';

/**
 * Opening a file that must hold a blob's bytes (a blob of an OCI layout, a store entry, a cache
 * file to link): symlinks are followed (the bytes are checked against their digest anyway, so a
 * link cannot make distill accept wrong content), but what they lead to must be a regular file.
 * A named pipe would block the open (and every read) forever, a directory fails late and oddly,
 * and a character device such as /dev/zero never ends. The file is opened with O_NONBLOCK, so
 * that a FIFO put there after the stat cannot block the open, and its type is read again with
 * fstat on the open descriptor: what is checked is what is then read.
 */
export interface RegularFile {
  handle: FileHandle;
  stats: Stats;
}

/**
 * Errors of the stat or open themselves (ENOENT...) are thrown as they are; a file of another
 * type is NOT_REGULAR_FILE. The type is checked with stat before the open too, so that a link to
 * a device never opens it (opening some devices acts: /dev/watchdog arms a timer).
 */
export async function openRegularFile(path: string, what: string): Promise<RegularFile> {
  const before = await stat(path);
  if (!before.isFile()) throw notRegular(what, before);
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw notRegular(what, stats);
    return { handle, stats };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** `what` names the file for a person (the layout and member, or the cache entry and its path). */
function notRegular(what: string, st: Stats): DistillError {
  return new DistillError(
    'NOT_REGULAR_FILE',
    `${what} is ${kindOf(st)}, not a regular file; a blob must be a file holding its bytes: remove it, or copy the image there again`,
  );
}

/** A cap on a whole-file read, checked before anything is read; `tooBig` makes the error. */
export interface ReadLimit {
  bytes: number;
  tooBig(size: number): Error;
}

/** Reads a whole regular file, refusing one larger than `limit` before reading any of it. */
export async function readRegularFile(path: string, what: string, limit?: ReadLimit): Promise<Buffer> {
  const { handle, stats } = await openRegularFile(path, what);
  try {
    if (limit !== undefined && stats.size > limit.bytes) throw limit.tooBig(stats.size);
    return await handle.readFile();
  } finally {
    await handle.close().catch(() => {});
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'of an unknown type';
}
