import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DistillError, wrapError } from '../errors.js';
import type { ReadLimit } from '../store/regular.js';

/**
 * Read access to the files of a layout or an archive, whether they sit in a directory, inside an
 * uncompressed tar file, or in the blob store. Lets one reader serve `oci:` and `oci-archive:`,
 * and one docker-archive reader serve files and the Docker engine's `save` stream.
 */
export interface FileSource {
  readonly description: string;
  exists(path: string): Promise<boolean>;
  size(path: string): Promise<number>;
  /** The whole file; with `limit`, one larger is refused before it is read (see oci/limits.ts). */
  read(path: string, limit?: ReadLimit): Promise<Buffer>;
  open(path: string): Promise<Readable>;
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
  offset: number;
  size: number;
}

/**
 * Random access to the regular files of an uncompressed tar file: one pass over the headers
 * builds an index of data offsets; members are then read in place. tar-stream only offers a
 * sequential extract with no offsets, and an OCI or docker archive names its files in JSON that
 * may come after the blobs, so this small index is written by hand. Handles ustar prefixes,
 * PAX `path`/`size` records and GNU long names.
 */
export class TarFileSource implements FileSource {
  private constructor(
    readonly file: string,
    readonly description: string,
    private readonly members: Map<string, TarMember>,
  ) {}

  static async open(file: string, description: string): Promise<TarFileSource> {
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

  private member(path: string): TarMember {
    const m = this.members.get(normalizeMemberPath(path));
    if (!m) throw new DistillError('BLOB_MISSING', `${this.description} has no file ${path}`);
    return m;
  }

  async exists(path: string): Promise<boolean> {
    return this.members.has(normalizeMemberPath(path));
  }

  async size(path: string): Promise<number> {
    return this.member(path).size;
  }

  async read(path: string): Promise<Buffer> {
    const m = this.member(path);
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

function truncated(description: string, what: string): DistillError {
  return new DistillError(
    'ARCHIVE_TRUNCATED',
    `${description} is truncated (${what} ends past the end of the file); write the archive again`,
  );
}

function parseOctal(buf: Buffer, start: number, len: number): number {
  // GNU base-256 for sizes >= 8 GiB
  if ((buf[start]! & 0x80) !== 0) {
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + buf[i]!;
    return n;
  }
  const s = buf
    .subarray(start, start + len)
    .toString('latin1')
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return Number.NaN;
  return Number.parseInt(s, 8);
}

function cString(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number.parseInt(data.subarray(i, sp).toString('latin1'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

async function indexTar(fh: FileHandle, description: string): Promise<Map<string, TarMember>> {
  const { size: fileSize } = await fh.stat();
  const members = new Map<string, TarMember>();
  const header = Buffer.alloc(512);
  let pos = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let sawEnd = false;
  while (pos + 512 <= fileSize) {
    const { bytesRead } = await fh.read(header, 0, 512, pos);
    if (bytesRead < 512) throw truncated(description, 'a header');
    if (header.every((b) => b === 0)) {
      sawEnd = true;
      break;
    }
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    const stored = parseOctal(header, 148, 8);
    if (stored !== sum) {
      throw new DistillError(
        'ARCHIVE_INVALID',
        `${description} is not a valid tar file (bad header checksum at byte ${pos}); is it compressed or damaged?`,
      );
    }
    let size = parseOctal(header, 124, 12);
    if (!Number.isFinite(size) || size < 0) {
      throw new DistillError(
        'ARCHIVE_INVALID',
        `${description} has a tar header with a bad size at byte ${pos}`,
      );
    }
    const type = String.fromCharCode(header[156] || 0x30);
    const dataStart = pos + 512;
    if (pax.size !== undefined) size = Number.parseInt(pax.size, 10);
    if (dataStart + size > fileSize) throw truncated(description, `member at byte ${pos}`);
    if (type === 'x' || type === 'L') {
      const data = Buffer.alloc(size);
      await fh.read(data, 0, size, dataStart);
      if (type === 'x') pax = { ...pax, ...parsePax(data) };
      else longName = cString(data, 0, size);
    } else if (type === 'g') {
      // global PAX header: nothing we need
    } else {
      let name = cString(header, 0, 100);
      const magic = header.subarray(257, 263).toString('latin1');
      if (magic.startsWith('ustar')) {
        const prefix = cString(header, 345, 155);
        if (prefix !== '') name = `${prefix}/${name}`;
      }
      if (longName !== undefined) name = longName;
      if (pax.path !== undefined) name = pax.path;
      if (type === '0' || type === '\0' || type === '7') {
        members.set(normalizeMemberPath(name), { offset: dataStart, size });
      }
      pax = {};
      longName = undefined;
    }
    pos = dataStart + Math.ceil(size / 512) * 512;
  }
  if (!sawEnd) {
    if (members.size === 0)
      throw new DistillError('ARCHIVE_INVALID', `${description} is empty or not a tar file`);
    throw truncated(description, 'the archive (no end-of-archive marker)');
  }
  return members;
}
