import type { Readable } from 'node:stream';
import { DistillError } from '../errors.js';

/**
 * The filesystem entries a layer is built from.
 *
 * Paths are image paths (`/usr/bin/x` or `usr/bin/x`); they are normalized to relative,
 * slash-separated paths without `.` components or repeated or trailing slashes (`usr/bin/x`).
 * A `..` component, an empty path (the root itself) and a NUL byte are rejected. In the tar,
 * directory names carry a trailing `/` (as docker and BuildKit write them); the sort order
 * ignores that slash (see build.ts).
 */
export type EntrySource =
  | { kind: 'path'; path: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'stream'; size: number; open: () => Promise<Readable> };

export interface FileEntry {
  type: 'file';
  path: string;
  /** Permission bits, 0..0o7777; default 0o644. */
  mode?: number;
  uid?: number;
  gid?: number;
  source: EntrySource;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records; values are UTF-8 text. */
  xattrs?: Record<string, string>;
}

export interface DirEntry {
  type: 'dir';
  path: string;
  /** Permission bits, 0..0o7777; default 0o755. */
  mode?: number;
  uid?: number;
  gid?: number;
  xattrs?: Record<string, string>;
}

export interface SymlinkEntry {
  type: 'symlink';
  path: string;
  /** Link text, kept verbatim (relative or absolute, `..` allowed: it is resolved in the container). */
  target: string;
  uid?: number;
  gid?: number;
}

export interface HardlinkEntry {
  type: 'hardlink';
  path: string;
  /** Image path of a file entry of the same layer (or of another hardlink to one). */
  target: string;
}

export type LayerEntry = FileEntry | DirEntry | SymlinkEntry | HardlinkEntry;

export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_DIR_MODE = 0o755;

/** An entry after validation and normalization: what the tar writer gets, in order. */
export type PreparedEntry =
  | {
      type: 'file';
      path: string;
      mode: number;
      uid: number;
      gid: number;
      source: EntrySource;
      xattrs: [string, string][];
    }
  | { type: 'dir'; path: string; mode: number; uid: number; gid: number; xattrs: [string, string][] }
  | { type: 'symlink'; path: string; target: string; uid: number; gid: number }
  | { type: 'hardlink'; path: string; target: string; mode: number; uid: number; gid: number };

export function invalid(message: string): DistillError {
  return new DistillError('ENTRY_INVALID', message);
}

/** A value quoted for a message, cut at 200 characters. */
export function show(s: unknown): string {
  const text = JSON.stringify(String(s)) ?? '""';
  return text.length > 200 ? `${text.slice(0, 197)}..."` : text;
}

/**
 * Normalizes an image path to the relative form used in the tar (`/usr//bin/./x/` -> `usr/bin/x`).
 * Throws ENTRY_INVALID for an empty path (or the root), a `..` component or a NUL byte.
 */
export function normalizeImagePath(p: string): string {
  if (typeof p !== 'string') throw invalid(`entry path must be a string, got ${typeof p}`);
  if (p.includes('\0')) throw invalid(`entry path ${show(p)} contains a NUL byte`);
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw invalid(`entry path ${show(p)} has a ".." component`);
    parts.push(part);
  }
  if (parts.length === 0) {
    throw invalid(`entry path ${show(p)} is empty or the root directory; the root is not an entry`);
  }
  return parts.join('/');
}

/** Byte order of the UTF-8 encodings (not UTF-16 code unit order, which differs above U+FFFF). */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function checkId(v: unknown, what: string, path: string): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(`entry ${show(path)}: ${what} must be a non-negative integer, got ${show(v)}`);
  }
  return v;
}

function checkMode(v: unknown, fallback: number, path: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0o7777) {
    throw invalid(
      `entry ${show(path)}: mode must be permission bits between 0 and 0o7777, got ${show(v)} (file type bits are not allowed)`,
    );
  }
  return v;
}

