/**
 * A deterministic POSIX tar (pax) header encoder. Written here rather than taken from a library
 * so that the bytes of a layer are defined by this file alone: a dependency update cannot change
 * a digest.
 *
 * Format, one entry:
 * - a ustar header block (magic `ustar\0`, version `00`); numeric fields are zero-padded octal
 *   followed by NUL, the checksum is six octal digits, NUL, space; uname/gname are empty;
 *   devmajor/devminor are zero; directory names end with `/`;
 * - names longer than 100 bytes are split over the ustar prefix/name fields when a `/` allows it;
 * - a pax extended header (typeflag `x`) comes first when something does not fit ustar: a name
 *   that cannot be split or is not ASCII (`path`), a link name over 100 bytes or not ASCII
 *   (`linkpath`), uid/gid over 0o7777777 (`uid`, `gid`), a size of 8 GiB or more (`size`), and
 *   extended attributes (`SCHILY.xattr.<name>`); records are sorted by key. The pax header is
 *   named `<dir>/PaxHeaders.0/<base>` (as Go's archive/tar names it) with mode 0o644, owner 0:0
 *   and the entry's mtime;
 * - the archive ends with two zero blocks, without padding to a 10 KiB record.
 */

export const BLOCK = 512;

export type TarType = 'file' | 'hardlink' | 'symlink' | 'dir';

export interface TarHeaderFields {
  /** Relative path without a trailing slash; `/` is added for directories. */
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  /** Sorted [name, value] pairs. */
  xattrs?: readonly (readonly [string, string])[];
}

const TYPEFLAG: Record<TarType, number> = { file: 0x30, hardlink: 0x31, symlink: 0x32, dir: 0x35 };
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);

export function paddingFor(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e || s.charCodeAt(i) < 0x20) return false;
  return true;
}

/** Writes `value` as zero-padded octal into `len - 1` digits followed by NUL. */
function writeOctal(buf: Buffer, offset: number, len: number, value: number): void {
  const digits = value.toString(8).padStart(len - 1, '0');
  buf.write(digits, offset, len - 1, 'ascii');
  buf[offset + len - 1] = 0;
}

/** Writes the UTF-8 bytes of `s`, cut to `len` bytes. */
function writeString(buf: Buffer, offset: number, len: number, s: string): void {
  Buffer.from(s, 'utf8').copy(buf, offset, 0, len);
}

/** Splits a name over the ustar prefix (155) and name (100) fields; undefined when impossible. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (name.length <= 100) return { prefix: '', name };
  // The last slash that leaves at most 100 bytes after it, if what comes before fits 155 bytes.
  // A trailing slash (directories) stays with the name part.
  const body = name.endsWith('/') ? name.slice(0, -1) : name;
  for (let i = body.lastIndexOf('/'); i > 0; i = body.lastIndexOf('/', i - 1)) {
    const rest = name.length - i - 1;
    if (rest > 100) return undefined;
    if (i <= 155) return { prefix: name.slice(0, i), name: name.slice(i + 1) };
  }
  return undefined;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body, 'utf8');
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length !== String(bodyLen).length) len = bodyLen + String(len).length;
  return Buffer.from(`${len}${body}`, 'utf8');
}

function paxHeaderName(name: string): string {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  const i = trimmed.lastIndexOf('/');
  const dir = i < 0 ? '' : `${trimmed.slice(0, i)}/`;
  const base = trimmed.slice(i + 1);
  const full = `${dir}PaxHeaders.0/${base}`.replace(/[^\x20-\x7e]/g, '_');
  return full.length > 100 ? full.slice(0, 100) : full;
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: number;
  linkname: string;
}

function ustarBlock(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, 0, 100, f.name);
  writeOctal(b, 100, 8, f.mode);
  writeOctal(b, 108, 8, f.uid);
  writeOctal(b, 116, 8, f.gid);
  writeOctal(b, 124, 12, f.size);
  writeOctal(b, 136, 12, f.mtime);
  b.fill(0x20, 148, 156); // checksum computed with its field as spaces
  b[156] = f.typeflag;
  writeString(b, 157, 100, f.linkname);
  b.write('ustar\0', 257, 6, 'ascii');
  b.write('00', 263, 2, 'ascii');
  writeOctal(b, 329, 8, 0);
  writeOctal(b, 337, 8, 0);
  writeString(b, 345, 155, f.prefix);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'ascii');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

/** Encodes the header block(s) of one entry: [pax header, pax records, padding,] ustar header. */
export function encodeHeader(h: TarHeaderFields): Buffer {
  if (!Number.isSafeInteger(h.mtime) || h.mtime < 0)
    throw new RangeError(`mtime ${h.mtime} is not a valid time`);
  const fullName = h.type === 'dir' ? `${h.path}/` : h.path;
  const linkname = h.linkname ?? '';
  const pax: [string, string][] = [];

  let split = isAscii(fullName) ? splitUstar(fullName) : undefined;
  if (split === undefined) {
    pax.push(['path', fullName]);
    split = { prefix: '', name: fullName };
  }
  if (Buffer.byteLength(linkname, 'utf8') > 100 || !isAscii(linkname)) pax.push(['linkpath', linkname]);
  let { uid, gid, size, mtime } = h;
  if (uid > MAX_OCTAL_7) {
    pax.push(['uid', String(uid)]);
    uid = 0;
  }
  if (gid > MAX_OCTAL_7) {
    pax.push(['gid', String(gid)]);
    gid = 0;
  }
  if (size > MAX_OCTAL_11) {
    pax.push(['size', String(size)]);
    size = 0;
  }
  if (mtime > MAX_OCTAL_11) {
    pax.push(['mtime', String(mtime)]);
    mtime = 0;
  }
  for (const [k, v] of h.xattrs ?? []) pax.push([`SCHILY.xattr.${k}`, v]);

  const main = ustarBlock({
    name: split.name,
    prefix: split.prefix,
    mode: h.mode & 0o7777,
    uid,
    gid,
    size,
    mtime,
    typeflag: TYPEFLAG[h.type],
    linkname,
  });
  if (pax.length === 0) return main;

  pax.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const records = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const paxHeader = ustarBlock({
    name: paxHeaderName(fullName),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime,
    typeflag: 0x78, // 'x'
    linkname: '',
  });
  return Buffer.concat([paxHeader, records, paddingFor(records.length), main]);
}
