import { constants, lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DistillError } from '../../errors.js';

/**
 * Trees of files as the builder step keeps them: a manifest of what a tree holds (to tell
 * whether a build script changed node_modules, and whether a kept tree is whole), and a copy of
 * a tree into another directory.
 */

/** One entry of a tree: kind, size, permission bits, modification time, link target. */
export interface TreeEntry {
  kind: 'f' | 'd' | 'l';
  size: number;
  mode: number;
  mtimeMs: number;
  link?: string;
}

/** Path (relative to the tree's root, slash-separated) -> entry. */
export type Manifest = Map<string, TreeEntry>;

/**
 * The entries under each of `roots` (paths relative to `dir`), the roots included; `skip` leaves
 * a path out with everything below it. Sockets and the like are refused: no install leaves them.
 */
export function manifestOf(dir: string, roots: readonly string[], skip?: (rel: string) => boolean): Manifest {
  const out: Manifest = new Map();
  const visit = (rel: string): void => {
    if (skip?.(rel)) return;
    const abs = join(dir, rel);
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    const base = { size: st.size, mode: st.mode & 0o777, mtimeMs: st.mtimeMs };
    if (st.isSymbolicLink()) out.set(rel, { kind: 'l', ...base, size: 0, link: readlinkSync(abs) });
    else if (st.isFile()) out.set(rel, { kind: 'f', ...base });
    else if (st.isDirectory()) {
      out.set(rel, { kind: 'd', ...base, size: 0, mtimeMs: 0 });
      for (const name of readdirSync(abs).sort()) visit(`${rel}/${name}`);
    } else {
      throw new DistillError(
        'APP_BUILD_FAILED',
        `${abs} is a socket, FIFO or device, which no install should leave`,
      );
    }
  };
  for (const r of roots) visit(r);
  return out;
}

/** Paths whose entry differs between two manifests (added, removed or changed), sorted. */
export function changedPaths(before: Manifest, after: Manifest): string[] {
  const out: string[] = [];
  for (const [p, a] of after) {
    const b = before.get(p);
    if (
      b === undefined ||
      b.kind !== a.kind ||
      b.size !== a.size ||
      b.mode !== a.mode ||
      b.mtimeMs !== a.mtimeMs ||
      b.link !== a.link
    ) {
      out.push(p);
    }
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(p);
  return out.sort();
}

/** What says a kept tree is whole: every path with its kind, size, permission bits and link target. */
export function shapeOf(m: Manifest): string {
  return JSON.stringify(
    [...m].map(([p, e]) => [p, e.kind, e.size, e.kind === 'd' ? 0 : e.mode, e.link ?? '']),
  );
}

/** Files copied at once: enough to keep a disk busy, few enough for a small thread pool. */
const PARALLEL = 16;

/**
 * Copies the entries of `manifest` (made of `from`) into `to`, which may have some of the
 * directories already: directories first, then symlinks, then files, several at a time and
 * reflinked where the filesystem can (COPYFILE_FICLONE: Btrfs, XFS; a plain copy elsewhere), so
 * that nothing written to one tree can reach the other. Returns the bytes copied.
 */
export async function copyManifest(from: string, to: string, manifest: Manifest): Promise<number> {
  const files: string[] = [];
  let bytes = 0;
  for (const [rel, e] of manifest) {
    const dest = join(to, rel);
    // A root that is a file (.yarn/install-state.gz) needs its parent, which is not in the manifest.
    if (e.kind !== 'd' && !manifest.has(dirname(rel)))
      mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
    if (e.kind === 'd') mkdirSync(dest, { recursive: true, mode: 0o755 });
    else if (e.kind === 'l') symlinkSync(e.link!, dest);
    else {
      files.push(rel);
      bytes += e.size;
    }
  }
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const rel = files[next++]!;
      await copyFile(join(from, rel), join(to, rel), constants.COPYFILE_FICLONE);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, files.length) }, worker));
  return bytes;
}
