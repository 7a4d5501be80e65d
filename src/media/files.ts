import { constants as bufferConstants } from 'node:buffer';
import { createReadStream, type Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { DistillError, wrapError } from '../errors.js';
import { detectCompression, MAGIC_BYTES, type TarEntryType, TarReader } from '../layers/read.js';
import type { ReadLimit } from '../store/regular.js';

/**
 * Read access to the files of a layout or an archive, whether they sit in a directory, inside an
 * uncompressed tar file, or in the blob store. Lets one reader serve `oci:` and `oci-archive:`,
 * and one docker-archive reader serve files and the Docker engine's `save` stream.
 *
 * Only regular files are read: a FIFO, device or directory where a blob, index or layer is
 * expected would block a read forever or yield endless bytes, so it is refused by name.
 */
export interface FileSource {
  readonly description: string;
  exists(path: string): Promise<boolean>;
  size(path: string): Promise<number>;
  /** The whole file; with `limit`, one larger is refused before it is read (see oci/limits.ts). */
  read(path: string, limit?: ReadLimit): Promise<Buffer>;
  open(path: string): Promise<Readable>;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

/** A file read whole must fit in a Buffer (the JSON documents' own caps are far smaller). */
function tooBigToRead(description: string, path: string, size: number): void {
  if (size > bufferConstants.MAX_LENGTH) {
    throw new DistillError(
      'SIZE_MISMATCH',
      `${description}: ${path} is ${size} bytes, too large to be a document read into memory`,
    );
  }
}

/** `./a//b/` -> `a/b`; refuses paths that leave the archive. */
export function normalizeMemberPath(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..')
      throw new DistillError('ARCHIVE_INVALID', `archive member path "${path}" leaves the archive`);
    parts.push(p);
  }
  return parts.join('/');
}

interface TarMember {
  type: TarEntryType;
  /** Where the content starts in the file. */
  offset: number;
  size: number;
  /** Symlinks: the target as written; hard links: the target's normalized path. */
  linkname: string | null;
}

/** Links followed when resolving a member (symlink chains), as the kernel's MAXSYMLINKS. */
const MAX_LINKS = 40;

/**
 * Random access to the regular files of an uncompressed tar file: one pass over the headers
 * (layers/read.ts's TarReader, skipping over contents without reading them) builds an index of
 * data offsets; members are then read in place. An OCI or docker archive names its files in JSON
 * that may come after the blobs, so the whole index comes first. Symlinks and hard links to
 * regular members are followed (Docker 25 writes `<id>/layer.tar` as a symlink into `blobs/`);
 * other kinds of member are refused where a file is wanted.
 */
export class TarFileSource implements FileSource {
  private constructor(
    readonly file: string,
    readonly description: string,
    private readonly members: Map<string, TarMember>,
  ) {}

  static async open(file: string, description: string): Promise<TarFileSource> {
    let st: Stats;
    try {
      // stat before open: opening a FIFO for reading waits for a writer.
      st = await stat(file);
    } catch (err) {
      throw wrapError(err, `opening ${description}`);
    }
    if (!st.isFile()) {
      throw new DistillError('ARCHIVE_INVALID', `${description} is a ${kindOf(st)}, not an archive file`);
    }
    let fh: FileHandle;
    try {
      fh = await open(file, 'r');
    } catch (err) {
      throw wrapError(err, `opening ${description}`);
    }
    try {
      const members = await indexTar(fh, description);
      return new TarFileSource(file, description, members);
    } finally {
      await fh.close();
    }
  }

  /** The regular member a path names, links followed. */
  private member(path: string): TarMember {
    let name = normalizeMemberPath(path);
    for (let hops = 0; hops <= MAX_LINKS; hops++) {
      const m = this.members.get(name);
      if (!m) throw new DistillError('BLOB_MISSING', `${this.description} has no file ${path}`);
      if (m.type === 'file' || m.type === 'contiguous-file') return m;
      if (m.type === 'link' && m.linkname !== null) name = m.linkname;
      else if (m.type === 'symlink' && m.linkname !== null)
        name = linkTarget(name, m.linkname, this.description);
      else {
        throw new DistillError(
          'ARCHIVE_INVALID',
          `${this.description}: ${path} is a ${m.type === 'unknown' ? 'special' : m.type} member, not a regular file`,
        );
      }
    }
    throw new DistillError('ARCHIVE_INVALID', `${this.description}: ${path} is a loop of links`);
  }

  async exists(path: string): Promise<boolean> {
    try {
      this.member(path);
      return true;
    } catch {
      return false;
    }
  }

  async size(path: string): Promise<number> {
    return this.member(path).size;
  }

  async read(path: string, limit?: ReadLimit): Promise<Buffer> {
    const m = this.member(path);
    if (limit !== undefined && m.size > limit.bytes) throw limit.tooBig(m.size);
    tooBigToRead(this.description, path, m.size);
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      const { bytesRead } = await fh.read(buf, 0, m.size, m.offset);
      if (bytesRead !== m.size) throw truncated(this.description, path);
      return buf;
    } finally {
      await fh.close();
    }
  }

  async open(path: string): Promise<Readable> {
    const m = this.member(path);
    if (m.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: m.offset, end: m.offset + m.size - 1 });
  }
}

/** A symlink's target as a member path: relative to the link's directory, or to the archive's root. */
function linkTarget(link: string, target: string, description: string): string {
  const joined = target.startsWith('/') ? target : posix.join(posix.dirname(link), target);
  try {
    return normalizeMemberPath(joined);
  } catch {
    throw new DistillError(
      'ARCHIVE_INVALID',
      `${description}: ${link} links to ${target}, outside the archive`,
    );
  }
}

function truncated(description: string, what: string): DistillError {
  return new DistillError(
    'ARCHIVE_TRUNCATED',
    `${description} is truncated (${what} ends past the end of the file); write the archive again`,
  );
}

/** The members of a tar file by normalized path (a later member of the same path wins, as tar extracts). */
async function indexTar(fh: FileHandle, description: string): Promise<Map<string, TarMember>> {
  const { size } = await fh.stat();
  const head = Buffer.alloc(MAGIC_BYTES);
  const compression = detectCompression(head.subarray(0, (await fh.read(head, 0, MAGIC_BYTES, 0)).bytesRead));
  if (compression !== 'none') {
    throw new DistillError(
      'ARCHIVE_INVALID',
      `${description} is compressed (${compression}); distill reads uncompressed archives: decompress it first`,
    );
  }
  const reader = new TarReader(
    {
      size,
      read: async (buffer, position, length) => (await fh.read(buffer, 0, length, position)).bytesRead,
    },
    { what: description, code: 'ARCHIVE_INVALID', truncatedCode: 'ARCHIVE_TRUNCATED', stopAtEnd: true },
  );
  const members = new Map<string, TarMember>();
  for (let h = await reader.next(); h !== null; h = await reader.next()) {
    const name = normalizeMemberPath(h.name);
    const linkname = h.type === 'link' && h.linkname !== null ? normalizeMemberPath(h.linkname) : h.linkname;
    const m: TarMember = {
      type: h.type,
      offset: reader.position,
      size: h.type === 'directory' ? 0 : h.size,
      linkname,
    };
    if (m.offset + m.size > size) throw truncated(description, `member ${h.name}`);
    members.set(name, m);
  }
  if (!reader.endMarker) {
    if (members.size === 0)
      throw new DistillError('ARCHIVE_INVALID', `${description} is empty or not a tar file`);
    throw truncated(description, 'the archive (no end-of-archive marker)');
  }
  return members;
}
