/**
 * Tar header blocks and PAX records, decoded for layers/tar-reader.ts. The fields decode as
 * tar-stream 3 decodes them (headers.js), so that what is read does not depend on which of the two
 * parsed it, with one difference: values that cannot be right are refused (TarFormatError) instead
 * of being carried on, so that no reader built on this ever steps backwards, allocates a negative
 * or absurd buffer, or loses precision in an offset: a size field that is negative, not a number
 * or past 2^53, a PAX record whose length is not a decimal number inside its header, and a PAX
 * `size`, `uid`, `gid` or `mtime` that is not a number of the right kind.
 */

export type TarEntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'directory'
  | 'character-device'
  | 'block-device'
  | 'fifo'
  | 'contiguous-file'
  | 'unknown';

/** A tar header as read, pax records applied (path, linkpath, size, uid, gid, mtime). */
export interface TarHeader {
  /** As stored: no normalization (directories usually end with `/`, some tars start with `./`). */
  name: string;
  /**
   * `unknown` for the typeflags tar-stream does not name, GNU sparse files (old `S` headers and
   * PAX `GNU.sparse.*` ones: the content as stored is a map and pieces, not the file) included.
   */
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string | null;
  uname: string;
  gname: string;
  /** The entry's pax records (global ones merged in), or null when it had none. */
  pax: Record<string, string> | null;
}

/** A value in a header or PAX record that cannot be right; the reader turns it into a DistillError. */
export class TarFormatError extends Error {}

/** A header block as decoded, before long names and PAX records are applied. */
export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  /** A checked size: a safe integer, 0 or more. */
  size: number;
  /** Seconds, as decoded (NaN or out of range handled as a Date would). */
  mtime: number;
  /** tar-stream's type names; the long-header kinds are consumed by the reader. */
  type: string | null;
  linkname: string | null;
  uname: string;
  gname: string;
  pax: Record<string, string> | null;
}

/** The largest PAX header or GNU long name read (tar-stream's limit). */
export const MAX_LONG_HEADER = 4 * 1024 * 1024;

/** Typeflag `S`: a GNU sparse file of the old format (its map may go on in extension blocks). */
export const GNU_SPARSE = 'gnu-sparse';

function typeName(flag: number): string | null {
  switch (flag) {
    case 0:
      return 'file';
    case 1:
      return 'link';
    case 2:
      return 'symlink';
    case 3:
      return 'character-device';
    case 4:
      return 'block-device';
    case 5:
      return 'directory';
    case 6:
      return 'fifo';
    case 7:
      return 'contiguous-file';
    case 72:
      return 'pax-header';
    case 55:
      return 'pax-global-header';
    case 27:
      return 'gnu-long-link-path';
    case 28:
    case 30:
      return 'gnu-long-path';
    case 35:
      return GNU_SPARSE;
    default:
      return null;
  }
}

/** The position of the first `byte` in block[from, end), else end. */
function indexIn(block: Buffer, byte: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (block[i] === byte) return i;
  return end;
}

/** A NUL-terminated string field (UTF-8). */
export function decodeStr(block: Buffer, off: number, len: number): string {
  const end = indexIn(block, 0, off, off + len);
  return end === off ? '' : block.toString('utf8', off, end);
}

/** Base-256 numbers (first byte 0x80, or 0xff for negative), as node-tar and tar-stream read them. */
function parse256(block: Buffer, off: number, len: number): number | null {
  const first = block[off];
  let positive: boolean;
  if (first === 0x80) positive = true;
  else if (first === 0xff) positive = false;
  else return null;
  let sum = 0;
  for (let i = off + len - 1, p = 0; i > off; i--, p++) {
    const byte = block[i]!;
    sum += (positive ? byte : 0xff - byte) * 256 ** p;
  }
  return positive ? sum : -1 * sum;
}

/** An octal number field: leading spaces and NULs skipped, cut at the first space. */
function decodeOct(block: Buffer, off: number, len: number): number | null {
  const first = block[off]!;
  if ((first & 0x80) !== 0) return parse256(block, off, len);
  const end0 = off + len;
  if (first >= 0x30 && first <= 0x37) {
    // The usual field, digits first: parseInt(text, 8) stops at the first byte that is not an
    // octal digit, and so does this loop (at most 12 digits: exact). Making a string of each of
    // the 8 number fields for parseInt was half the cost of a header.
    let v = 0;
    for (let i = off; i < end0; i++) {
      const b = block[i]!;
      if (b < 0x30 || b > 0x37) break;
      v = v * 8 + (b - 0x30);
    }
    return v;
  }
  let i = off;
  while (i < end0 && block[i] === 32) i++;
  const end = indexIn(block, 32, i, end0);
  while (i < end && block[i] === 0) i++;
  if (end === i) return 0;
  return Number.parseInt(block.toString('utf8', i, end), 8);
}

