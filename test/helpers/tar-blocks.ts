/**
 * Tar blocks written by hand, so that a test can say what no tar writer would: negative or
 * overflowing sizes, PAX records of any shape, GNU long names, sparse headers, headers that claim
 * more than the file holds.
 */

export interface BlockFields {
  /** Its first 100 bytes (UTF-8) are written. */
  name: string;
  /** Typeflag character; `0` by default. */
  flag?: string;
  /** The size field as text (octal, 11 digits and a space, as tar writes it) or raw bytes. */
  size?: string | Buffer | number;
  mode?: string;
  uid?: Buffer;
  linkname?: string;
  /** `ustar\0` + `00` (POSIX) by default; `gnu` writes `ustar  \0`. */
  magic?: 'ustar' | 'gnu';
  /** Extra bytes written over the block at an offset before the checksum is set (e.g. 482 for GNU sparse). */
  poke?: { at: number; bytes: Buffer }[];
}

/** Octal text for a number field of `width` bytes (digits, then a space, as tar writes them). */
export function octal(n: number, width = 12): string {
  return `${n.toString(8).padStart(width - 1, '0')} `;
}

/** Sets the header checksum of a 512-byte block from its bytes. */
export function resum(block: Buffer): Buffer {
  let sum = 8 * 32;
  for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

export function tarBlock(fields: BlockFields): Buffer {
  const b = Buffer.alloc(512);
  b.write(fields.name, 0, 100, 'utf8');
  b.write(fields.mode ?? '000644 \0', 100, 'latin1');
  if (fields.uid) fields.uid.copy(b, 108);
  else b.write('000000 \0', 108, 'latin1');
  b.write('000000 \0', 116, 'latin1');
  const size = fields.size ?? 0;
  if (Buffer.isBuffer(size)) size.copy(b, 124);
  else b.write(typeof size === 'number' ? octal(size) : size, 124, 'latin1');
  b.write('00000000000 ', 136, 'latin1');
  b.write(fields.flag ?? '0', 156, 'latin1');
  if (fields.linkname !== undefined) b.write(fields.linkname, 157, 100, 'utf8');
  if (fields.magic === 'gnu') b.write('ustar  \0', 257, 'latin1');
  else b.write('ustar\u000000', 257, 'latin1');
  for (const p of fields.poke ?? []) p.bytes.copy(b, p.at);
  return resum(b);
}

/** Content padded to whole blocks. */
export function tarData(content: string | Buffer): Buffer {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  const out = Buffer.alloc(Math.ceil(buf.length / 512) * 512);
  buf.copy(out);
  return out;
}

/** One PAX record, `LEN KEY=VALUE\n`, its length counting itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  if (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len + 1).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A PAX extended header (`x`) or global header (`g`) and its records. */
export function paxHeader(records: string, flag: 'x' | 'g' = 'x', name = 'PaxHeader'): Buffer {
  const data = Buffer.from(records);
  return Buffer.concat([tarBlock({ name, flag, size: data.length }), tarData(data)]);
}

/** A regular file member. */
export function tarFile(name: string, content: string | Buffer): Buffer {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  return Buffer.concat([tarBlock({ name, size: buf.length }), tarData(buf)]);
}

/** The end-of-archive marker: two blocks of zeros. */
export const TAR_END = Buffer.alloc(1024);
