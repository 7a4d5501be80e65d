/**
 * The two tar members of a .deb, read with layers/tar-reader.ts (distill's one tar reader) after
 * layers/compression.ts's decompression: control.tar whole into memory (bounded), data.tar entry
 * by entry to a callback. Pure: bytes in, entries out.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { decompressLayer, type TarCompression } from '../layers/compression.js';
import type { TarHeader } from '../layers/tar-header.js';
import { TarReader } from '../layers/tar-reader.js';
import { DebError, InputStreamError } from './ar.js';

export interface DebDataEntry {
  /** Normalized relative path, no leading `./` or `/`, no trailing `/`. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string | undefined;
  gname: string | undefined;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Symlink target as written; for hard links the normalized path of the target entry. */
  linkname: string | undefined;
}

/** Normalizes a path in a tar member; undefined for the root (`./`). Absolute paths and `..` are DEB_INVALID. */
export function normalizeDebPath(name: string, source?: string): string | undefined {
  if (name.includes('\0')) throw new DebError(source, `path ${JSON.stringify(name)} contains a NUL byte`);
  if (name.startsWith('/')) {
    throw new DebError(source, `data.tar entry "${name}" has an absolute path`);
  }
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new DebError(source, `data.tar entry "${name}" escapes the package root ("..")`);
    parts.push(p);
  }
  return parts.length === 0 ? undefined : parts.join('/');
}

/** Counts what comes out of a decompressor and stops past `max` bytes (a control.tar bomb). */
async function* capped(tar: Readable, max: number, onOver: () => Error): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of tar) {
    n += (chunk as Buffer).length;
    if (n > max) throw onOver();
    yield chunk as Buffer;
  }
}

/**
 * A TarReader over a compressed member's bytes, its errors DEB_INVALID naming the member (errors
 * of the input stream pass unchanged). `close` releases the decompressor.
 */
async function memberTar(
  raw: AsyncIterable<Buffer>,
  compression: TarCompression,
  what: string,
  maxTar?: { bytes: number; onOver: () => Error },
): Promise<{ reader: TarReader; close: () => void }> {
  const opts = { what, code: 'DEB_INVALID' as const, keep: (e: unknown) => e instanceof InputStreamError };
  const tar = await decompressLayer(Readable.from(raw), compression, opts);
  const input = maxTar ? capped(tar, maxTar.bytes, maxTar.onOver) : tar;
  return { reader: new TarReader(input, opts), close: () => tar.destroy() };
}

function memberWhat(source: string | undefined, member: string): string {
  return source ? `${source}: ${member}` : member;
}

/** Every regular file of control.tar by normalized name; at most `max` bytes of them together. */
export async function readControlTar(
  raw: AsyncIterable<Buffer>,
  compression: TarCompression,
  member: string,
  source: string | undefined,
  max: number,
): Promise<Map<string, Uint8Array>> {
  const overLimit = () => new DebError(source, `control.tar is larger than the limit of ${max} bytes`);
  // Headers and padding take room too: a control.tar may inflate to twice its files and 1 MiB.
  const { reader, close } = await memberTar(raw, compression, memberWhat(source, member), {
    bytes: 2 * max + 1024 * 1024,
    onOver: overLimit,
  });
  const files = new Map<string, Uint8Array>();
  let total = 0;
  try {
    for (let h = await reader.next(); h !== null; h = await reader.next()) {
      const path = normalizeDebPath(h.name, source);
      if (h.type === 'directory' && path === undefined) continue;
      if (path === undefined || (h.type !== 'file' && h.type !== 'contiguous-file')) {
        throw new DebError(source, `control.tar entry "${h.name}" is not a regular file`);
      }
      total += h.size;
      if (total > max) throw overLimit();
      if (files.has(path)) throw new DebError(source, `control.tar has "${path}" twice`);
      files.set(path, (await reader.head(h.size)).bytes);
    }
  } finally {
    close();
  }
  return files;
}

export interface DataTarOptions {
  source: string | undefined;
  onDataEntry: ((entry: DebDataEntry, body: Readable) => void | Promise<void>) | undefined;
  computeMd5: boolean;
}

