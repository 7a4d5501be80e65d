/**
 * Streaming reader for Debian binary packages (deb(5)): an ar archive holding `debian-binary`
 * (format 2.x), `control.tar[.gz|.xz|.zst]` and `data.tar[.gz|.xz|.zst]`, in that order
 * (members named `_*` may sit in between and are skipped). The control member is read into
 * memory (bounded); the data member is decompressed and parsed as it streams, each entry handed
 * to a callback, never buffered whole. Pure: the caller supplies the byte stream.
 *
 * Data paths are normalized (`./usr/bin/x` -> `usr/bin/x`); absolute paths, `..` components,
 * entries below a symlink of the same package, duplicate paths, hard links to unknown entries and
 * device nodes / fifos are DEB_INVALID, naming the path.
 */
import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import * as tar from 'tar-stream';
import xzDecompress from 'xz-decompress';
import { DistillError, isDistillError } from '../errors.js';
import { type Paragraph, parseDeb822Single } from './deb822.js';
import { isValidPackageName } from './relations.js';
import { parseVersion } from './version.js';

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd';

export type MaintainerScript = 'preinst' | 'postinst' | 'prerm' | 'postrm' | 'config';
const SCRIPTS: readonly MaintainerScript[] = ['preinst', 'postinst', 'prerm', 'postrm', 'config'];

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

export interface ReadDebOptions {
  /** Names the package in error messages (a file name or URL). */
  source?: string;
  /**
   * Called for each data.tar entry in archive order (the root `./` directory is not reported).
   * `body` streams a file's content; it is drained after the callback returns if left unread.
   */
  onDataEntry?: (entry: DebDataEntry, body: Readable) => void | Promise<void>;
  /** Compute the MD5 of every regular file in data.tar (DebInfo.dataMd5sums). */
  computeMd5?: boolean;
  /** Limit for the decompressed control member (all files together); default 64 MiB. */
  maxControlSize?: number;
  /** Limit for one control field; default 16 MiB (see deb822). */
  maxFieldSize?: number;
}

export interface DebInfo {
  /** Contents of debian-binary, trimmed, e.g. `2.0`. */
  formatVersion: string;
  control: Paragraph;
  /** The raw `control` file. */
  controlText: string;
  /** Path (normalized, as in data entries) -> md5 hex, from the md5sums control file. */
  md5sums: Map<string, string> | undefined;
  /** The raw md5sums file. */
  md5sumsText: string | undefined;
  /** Conffile paths (absolute, as listed; flags such as `remove-on-upgrade` dropped). */
  conffiles: string[];
  scripts: Partial<Record<MaintainerScript, string>>;
  /** Every regular file of control.tar by name (control, md5sums, shlibs, triggers, ...). */
  controlFiles: Map<string, Uint8Array>;
  controlCompression: Compression;
  dataCompression: Compression;
  /** Number of data.tar entries (when the data member was parsed). */
  dataEntries: number | undefined;
  /** MD5 of each regular file in data.tar, when computeMd5 was set. */
  dataMd5sums: Map<string, string> | undefined;
}

const DEFAULT_MAX_CONTROL = 64 * 1024 * 1024;
const AR_MAGIC = '!<arch>\n';
const AR_HEADER = 60;

class DebError extends DistillError {
  constructor(source: string | undefined, message: string, cause?: unknown) {
    super('DEB_INVALID', `${source ? `${source}: ` : ''}${message}`, cause === undefined ? {} : { cause });
  }
}

/** An error of the input stream itself (I/O, network): passed to the caller unchanged. */
class InputStreamError extends Error {
  readonly original: unknown;
  constructor(original: unknown) {
    super('input stream failed');
    this.original = original;
  }
}

/** Pulls exact byte counts out of a chunk stream. */
class ByteReader {
  private readonly it: AsyncIterator<unknown>;
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(input: AsyncIterable<unknown>) {
    this.it = input[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    while (this.buf.length === 0 && !this.eof) {
      let r: IteratorResult<unknown>;
      try {
        r = await this.it.next();
      } catch (err) {
        throw new InputStreamError(err);
      }
      if (r.done) {
        this.eof = true;
        break;
      }
      const v = r.value;
      if (typeof v === 'string') this.buf = Buffer.from(v, 'latin1');
      else if (v instanceof Uint8Array) this.buf = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      else throw new TypeError('readDeb: the input stream must yield bytes');
    }
    return this.buf.length > 0;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.more());
  }