function checkXattrs(x: unknown, path: string): [string, string][] {
  if (x === undefined) return [];
  if (x === null || typeof x !== 'object') throw invalid(`entry ${show(path)}: xattrs must be an object`);
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
    if (k === '' || k.includes('=') || k.includes('\0') || k.includes('\n')) {
      throw invalid(`entry ${show(path)}: xattr name ${show(k)} is empty or contains "=", a newline or NUL`);
    }
    if (typeof v !== 'string')
      throw invalid(`entry ${show(path)}: xattr ${show(k)} must have a string value`);
    out.push([k, v]);
  }
  return out.sort((a, b) => comparePaths(a[0], b[0]));
}

function checkSource(s: unknown, path: string): EntrySource {
  const src = s as EntrySource | undefined;
  if (!src || typeof src !== 'object') throw invalid(`file entry ${show(path)} has no source`);
  switch (src.kind) {
    case 'path':
      if (typeof src.path !== 'string' || src.path === '' || src.path.includes('\0')) {
        throw invalid(`file entry ${show(path)}: source path must be a non-empty string`);
      }
      return src;
    case 'bytes':
      if (!(src.bytes instanceof Uint8Array))
        throw invalid(`file entry ${show(path)}: source bytes must be a Uint8Array`);
      return src;
    case 'stream':
      if (!Number.isSafeInteger(src.size) || src.size < 0) {
        throw invalid(`file entry ${show(path)}: stream source size must be a non-negative integer`);
      }
      if (typeof src.open !== 'function')
        throw invalid(`file entry ${show(path)}: stream source needs open()`);
      return src;
    default:
      throw invalid(
        `file entry ${show(path)}: unknown source kind ${show((src as { kind?: unknown }).kind)}`,
      );
  }
}

