import { lstat, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbandonedTemp, ownerOfTempName } from './owner.js';

/**
 * The store's areas: everything distill keeps lives in one of them, so that `cache du` accounts
 * for the whole directory and `cache prune` can empty it.
 * - blobs/<alg>/<hex>: content-addressed blobs (layers, .debs, indexes, release archives)
 * - meta/<hex>: remembered records (records.ts)
 * - toolchains/<name>/: extracted Node releases and package managers, for installs
 * - pm-cache/: the package managers' own download caches (npm, pnpm, yarn)
 * - trees/<name>/: whole directory trees kept between builds (an app's full install before its
 *   build script, build/app/devtree.ts), each marked used like a toolchain
 * - tmp/: files and directories being written, named by their owner (owner.ts)
 */
export const AREAS = ['blobs', 'meta', 'toolchains', 'pm-cache', 'trees', 'tmp'] as const;
export type Area = (typeof AREAS)[number];

export interface AreaUsage {
  /** Apparent size in bytes of every file, directory and symlink (as `du -sb` counts). */
  bytes: number;
  /** Entries that are not directories. */
  files: number;
}

export interface DiskUsage {
  root: string;
  /** Everything under the root, the root directory included: what `du -sb ROOT` prints. */
  bytes: number;
  /** Blobs in blobs/. */
  blobs: number;
  /** Per area; `other` is whatever else is in the root (older versions' leftovers). */
  areas: Record<Area | 'other', AreaUsage>;
}

const isArea = (name: string): name is Area => (AREAS as readonly string[]).includes(name);

/**
 * Adds the apparent size of `path` and everything below it to `acc`, like `du -b`: st_size of
 * every file, directory and symlink, each inode counted once (`seen` spans one whole count, as
 * du does for hard links). Entries that vanish meanwhile are skipped.
 */
export async function addUsage(path: string, acc: AreaUsage, seen: Set<string>): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (st.nlink > 1 && !st.isDirectory()) {
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
  }
  acc.bytes += st.size;
  if (!st.isDirectory()) {
    acc.files++;
    return;
  }
  const names = await readdir(path).catch(() => [] as string[]);
  await Promise.all(names.map((n) => addUsage(join(path, n), acc, seen)));
}

const empty = (): AreaUsage => ({ bytes: 0, files: 0 });

export async function diskUsage(root: string): Promise<DiskUsage> {
  const areas = Object.fromEntries([...AREAS, 'other'].map((a) => [a, empty()])) as DiskUsage['areas'];
  const rootSt = await lstat(root).catch(() => undefined);
  if (!rootSt) return { root, bytes: 0, blobs: 0, areas };
  const seen = new Set<string>();
  for (const name of await readdir(root).catch(() => [] as string[])) {
    await addUsage(join(root, name), areas[isArea(name) ? name : 'other'], seen);
  }
  let blobs = 0;
  for (const alg of await readdir(join(root, 'blobs')).catch(() => [] as string[])) {
    blobs += (await readdir(join(root, 'blobs', alg)).catch(() => [] as string[])).length;
  }
  const bytes = rootSt.size + Object.values(areas).reduce((n, a) => n + a.bytes, 0);
  return { root, bytes, blobs, areas };
}

export interface PruneResult {
  /** Blobs removed. */
  blobs: number;
  /** Bytes removed, all areas. */
  bytes: number;
  areas: Record<Area | 'other', AreaUsage>;
}

/** Last use: the later of access and modification time (store.open and records refresh atime). */
const lastUse = (st: { atimeMs: number; mtimeMs: number }) => Math.max(st.atimeMs, st.mtimeMs);

/**
 * Empties the store (`cutoff` undefined), or removes what was last used before `cutoff`: blobs
 * and records by access time, each toolchain and the package-manager caches by the use stamp
 * (their directory's modification time, set on every use). Temp files of processes that are
 * gone are always removed; those of running (or not judgeable) processes are kept, so a
 * concurrent distill keeps the file it is writing.
 */
export async function pruneStore(root: string, cutoff: number | undefined): Promise<PruneResult> {
  const areas = Object.fromEntries([...AREAS, 'other'].map((a) => [a, empty()])) as PruneResult['areas'];
  const seen = new Set<string>();
  const remove = async (path: string, area: Area | 'other') => {
    await addUsage(path, areas[area], seen);
    await rm(path, { recursive: true, force: true });
  };
  const oldEntries = async (dir: string, test: (st: { atimeMs: number; mtimeMs: number }) => boolean) => {
    const out: string[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const st = await lstat(join(dir, name)).catch(() => undefined);
      if (st && test(st)) out.push(join(dir, name));
    }
    return out;
  };
  const old = (st: { atimeMs: number; mtimeMs: number }) => cutoff === undefined || lastUse(st) < cutoff;
  let blobs = 0;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const path = join(root, name);
    if (name === 'tmp') {
      await pruneTemps(path, cutoff === undefined, (p) => remove(p, 'tmp'));
    } else if (cutoff === undefined) {
      if (name === 'blobs') blobs += await countBlobs(path);
      await remove(path, isArea(name) ? name : 'other');
    } else if (name === 'blobs') {
      for (const alg of await readdir(path).catch(() => [] as string[])) {
        for (const p of await oldEntries(join(path, alg), old)) {
          await remove(p, 'blobs');
          blobs++;
        }
      }
    } else if (name === 'meta' || name === 'toolchains' || name === 'trees') {
      const test = name === 'meta' ? old : (st: { mtimeMs: number }) => st.mtimeMs < cutoff;
      for (const p of await oldEntries(path, test)) await remove(p, name);
    } else if (name === 'pm-cache') {
      const st = await lstat(path).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) await remove(path, 'pm-cache');
    }
  }
  const bytes = Object.values(areas).reduce((n, a) => n + a.bytes, 0);
  return { blobs, bytes, areas };
}

async function countBlobs(dir: string): Promise<number> {
  let n = 0;
  for (const alg of await readdir(dir).catch(() => [] as string[])) {
    n += (await readdir(join(dir, alg)).catch(() => [] as string[])).length;
  }
  return n;
}

/**
 * tmp/: abandoned entries go (owner.ts); with `all`, also names that no owner claims (left by
 * hand or by a version that named them otherwise), and tmp/ itself once it is empty.
 */
async function pruneTemps(dir: string, all: boolean, remove: (path: string) => Promise<void>): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const owner = ownerOfTempName(name);
    if (owner ? await isAbandonedTemp(dir, name, owner) : all) await remove(join(dir, name));
  }
  if (all) await rmdir(dir).catch(() => {}); // kept while a live process still has a file there
}