  /** Up to n bytes from what is buffered (at least one unless at end). */
  private async some(n: number): Promise<Buffer | undefined> {
    if (!(await this.more())) return undefined;
    const take = Math.min(n, this.buf.length);
    const out = this.buf.subarray(0, take);
    this.buf = this.buf.subarray(take);
    this.position += take;
    return out;
  }

  /** Exactly n bytes, or undefined when the stream ends first (with the bytes read so far lost). */
  async exact(n: number): Promise<Buffer | undefined> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const b = await this.some(n - got);
      if (!b) return undefined;
      parts.push(b);
      got += b.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Yields exactly n bytes in chunks; onShort is thrown when the stream ends first. */
  async *take(n: number, onShort: () => Error): AsyncGenerator<Buffer, void, undefined> {
    let left = n;
    while (left > 0) {
      const b = await this.some(left);
      if (!b) throw onShort();
      left -= b.length;
      yield b;
    }
  }
}

interface ArMember {
  name: string;
  size: number;
  /** Offset of the header in the archive, for messages. */
  offset: number;
}

function parseArHeader(h: Buffer, offset: number, source: string | undefined): ArMember {
  const text = h.toString('latin1');
  if (text.slice(58, 60) !== '`\n') {
    throw new DebError(source, `ar member header at offset ${offset} is corrupt (bad terminator)`);
  }
  let name = text.slice(0, 16).trimEnd();
  if (name.endsWith('/') && name !== '/' && name !== '//') name = name.slice(0, -1);
  if (name === '' || name === '/' || name === '//' || name.startsWith('#1/')) {
    throw new DebError(
      source,
      `ar member at offset ${offset} uses a symbol table or long-name form ("${name}"), not allowed in a .deb`,
    );
  }
  if (!/^[\x21-\x7e]+$/.test(name)) {
    throw new DebError(source, `ar member at offset ${offset} has an invalid name`);
  }
  const sizeText = text.slice(48, 58).trim();
  if (!/^[0-9]+$/.test(sizeText)) {
    throw new DebError(source, `ar member ${name} has an invalid size field "${sizeText}"`);
  }
  return { name, size: Number(sizeText), offset };
}

function compressionOf(member: string, base: 'control.tar' | 'data.tar', source?: string): Compression {
  const ext = member.slice(base.length);
  switch (ext) {
    case '':
      return 'none';
    case '.gz':
      return 'gzip';
    case '.xz':
      return 'xz';
    case '.zst':
      return 'zstd';
    case '.bz2':
    case '.lzma':
      throw new DebError(
        source,
        `${member}: ${ext === '.bz2' ? 'bzip2' : 'lzma'} compression is not supported (only none, gzip, xz and zstd)`,
      );
    default:
      throw new DebError(source, `unknown ${base} member "${member}"`);
  }
}

async function* gunzip(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createGunzip();
  const done = pipeline(Readable.from(src), z);
  done.catch(() => {});
  for await (const chunk of z) yield chunk as Buffer;
  await done;
}

async function* unxz(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const web = Readable.toWeb(Readable.from(src));
  const XzReadableStream = (xzDecompress as unknown as { XzReadableStream: new (s: unknown) => unknown })
    .XzReadableStream;
  const out = new XzReadableStream(web) as AsyncIterable<Uint8Array>;
  for await (const chunk of out) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const pending: Uint8Array[] = [];
  const d = new ZstdDecompress((data) => {
    // fzstd may reuse its buffers: copy
    pending.push(Uint8Array.prototype.slice.call(data));
  });
  for await (const chunk of src) {
    d.push(chunk);
    while (pending.length > 0) {
      const c = pending.shift()!;
      yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    }
  }
  d.push(new Uint8Array(0), true);
  for (const c of pending) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

function decompress(kind: Compression, src: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  switch (kind) {
    case 'none':
      return src;
    case 'gzip':
      return gunzip(src);
    case 'xz':
      return unxz(src);
    case 'zstd':
      return unzstd(src);
  }
}

/**
 * Normalizes a tar member path to a relative path; undefined for the archive root (`./`).
 * Absolute paths and `..` components are DEB_INVALID.
 */
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

type TarHeader = tar.Header;

/**
 * Moves one tar entry's bytes into `body` with backpressure. If the consumer destroys `body`,
 * the rest of the entry is read and discarded: a tar-stream entry must never be destroyed
 * itself, that would destroy the whole extraction. `tap` sees every byte either way.
 */
function pumpEntry(
  entry: tar.Extract extends AsyncIterable<infer S> ? S : never,
  body: PassThrough,
  tap?: (chunk: Buffer) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let ended = false;
    let discarding = false;
    entry.on('data', (data: unknown) => {
      const chunk = data as Buffer;
      tap?.(chunk);
      if (discarding) return;
      if (body.destroyed) {
        discarding = true;
        return;
      }
      if (!body.write(chunk)) entry.pause();
    });
    entry.on('end', () => {
      ended = true;
      if (!body.destroyed) body.end();
      resolve();
    });
    entry.on('error', (err: Error) => {
      body.destroy(err);
      reject(err);
    });
    body.on('drain', () => entry.resume());
    body.on('close', () => {
      if (!ended) {
        discarding = true;
        entry.resume();
      }
    });
  });
}

