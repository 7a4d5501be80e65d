import { lstatSync, readdirSync, readlinkSync, realpathSync, type Stats, statSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { DistillError, wrapError } from '../errors.js';
import {
  checkId,
  comparePaths,
  DEFAULT_DIR_MODE,
  invalid,
  type LayerEntry,
  normalizeImagePath,
  show,
} from './entries.js';

export interface DirectoryOptions {
  /** Image path the directory becomes (default `/`); when not the root, it is a 0o755 dir entry itself. */
  prefix?: string;
  /**
   * Called with each path relative to `dir` (slash-separated, no leading `./`, no trailing
   * slash) and what it is (`size`: a file's bytes, as lstat or a followed symlink's stat gives
   * them); returning true leaves the entry out (a directory with everything below it).
   */
  ignore?: (relPath: string, info: { type: 'file' | 'dir' | 'symlink' | 'other'; size: number }) => boolean;
  /** Owner of every entry (default 0:0). */
  uid?: number;
  gid?: number;
  /**
   * Replace symlinks whose target resolves inside `dir` by what they point at (default false).
   * Symlinks that resolve outside `dir`, dangling ones and ones that loop back to a directory
   * being walked are always kept as symlinks: nothing outside the tree is ever read.
   */
  followSymlinks?: boolean;
}

/** One walk of a directory tree: its options and what it has found so far. */
interface Walk {
  /** The real path of the directory walked. */
  root: string;
  /** Image path prefix without slashes at the ends ('' for the root). */
  prefix: string;
  uid: number;
  gid: number;
  follow: boolean;
  ignore: DirectoryOptions['ignore'];
  out: LayerEntry[];
  /** `dev:ino` -> image path of the first file met with it. */
  inodes: Map<string, string>;
}

type EntryKind = 'file' | 'dir' | 'symlink' | 'other';

function imagePath(w: Walk, rel: string): string {
  return w.prefix === '' ? rel : `${w.prefix}/${rel}`;
}

function inside(w: Walk, real: string): boolean {
  return real === w.root || real.startsWith(w.root.endsWith(sep) ? w.root : w.root + sep);
}

function addFile(w: Walk, abs: string, rel: string, st: Stats): void {
  const path = imagePath(w, rel);
  if (st.ino !== 0) {
    const key = `${st.dev}:${st.ino}`;
    const first = w.inodes.get(key);
    if (first !== undefined) {
      w.out.push({ type: 'hardlink', path, target: first });
      return;
    }
    w.inodes.set(key, path);
  }
  w.out.push({
    type: 'file',
    path,
    mode: st.mode & 0o111 ? 0o755 : 0o644,
    uid: w.uid,
    gid: w.gid,
    source: { kind: 'path', path: abs },
  });
}

/** What a symlink to follow points at (a file or directory inside the tree, not an ancestor). */
function followed(w: Walk, abs: string, ancestors: Set<string>): { st: Stats; real: string } | undefined {
  let real: string;
  try {
    real = realpathSync(abs);
  } catch {
    return undefined;
  }
  if (!inside(w, real) || ancestors.has(real)) return undefined;
  const st = statSync(real);
  return st.isFile() || st.isDirectory() ? { st, real } : undefined;
}

function kindOf(st: Stats): EntryKind {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  return st.isFile() ? 'file' : 'other';
}

// Synchronous calls: through fs/promises every lstat is a round trip to libuv's thread pool
// with its promise, and over a node_modules of 4,000 entries those were most of the walk
// (0.2 s); synchronous, the walk takes a few tens of milliseconds on a local disk.
function walk(w: Walk, absDir: string, rel: string, ancestors: Set<string>): void {
  const names = readdirSync(absDir).sort(comparePaths);
  const stats = names.map((name) => lstatSync(join(absDir, name)));
  for (const [i, name] of names.entries()) {
    const abs = join(absDir, name);
    const relPath = rel === '' ? name : `${rel}/${name}`;
    let st = stats[i]!;
    const link = st.isSymbolicLink() && w.follow ? followed(w, abs, ancestors) : undefined;
    if (link) st = link.st;
    const source = link?.real ?? abs;
    const type = kindOf(st);
    if (w.ignore?.(relPath, { type, size: st.size })) continue;
    if (type === 'other') {
      const what = st.isSocket() ? 'a socket' : st.isFIFO() ? 'a FIFO' : 'a device node';
      throw invalid(
        `${show(abs)} is ${what}; a layer holds only files, directories and links (leave it out with ignore)`,
      );
    }
    if (type === 'symlink') {
      w.out.push({
        type: 'symlink',
        path: imagePath(w, relPath),
        target: readlinkSync(abs),
        uid: w.uid,
        gid: w.gid,
      });
    } else if (type === 'dir') {
      w.out.push({
        type: 'dir',
        path: imagePath(w, relPath),
        mode: DEFAULT_DIR_MODE,
        uid: w.uid,
        gid: w.gid,
      });
      // absDir is a real path (the root is resolved, and only real directories or resolved
      // symlinks are walked into), so a directory that is not a symlink is real as it is.
      walk(w, source, relPath, new Set([...ancestors, source]));
    } else {
      addFile(w, source, relPath, st);
    }
  }
}

/**
 * Walks a directory into layer entries, in byte order of names.
 *
 * Modes are normalized so that a build does not depend on the umask or on who checked the tree
 * out: files become 0o755 when any execute bit is set and 0o644 otherwise; directories 0o755;
 * setuid, setgid and sticky bits are dropped; owners are `uid`/`gid` (default 0); times are not
 * recorded (the builder stamps every entry with SOURCE_DATE_EPOCH). Symlinks are kept as symlinks
 * with their link text. A file met again with the same device and inode (a hardlink, or a
 * followed symlink) is emitted as a HardlinkEntry. Sockets, FIFOs and device nodes are ENTRY_INVALID (leave them out with
 * `ignore`). Extended attributes are not read (Node has no API for them).
 */
export async function entriesFromDirectory(dir: string, opts: DirectoryOptions = {}): Promise<LayerEntry[]> {
  const prefixPath = opts.prefix ?? '/';
  const prefix = prefixPath.split('/').every((s) => s === '' || s === '.')
    ? ''
    : normalizeImagePath(prefixPath);
  const uid = checkId(opts.uid, 'uid', prefixPath);
  const gid = checkId(opts.gid, 'gid', prefixPath);
  let root: string;
  try {
    root = await realpath(dir);
    const st = await stat(root);
    if (!st.isDirectory()) throw invalid(`${show(dir)} is not a directory`);
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, `reading directory ${dir}`);
  }
  const w: Walk = {
    root,
    prefix,
    uid,
    gid,
    follow: opts.followSymlinks ?? false,
    ignore: opts.ignore,
    out: [],
    inodes: new Map(),
  };
  if (prefix !== '') w.out.push({ type: 'dir', path: prefix, mode: DEFAULT_DIR_MODE, uid, gid });
  try {
    walk(w, root, '', new Set([root]));
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, `reading directory ${dir}`);
  }
  return w.out;
}