/** Checks a data.tar entry against the ones before it, and says what it is. */
class DataEntries {
  private readonly seen = new Set<string>();
  private readonly symlinks = new Set<string>();

  constructor(private readonly source: string | undefined) {}

  /** The entry, or undefined for the root directory. */
  entry(h: TarHeader): DebDataEntry | undefined {
    const source = this.source;
    const path = normalizeDebPath(h.name, source);
    const type = dataType(h, source);
    if (path === undefined) {
      if (type !== 'directory')
        throw new DebError(source, `data.tar root entry "${h.name}" is not a directory`);
      return undefined;
    }
    if (this.seen.has(path)) throw new DebError(source, `data.tar has "${path}" twice`);
    // nothing may be placed below a symlink of this package (it could point anywhere)
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
      if (this.symlinks.has(path.slice(0, i))) {
        throw new DebError(source, `data.tar entry "${path}" lies below the symlink "${path.slice(0, i)}"`);
      }
    }
    let linkname: string | undefined;
    if (type === 'symlink') {
      linkname = h.linkname ?? '';
      if (linkname === '' || linkname.includes('\0')) {
        throw new DebError(source, `data.tar symlink "${path}" has an invalid target`);
      }
      this.symlinks.add(path);
    } else if (type === 'link') {
      const target = normalizeDebPath(h.linkname ?? '', source);
      if (target === undefined || !this.seen.has(target)) {
        throw new DebError(
          source,
          `data.tar hard link "${path}" points to "${h.linkname}", not an earlier entry`,
        );
      }
      linkname = target;
    }
    this.seen.add(path);
    return {
      path,
      type,
      mode: h.mode & 0o7777,
      uid: h.uid,
      gid: h.gid,
      uname: h.uname || undefined,
      gname: h.gname || undefined,
      size: type === 'file' ? h.size : 0,
      mtime: Number.isFinite(h.mtime) ? h.mtime : 0,
      linkname,
    };
  }
}

function dataType(h: TarHeader, source: string | undefined): DebDataEntry['type'] {
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
    case 'symlink':
    case 'link':
      return h.type;
    default:
      throw new DebError(
        source,
        `data.tar entry "${h.name}" is a ${h.type === 'unknown' ? 'special file' : h.type}, not allowed in a package`,
      );
  }
}

/**
 * Reads data.tar entry by entry: each is checked (DataEntries), handed to onDataEntry with its
 * body, and its content drained after the callback (hashed with MD5 when asked). Errors of the
 * callback propagate unchanged.
 */
export async function readDataTar(
  raw: AsyncIterable<Buffer>,
  compression: TarCompression,
  member: string,
  opts: DataTarOptions,
): Promise<{ count: number; md5: Map<string, string> | undefined }> {
  const { reader, close } = await memberTar(raw, compression, memberWhat(opts.source, member));
  const entries = new DataEntries(opts.source);
  const md5 = opts.computeMd5 ? new Map<string, string>() : undefined;
  let count = 0;
  try {
    for (let h = await reader.next(); h !== null; h = await reader.next()) {
      const info = entries.entry(h);
      if (info === undefined) continue;
      count++;
      let hash: Hash | undefined;
      if (md5 && info.type === 'file') {
        const hh = createHash('md5');
        reader.onContent = (chunk) => void hh.update(chunk);
        hash = hh;
      } else reader.onContent = undefined;
      if (opts.onDataEntry) {
        const body = reader.body();
        await opts.onDataEntry(info, body);
        if (!body.readableEnded && !body.destroyed) body.destroy();
      }
      // What is left unread: hashed when asked for, else skipped by next().
      if (hash) {
        await reader.drain();
        md5?.set(info.path, hash.digest('hex'));
      }
      // a hard link has its target's content (md5sums lists both names)
      const sum =
        md5 && info.type === 'link' && info.linkname !== undefined ? md5.get(info.linkname) : undefined;
      if (sum !== undefined) md5?.set(info.path, sum);
    }
  } finally {
    close();
  }
  return { count, md5 };
}