/**
 * Parses a tar stream, calling onEntry for each entry in order with the body as a Node stream;
 * bodies left unread are drained after the callback. A function returned by onEntry runs once
 * the entry has been read to its end.
 */
async function readTar(
  chunks: AsyncIterable<Buffer>,
  onEntry: (header: TarHeader, body: Readable) => Promise<(() => void) | undefined>,
  tap?: (header: TarHeader) => ((chunk: Buffer) => void) | undefined,
): Promise<void> {
  const extract = tar.extract();
  const feed = pipeline(Readable.from(chunks), extract);
  feed.catch(() => {});
  try {
    for await (const entry of extract) {
      const body = new PassThrough();
      const pumped = pumpEntry(entry, body, tap?.(entry.header));
      pumped.catch(() => {});
      const after = await onEntry(entry.header, body);
      if (!body.destroyed && !body.readableEnded) body.resume();
      await pumped;
      after?.();
    }
  } catch (err) {
    extract.destroy(err as Error);
    throw err;
  }
  await feed;
}

function wrapFormatError(err: unknown, source: string | undefined, what: string): Error {
  if (err instanceof InputStreamError) return err;
  if (isDistillError(err)) {
    if (err.code === 'DEB_INVALID') return err;
    return new DebError(source, `${what}: ${err.message}`, err);
  }
  if (err instanceof TypeError) return err; // a bug, or a caller's callback
  return new DebError(source, `${what}: ${(err as Error)?.message ?? String(err)}`, err);
}

function parseMd5sums(text: string, source: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{32}) [ *]?(.+)$/.exec(line);
    if (!m) throw new DebError(source, `md5sums line ${n} is malformed`);
    const raw = m[2]!.replace(/^\/+/, '');
    const path = normalizeDebPath(raw, source);
    if (path === undefined) throw new DebError(source, `md5sums line ${n} names no file`);
    out.set(path, m[1]!.toLowerCase());
  }
  return out;
}

/**
 * Reads a .deb from a byte stream. The whole stream is consumed (the caller can hash it
 * alongside). Throws DEB_INVALID for anything malformed.
 */
export async function readDeb(
  input: Readable | AsyncIterable<Uint8Array>,
  opts: ReadDebOptions = {},
): Promise<DebInfo> {
  try {
    return await readDebUnwrapped(input, opts);
  } catch (err) {
    if (err instanceof InputStreamError) throw err.original;
    throw err;
  }
}