function prepareOne(e: LayerEntry): PreparedEntry {
  if (!e || typeof e !== 'object') throw invalid('an entry is not an object');
  const raw = (e as { path?: unknown }).path;
  const path = normalizeImagePath(raw as string);
  switch (e.type) {
    case 'file':
      return {
        type: 'file',
        path,
        mode: checkMode(e.mode, DEFAULT_FILE_MODE, path),
        uid: checkId(e.uid, 'uid', path),
        gid: checkId(e.gid, 'gid', path),
        source: checkSource(e.source, path),
        xattrs: checkXattrs(e.xattrs, path),
      };
    case 'dir':
      return {
        type: 'dir',
        path,
        mode: checkMode(e.mode, DEFAULT_DIR_MODE, path),
        uid: checkId(e.uid, 'uid', path),
        gid: checkId(e.gid, 'gid', path),
        xattrs: checkXattrs(e.xattrs, path),
      };
    case 'symlink':
      if (typeof e.target !== 'string' || e.target === '' || e.target.includes('\0')) {
        throw invalid(`symlink ${show(path)}: target must be a non-empty string without NUL bytes`);
      }
      return {
        type: 'symlink',
        path,
        target: e.target,
        uid: checkId(e.uid, 'uid', path),
        gid: checkId(e.gid, 'gid', path),
      };
    case 'hardlink': {
      if (typeof e.target !== 'string') throw invalid(`hardlink ${show(path)}: target must be a string`);
      let target: string;
      try {
        target = normalizeImagePath(e.target);
      } catch (err) {
        throw new DistillError('ENTRY_INVALID', `hardlink ${show(path)}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      return { type: 'hardlink', path, target, mode: 0, uid: 0, gid: 0 };
    }
    default:
      throw invalid(`entry ${show(path)} has unknown type ${show((e as { type?: unknown }).type)}`);
  }
}

function sameSource(a: EntrySource, b: EntrySource): boolean {
  if (a.kind === 'path' && b.kind === 'path') return a.path === b.path;
  if (a.kind === 'bytes' && b.kind === 'bytes') return Buffer.from(a.bytes).equals(Buffer.from(b.bytes));
  if (a.kind === 'stream' && b.kind === 'stream') return a.open === b.open && a.size === b.size;
  return false;
}

function sameEntry(a: PreparedEntry, b: PreparedEntry): boolean {
  if (a.type !== b.type) return false;
  const { source: sa, ...ra } = a as PreparedEntry & { source?: EntrySource };
  const { source: sb, ...rb } = b as PreparedEntry & { source?: EntrySource };
  if (JSON.stringify(ra) !== JSON.stringify(rb)) return false;
  return sa === undefined || sb === undefined ? sa === sb : sameSource(sa, sb);
}

/**
 * Validates and normalizes entries into the exact list the tar writer emits:
 * - paths normalized (see normalizeImagePath); an exact duplicate is dropped, a duplicate with
 *   different content is ENTRY_INVALID naming the path;
 * - every missing parent directory added (mode 0o755, uid/gid 0); a parent that is a file or a
 *   symlink is ENTRY_INVALID;
 * - hardlinks resolved to a file entry (ENTRY_INVALID when the target is missing, not a file, or
 *   a cycle). Within a set of paths linked together, the path that sorts first carries the file
 *   and the others link to it, so that an extractor always meets the target before the link,
 *   whatever order the caller listed them in;
 * - sorted by the byte order of the normalized path.
 */
export function prepareEntries(entries: Iterable<LayerEntry>): PreparedEntry[] {
  const byPath = new Map<string, PreparedEntry>();
  for (const e of entries) {
    const p = prepareOne(e);
    const prev = byPath.get(p.path);
    if (prev) {
      if (sameEntry(prev, p)) continue;
      throw invalid(`duplicate entry ${show(p.path)} with different content (${prev.type} and ${p.type})`);
    }
    byPath.set(p.path, p);
  }

  // Implied parents, and parents that are not directories.
  for (const p of [...byPath.values()]) {
    let i = p.path.lastIndexOf('/');
    while (i > 0) {
      const parent = p.path.slice(0, i);
      const existing = byPath.get(parent);
      if (existing) {
        if (existing.type !== 'dir') {
          throw invalid(
            `entry ${show(p.path)} is inside ${show(parent)}, which is a ${existing.type}, not a directory`,
          );
        }
        break; // its own parents are handled when it is visited
      }
      byPath.set(parent, { type: 'dir', path: parent, mode: DEFAULT_DIR_MODE, uid: 0, gid: 0, xattrs: [] });
      i = parent.lastIndexOf('/');
    }
  }

  // Hardlink groups: file path -> every path linked to it.
  const groups = new Map<string, string[]>();
  for (const p of byPath.values()) {
    if (p.type !== 'hardlink') continue;
    let target = p.target;
    const seen = new Set<string>([p.path]);
    for (;;) {
      const t = byPath.get(target);
      if (!t) throw invalid(`hardlink ${show(p.path)} points to ${show(target)}, which is not in the layer`);
      if (t.type === 'file') break;
      if (t.type !== 'hardlink') {
        throw invalid(`hardlink ${show(p.path)} points to ${show(target)}, which is a ${t.type}, not a file`);
      }
      if (seen.has(t.path)) throw invalid(`hardlink ${show(p.path)} is part of a cycle of hardlinks`);
      seen.add(t.path);
      target = t.target;
    }
    const g = groups.get(target) ?? [target];
    g.push(p.path);
    groups.set(target, g);
  }
  for (const [filePath, members] of groups) {
    const file = byPath.get(filePath) as Extract<PreparedEntry, { type: 'file' }>;
    members.sort(comparePaths);
    const first = members[0]!;
    byPath.set(first, { ...file, path: first });
    for (const m of members.slice(1)) {
      byPath.set(m, {
        type: 'hardlink',
        path: m,
        target: first,
        mode: file.mode,
        uid: file.uid,
        gid: file.gid,
      });
    }
  }

  return [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
}