/**
 * A size as a safe count of bytes. A base-256 field that is neither positive nor negative reads
 * as 0, as tar-stream reads it; a negative, unreadable or unsafely large one is refused: carried
 * on, it made readers step back over the header they had just read, or allocate what no
 * archive holds.
 */
function checkedSize(size: number | null, at: number): number {
  if (size === null) return 0;
  if (Number.isSafeInteger(size) && size >= 0) return size;
  throw new TarFormatError(`the header at byte ${at} has a size field of ${size}, not a byte count`);
}

/**
 * The header checksum: the sum of its bytes, the checksum field counted as spaces. `words`, a
 * Uint32Array over the buffer's memory, sums four bytes at a time in two 16-bit lanes (126 words
 * of at most 255 a byte stay below 0x10000 a lane) when the block is 4-aligned: summing byte by
 * byte was a third of the cost of a header.
 */
function checksum(b: Buffer, o: number, words: Uint32Array | undefined): number {
  const at = b.byteOffset + o;
  if (words !== undefined && (at & 3) === 0) {
    const w = at >>> 2;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 128; i++) {
      if (i === 37 || i === 38) continue; // bytes 148-155
      const x = words[w + i]!;
      lo += x & 0x00ff00ff;
      hi += (x >>> 8) & 0x00ff00ff;
    }
    return 8 * 32 + (lo & 0xffff) + (lo >>> 16) + (hi & 0xffff) + (hi >>> 16);
  }
  let sum = 8 * 32;
  for (let i = o; i < o + 148; i++) sum += b[i]!;
  for (let i = o + 156; i < o + 512; i++) sum += b[i]!;
  return sum;
}

/** `ustar` at 257, the magic both formats start with. */
function hasUstarMagic(b: Buffer, o: number): boolean {
  return (
    b[o + 257] === 0x75 &&
    b[o + 258] === 0x73 &&
    b[o + 259] === 0x74 &&
    b[o + 260] === 0x61 &&
    b[o + 261] === 0x72
  );
}

/** `ustar\0` at 257: POSIX ustar (and pax). */
function isUstar(b: Buffer, o: number): boolean {
  return hasUstarMagic(b, o) && b[o + 262] === 0;
}

/** `ustar ` at 257 and ` \0` at 263: GNU tar's own format. */
function isGnu(b: Buffer, o: number): boolean {
  return hasUstarMagic(b, o) && b[o + 262] === 0x20 && b[o + 263] === 0x20 && b[o + 264] === 0;
}

/**
 * The header block at b[o, o + 512), `at` its offset in the archive (for messages); null for a
 * block of zeros (end-of-archive padding).
 */
export function decodeHeader(b: Buffer, o: number, at: number, words?: Uint32Array): RawHeader | null {
  const typeflag = b[o + 156] === 0 ? 0 : b[o + 156]! - 48;
  let name = decodeStr(b, o, 100);
  const mode = decodeOct(b, o + 100, 8);
  const uid = decodeOct(b, o + 108, 8);
  const gid = decodeOct(b, o + 116, 8);
  const size = decodeOct(b, o + 124, 12);
  const mtime = decodeOct(b, o + 136, 12);
  const linkname = b[o + 157] === 0 ? null : decodeStr(b, o + 157, 100);
  const uname = decodeStr(b, o + 265, 32);
  const gname = decodeStr(b, o + 297, 32);
  const c = checksum(b, o, words);
  if (c === 8 * 32) return null;
  if (c !== decodeOct(b, o + 148, 8)) {
    throw new TarFormatError(`bad tar header checksum at byte ${at}; is it compressed, or damaged?`);
  }
  if (isUstar(b, o)) {
    if (b[o + 345]) name = `${decodeStr(b, o + 345, 155)}/${name}`;
  } else if (!isGnu(b, o)) {
    throw new TarFormatError(`the header at byte ${at} is of an unknown tar format`);
  }
  // tar-stream gives mode, uid and gid as decoded (null for a bad base-256 field, read as 0
  // here) and the mtime through a Date: its seconds, or NaN past the Date range of +-8.64e15 ms.
  return {
    name,
    mode: mode ?? 0,
    uid: uid ?? 0,
    gid: gid ?? 0,
    size: checkedSize(size, at),
    mtime: mtime === null ? 0 : Math.abs(mtime) <= 8.64e12 ? mtime + 0 : Number.NaN,
    type: typeName(typeflag),
    linkname,
    uname,
    gname,
    pax: null,
  };
}