async function readDebUnwrapped(
  input: Readable | AsyncIterable<Uint8Array>,
  opts: ReadDebOptions,
): Promise<DebInfo> {
  const source = opts.source;
  const reader = new ByteReader(input as AsyncIterable<unknown>);
  const truncated = (what: string) => () =>
    new DebError(source, `truncated: the archive ends inside ${what}`);

  const magic = await reader.exact(AR_MAGIC.length);
  if (!magic || magic.toString('latin1') !== AR_MAGIC) {
    throw new DebError(source, 'not a Debian package (no "!<arch>" ar magic)');
  }

  const nextMember = async (): Promise<ArMember | undefined> => {
    if (await reader.atEnd()) return undefined;
    const offset = reader.position;
    const h = await reader.exact(AR_HEADER);
    if (!h) throw truncated(`the ar member header at offset ${offset}`)();
    return parseArHeader(h, offset, source);
  };
  const skipPad = async (m: ArMember, lenientAtEnd: boolean) => {
    if (m.size % 2 === 0) return;
    if (await reader.atEnd()) {
      if (lenientAtEnd) return;
      throw truncated(`the padding after ${m.name}`)();
    }
    await reader.exact(1);
  };
  const body = (m: ArMember) => reader.take(m.size, truncated(`member ${m.name} (${m.size} bytes declared)`));
  const drain = async (m: ArMember) => {
    for await (const _ of body(m)) {
      // discard
    }
  };
  const nextNonReserved = async (): Promise<ArMember | undefined> => {
    for (;;) {
      const m = await nextMember();
      if (!m?.name.startsWith('_')) return m;
      await drain(m);
      await skipPad(m, true);
    }
  };

  // debian-binary
  const first = await nextMember();
  if (!first) throw new DebError(source, 'empty ar archive');
  if (first.name !== 'debian-binary') {
    throw new DebError(source, `first member is "${first.name}", expected debian-binary`);
  }
  if (first.size > 4096) throw new DebError(source, 'debian-binary member is implausibly large');
  const dbBytes = await reader.exact(first.size);
  if (!dbBytes) throw truncated('member debian-binary')();
  await skipPad(first, false);
  const formatVersion = dbBytes.toString('latin1').split('\n')[0]!.trim();
  if (!/^2\.[0-9]+$/.test(formatVersion)) {
    throw new DebError(source, `unsupported package format version "${formatVersion}" (expected 2.x)`);
  }

  // control.tar
  const controlMember = await nextNonReserved();
  if (!controlMember?.name.startsWith('control.tar')) {
    throw new DebError(
      source,
      controlMember ? `expected control.tar member, found "${controlMember.name}"` : 'no control.tar member',
    );
  }
  const controlCompression = compressionOf(controlMember.name, 'control.tar', source);
  const maxControl = opts.maxControlSize ?? DEFAULT_MAX_CONTROL;
  const controlFiles = new Map<string, Uint8Array>();
  let controlTotal = 0;
  try {
    await readTar(decompress(controlCompression, body(controlMember)), async (h, entry) => {
      const path = normalizeDebPath(h.name, source);
      const type = h.type ?? 'file';
      if (type === 'directory' && path === undefined) return undefined;
      if (path === undefined || (type !== 'file' && type !== 'contiguous-file')) {
        throw new DebError(source, `control.tar entry "${h.name}" is not a regular file`);
      }
      const size = h.size ?? 0;
      controlTotal += size;
      if (controlTotal > maxControl) {
        throw new DebError(source, `control.tar is larger than the limit of ${maxControl} bytes`);
      }
      if (controlFiles.has(path)) throw new DebError(source, `control.tar has "${path}" twice`);
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(c as Buffer);
      controlFiles.set(path, Buffer.concat(parts));
      return undefined;
    });
  } catch (err) {
    throw wrapFormatError(err, source, `reading ${controlMember.name}`);
  }
  await skipPad(controlMember, false);

  const controlBytes = controlFiles.get('control');
  if (!controlBytes) throw new DebError(source, 'control.tar has no control file');
  const controlText = Buffer.from(controlBytes).toString('utf8');
  let control: Paragraph;
  try {
    control = parseDeb822Single(controlBytes, {
      source: 'control',
      allowComments: false,
      ...(opts.maxFieldSize === undefined ? {} : { maxFieldSize: opts.maxFieldSize }),
    });
    const pkg = control.require('Package');
    if (!isValidPackageName(pkg)) throw new DebError(source, `invalid package name "${pkg}" in control`);
    parseVersion(control.require('Version'));
    control.require('Architecture');
  } catch (err) {
    throw wrapFormatError(err, source, 'control file');
  }

  const md5Bytes = controlFiles.get('md5sums');
  const md5sumsText = md5Bytes ? Buffer.from(md5Bytes).toString('utf8') : undefined;
  const md5sums = md5sumsText === undefined ? undefined : parseMd5sums(md5sumsText, source);
  const conffilesBytes = controlFiles.get('conffiles');
  const conffiles = conffilesBytes
    ? Buffer.from(conffilesBytes)
        .toString('utf8')
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[0] ?? '')
        .filter((l) => l !== '')
    : [];
  const scripts: Partial<Record<MaintainerScript, string>> = {};
  for (const s of SCRIPTS) {
    const b = controlFiles.get(s);
    if (b) scripts[s] = Buffer.from(b).toString('utf8');
  }

  // data.tar
  const dataMember = await nextNonReserved();
  if (!dataMember?.name.startsWith('data.tar')) {
    throw new DebError(
      source,
      dataMember ? `expected data.tar member, found "${dataMember.name}"` : 'no data.tar member',
    );
  }
  const dataCompression = compressionOf(dataMember.name, 'data.tar', source);
  let dataEntries: number | undefined;
  let dataMd5sums: Map<string, string> | undefined;
  if (opts.onDataEntry || opts.computeMd5) {
    const r = await readData(body(dataMember), dataCompression, dataMember.name, opts);
    dataEntries = r.count;
    dataMd5sums = r.md5;
  } else {
    await drain(dataMember);
  }
  await skipPad(dataMember, true);

  // anything after data.tar: well-formed members, ignored
  for (;;) {
    const m = await nextMember();
    if (!m) break;
    await drain(m);
    await skipPad(m, true);
  }

  return {
    formatVersion,
    control,
    controlText,
    md5sums,
    md5sumsText,
    conffiles,
    scripts,
    controlFiles,
    controlCompression,
    dataCompression,
    dataEntries,
    dataMd5sums,
  };
}

