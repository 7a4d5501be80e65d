/**
 * Streaming reader for Debian binary packages (deb(5)): an ar archive holding `debian-binary`
 * (format 2.x), `control.tar[.gz|.xz|.zst]` and `data.tar[.gz|.xz|.zst]`, in that order
 * (members named `_*` may sit in between and are skipped). The control member is read into
 * memory (bounded); the data member is decompressed and parsed as it streams, each entry handed
 * to a callback, never buffered whole. Pure: the caller supplies the byte stream. The ar layer is
 * ar.ts, the tar members deb-tar.ts (on layers/tar-reader.ts, distill's one tar reader).
 *
 * Data paths are normalized (`./usr/bin/x` -> `usr/bin/x`); absolute paths, `..` components,
 * entries below a symlink of the same package, duplicate paths, hard links to unknown entries and
 * device nodes / fifos are DEB_INVALID, naming the path.
 */
import type { Readable } from 'node:stream';
import { isDistillError } from '../errors.js';
import type { TarCompression } from '../layers/compression.js';
import { type ArMember, ArReader, DebError, InputStreamError } from './ar.js';
import { type DebDataEntry, normalizeDebPath, readControlTar, readDataTar } from './deb-tar.js';
import { type Paragraph, parseDeb822Single } from './deb822.js';
import { isValidPackageName } from './relations.js';
import { parseVersion } from './version.js';

export { type DebDataEntry, normalizeDebPath } from './deb-tar.js';

export type Compression = TarCompression;

export type MaintainerScript = 'preinst' | 'postinst' | 'prerm' | 'postrm' | 'config';
const SCRIPTS: readonly MaintainerScript[] = ['preinst', 'postinst', 'prerm', 'postrm', 'config'];

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

/** A member that must be next (after any `_` members), named `base` plus a compression suffix. */
async function expectMember(
  ar: ArReader,
  base: 'control.tar' | 'data.tar',
  source?: string,
): Promise<ArMember> {
  const m = await ar.nextNonReserved();
  if (!m?.name.startsWith(base)) {
    throw new DebError(source, m ? `expected ${base} member, found "${m.name}"` : `no ${base} member`);
  }
  return m;
}

async function readFormatVersion(ar: ArReader, source?: string): Promise<string> {
  const first = await ar.next();
  if (!first) throw new DebError(source, 'empty ar archive');
  if (first.name !== 'debian-binary') {
    throw new DebError(source, `first member is "${first.name}", expected debian-binary`);
  }
  if (first.size > 4096) throw new DebError(source, 'debian-binary member is implausibly large');
  const bytes = await ar.exact(first);
  await ar.skipPad(first, false);
  const formatVersion = bytes.toString('latin1').split('\n')[0]!.trim();
  if (!/^2\.[0-9]+$/.test(formatVersion)) {
    throw new DebError(source, `unsupported package format version "${formatVersion}" (expected 2.x)`);
  }
  return formatVersion;
}

async function readDebUnwrapped(
  input: Readable | AsyncIterable<Uint8Array>,
  opts: ReadDebOptions,
): Promise<DebInfo> {
  const source = opts.source;
  const ar = new ArReader(input as AsyncIterable<unknown>, source);
  await ar.start();
  const formatVersion = await readFormatVersion(ar, source);

  const controlMember = await expectMember(ar, 'control.tar', source);
  const controlCompression = compressionOf(controlMember.name, 'control.tar', source);
  let controlFiles: Map<string, Uint8Array>;
  try {
    const max = opts.maxControlSize ?? DEFAULT_MAX_CONTROL;
    controlFiles = await readControlTar(
      ar.body(controlMember),
      controlCompression,
      controlMember.name,
      source,
      max,
    );
  } catch (err) {
    throw wrapFormatError(err, source, `reading ${controlMember.name}`);
  }
  await ar.skipPad(controlMember, false);
  const control = parseControl(controlFiles, source, opts);

  const dataMember = await expectMember(ar, 'data.tar', source);
  const dataCompression = compressionOf(dataMember.name, 'data.tar', source);
  let data: { count: number; md5: Map<string, string> | undefined } | undefined;
  if (opts.onDataEntry || opts.computeMd5) {
    data = await readDataTar(ar.body(dataMember), dataCompression, dataMember.name, {
      source,
      onDataEntry: opts.onDataEntry,
      computeMd5: opts.computeMd5 ?? false,
    });
  } else {
    await ar.drain(dataMember);
  }
  await ar.skipPad(dataMember, true);

  // anything after data.tar: well-formed members, ignored
  for (let m = await ar.next(); m !== undefined; m = await ar.next()) {
    await ar.drain(m);
    await ar.skipPad(m, true);
  }
  return {
    formatVersion,
    ...control,
    controlFiles,
    controlCompression,
    dataCompression,
    dataEntries: data?.count,
    dataMd5sums: data?.md5,
  };
}

/** The control file parsed and checked, and the other control files read. */
function parseControl(
  files: Map<string, Uint8Array>,
  source: string | undefined,
  opts: ReadDebOptions,
): Pick<DebInfo, 'control' | 'controlText' | 'md5sums' | 'md5sumsText' | 'conffiles' | 'scripts'> {
  const controlBytes = files.get('control');
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
  const text = (name: string) => {
    const b = files.get(name);
    return b ? Buffer.from(b).toString('utf8') : undefined;
  };
  const md5sumsText = text('md5sums');
  const conffiles = (text('conffiles') ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((l) => l !== '');
  const scripts: Partial<Record<MaintainerScript, string>> = {};
  for (const s of SCRIPTS) {
    const t = text(s);
    if (t !== undefined) scripts[s] = t;
  }
  return {
    control,
    controlText,
    md5sums: md5sumsText === undefined ? undefined : parseMd5sums(md5sumsText, source),
    md5sumsText,
    conffiles,
    scripts,
  };
}