/** An old GNU sparse header (`S`) says its map goes on in an extension block (isextended, byte 482). */
export function sparseExtended(b: Buffer, o: number): boolean {
  return b[o + 482] !== 0;
}

/** The `isextended` byte of a GNU sparse extension block (byte 504). */
export function sparseExtensionContinues(b: Buffer): boolean {
  return b[504] !== 0;
}

const DECIMAL = /^[0-9]+$/;

/**
 * PAX extended header records (`LEN KEY=VALUE\n`, LEN counting the whole record). `at` is the
 * header's offset, for messages. A record whose length is not a decimal number that stays inside
 * the data, or that does not end in a newline, is refused: GNU tar refuses it too ("malformed
 * extended header"), and a length of 0 or one running backwards is how a parser is made to stop
 * moving. NULs after the last record (padding some writers count in) end the records.
 */
export function decodePax(buf: Buffer, at: number): Record<string, string> {
  const result: Record<string, string> = {};
  let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0 && buf.subarray(i).every((x) => x === 0)) break;
    const sp = indexIn(buf, 0x20, i, Math.min(buf.length, i + 20));
    const digits = buf.toString('latin1', i, sp);
    const len = DECIMAL.test(digits) ? Number(digits) : Number.NaN;
    if (!(len > sp - i + 1) || i + len > buf.length || buf[i + len - 1] !== 0x0a) {
      throw new TarFormatError(`the PAX header at byte ${at} has a malformed record at its byte ${i}`);
    }
    const record = buf.toString('utf8', sp + 1, i + len - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) {
      throw new TarFormatError(`the PAX header at byte ${at} has a record without a key at its byte ${i}`);
    }
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    checkPaxValue(key, value, at);
    result[key] = value;
    i += len;
  }
  return result;
}

/** The numeric PAX records distill reads must hold numbers it can use. */
function checkPaxValue(key: string, value: string, at: number): void {
  if (key === 'size') {
    if (!DECIMAL.test(value) || !Number.isSafeInteger(Number(value))) {
      throw new TarFormatError(`the PAX header at byte ${at} has size=${clip(value)}, not a byte count`);
    }
  } else if (key === 'uid' || key === 'gid' || key === 'mtime') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new TarFormatError(`the PAX header at byte ${at} has ${key}=${clip(value)}, not a number`);
    }
  }
}

function clip(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

/** The PAX records of GNU tar's sparse formats (0.0, 0.1, 1.0). */
export function isPaxSparse(pax: Record<string, string>): boolean {
  return (
    pax['GNU.sparse.major'] !== undefined ||
    pax['GNU.sparse.map'] !== undefined ||
    pax['GNU.sparse.numblocks'] !== undefined ||
    pax['GNU.sparse.size'] !== undefined
  );
}

function tarType(t: string | null | undefined): TarEntryType {
  switch (t) {
    case 'file':
    case 'link':
    case 'symlink':
    case 'directory':
    case 'character-device':
    case 'block-device':
    case 'fifo':
    case 'contiguous-file':
      return t;
    default:
      return 'unknown';
  }
}

function paxNumber(pax: Record<string, string> | null, key: string, fallback: number): number {
  const v = pax?.[key];
  if (v === undefined) return fallback;
  const n = Number(v); // checked by decodePax
  return key === 'mtime' ? Math.floor(n) : n;
}

export function toHeader(h: RawHeader): TarHeader {
  const pax = h.pax;
  return {
    name: h.name,
    type: pax !== null && isPaxSparse(pax) ? 'unknown' : tarType(h.type),
    mode: h.mode,
    uid: paxNumber(pax, 'uid', h.uid),
    gid: paxNumber(pax, 'gid', h.gid),
    size: h.size,
    mtime: paxNumber(pax, 'mtime', h.mtime),
    linkname: h.linkname,
    uname: h.uname,
    gname: h.gname,
    pax,
  };
}

/** Bytes of padding after `size` bytes of content. */
export function padding(size: number): number {
  const r = size % 512;
  return r === 0 ? 0 : 512 - r;
}