async function readData(
  raw: AsyncIterable<Buffer>,
  compression: Compression,
  memberName: string,
  opts: ReadDebOptions,
): Promise<{ count: number; md5: Map<string, string> | undefined }> {
  const source = opts.source;
  const seen = new Set<string>();
  const symlinks = new Set<string>();
  const md5 = opts.computeMd5 ? new Map<string, string>() : undefined;
  let count = 0;
  let callbackError: { err: unknown } | undefined;
  try {
    let current: Hash | undefined;
    const tap = (h: TarHeader) => {
      current = md5 && (h.type === 'file' || h.type === 'contiguous-file') ? createHash('md5') : undefined;
      const hash = current;
      return hash ? (chunk: Buffer) => void hash.update(chunk) : undefined;
    };
    await readTar(
      decompress(compression, raw),
      async (h, entry) => {
        const path = normalizeDebPath(h.name, source);
        let type: DebDataEntry['type'];
        switch (h.type ?? 'file') {
          case 'file':
          case 'contiguous-file':
            type = 'file';
            break;
          case 'directory':
            type = 'directory';
            break;
          case 'symlink':
            type = 'symlink';
            break;
          case 'link':
            type = 'link';
            break;
          default:
            throw new DebError(source, `data.tar entry "${h.name}" is a ${h.type}, not allowed in a package`);
        }
        if (path === undefined) {
          if (type !== 'directory')
            throw new DebError(source, `data.tar root entry "${h.name}" is not a directory`);
          return undefined;
        }
        if (seen.has(path)) throw new DebError(source, `data.tar has "${path}" twice`);
        // nothing may be placed below a symlink of this package (it could point anywhere)
        for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
          if (symlinks.has(path.slice(0, i))) {
            throw new DebError(
              source,
              `data.tar entry "${path}" lies below the symlink "${path.slice(0, i)}"`,
            );
          }
        }
        let linkname: string | undefined;
        if (type === 'symlink') {
          linkname = h.linkname ?? '';
          if (linkname === '' || linkname.includes('\0')) {
            throw new DebError(source, `data.tar symlink "${path}" has an invalid target`);
          }
          symlinks.add(path);
        } else if (type === 'link') {
          const target = normalizeDebPath(h.linkname ?? '', source);
          if (target === undefined || !seen.has(target)) {
            throw new DebError(
              source,
              `data.tar hard link "${path}" points to "${h.linkname}", not an earlier entry`,
            );
          }
          linkname = target;
        }
        seen.add(path);
        count++;
        const info: DebDataEntry = {
          path,
          type,
          mode: (h.mode ?? 0) & 0o7777,
          uid: h.uid ?? 0,
          gid: h.gid ?? 0,
          uname: h.uname || undefined,
          gname: h.gname || undefined,
          size: type === 'file' ? (h.size ?? 0) : 0,
          mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
          linkname,
        };
        if (opts.onDataEntry) {
          try {
            await opts.onDataEntry(info, entry);
          } catch (err) {
            callbackError = { err };
            throw err;
          }
        }
        const hash = current;
        return () => {
          if (!md5) return;
          if (hash) md5.set(path, hash.digest('hex'));
          // a hard link has its target's content (md5sums lists both names)
          if (type === 'link' && linkname !== undefined) {
            const sum = md5.get(linkname);
            if (sum !== undefined) md5.set(path, sum);
          }
        };
      },
      tap,
    );
  } catch (err) {
    if (callbackError && callbackError.err === err) throw err;
    throw wrapFormatError(err, source, `reading ${memberName}`);
  }
  return { count, md5 };
}
