import { lstatSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, digestHex, digestOf } from '../../oci/digest.js';
import { DIR_MODE } from '../../store/modes.js';
import type { Store } from '../../store/store.js';
import type { AppContext } from './context.js';
import { copyManifest, type Manifest, manifestOf, shapeOf } from './treecopy.js';

/**
 * The full install of an app with a build script, kept between builds: what the install added
 * to the scratch copy (every node_modules, and the package managers' own state beside them,
 * such as yarn's .yarn/install-state.gz) is copied into the store's `trees/` area under a
 * record of kind `dev-install`, keyed by what the install reads (keys.ts). A later build of the
 * same inputs copies it back instead of installing: no download, no native compile.
 *
 * Copies, never hard links: a build script may write into node_modules (a cache, a generated
 * client), and through a hard link it would write into the kept tree. Copies are reflinks where
 * the filesystem has them. A kept tree is checked as it is restored: its paths, kinds, sizes,
 * permission bits and link targets must be those recorded, or it is a miss and the install runs.
 */
export interface DevTreeRecord {
  /** Its directory under trees/. */
  tree: string;
  /** The paths the install added, relative to the app root (node_modules, .yarn/install-state.gz). */
  outputs: string[];
  entries: number;
  bytes: number;
  /** Digest of the tree's shape (treecopy.ts shapeOf), checked on every restore. */
  shape: Digest;
}

declare module '../../store/records.js' {
  interface RecordValues {
    'dev-install': DevTreeRecord;
    /** The tree's directory under trees/. */
    'dev-install-app': string;
  }
}

/** Which app a kept install is of: one tree is kept per app directory, workspace and platform. */
export interface TreeOwner {
  dir: string;
  workspace: string | null;
  arch: string;
}

/**
 * Directories build tools write into node_modules as their caches (babel, terser, Vite, pnpm's
 * record of `pnpm run`): writing them is not a change to the dependencies, and they never ship.
 */
const BUILD_CACHES = new Set(['.cache', '.vite', '.pnpm-task-run-state-v1']);

export function isBuildCache(rel: string): boolean {
  const parts = rel.split('/');
  return parts.length >= 2 && parts[parts.length - 2] === 'node_modules' && BUILD_CACHES.has(parts.at(-1)!);
}

/**
 * What an install added to a scratch copy of the app: the paths (topmost) that the app's
 * directory does not have. The scratch's own `.distill-bin` (the package manager's shims) aside.
 */
export function installOutputs(scratch: string, ctx: AppContext): string[] {
  const out: string[] = [];
  const visit = (rel: string): void => {
    for (const name of readdirSync(join(scratch, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (r === '.distill-bin') continue;
      const here = lstatSync(join(scratch, r));
      const there = lstatSync(join(ctx.dir, r), { throwIfNoEntry: false });
      const same = there !== undefined && there.isDirectory() === here.isDirectory();
      if (!same || ctx.ignores(r, here.isDirectory())) out.push(r);
      else if (here.isDirectory()) visit(r);
    }
  };
  visit('');
  return out;
}

/** The manifest of an install's outputs in a scratch copy, build caches left out. */
export function outputsManifest(scratch: string, outputs: readonly string[]): Manifest {
  return manifestOf(scratch, outputs, isBuildCache);
}

const treeName = (key: string) => digestHex(digestOf(key)).slice(0, 32);

/**
 * Copies the kept full install for `key` into the scratch copy; undefined (and nothing left in
 * the scratch) when there is none, or it is not whole.
 */
export async function restoreDevTree(
  store: Store,
  key: string,
  scratch: string,
): Promise<{ record: DevTreeRecord; manifest: Manifest } | undefined> {
  const records = store.record('dev-install');
  const rec = await records.get({ install: key });
  if (!rec) return undefined;
  const dir = join(store.root, 'trees', rec.tree);
  try {
    const kept = manifestOf(dir, rec.outputs, isBuildCache);
    if (digestOf(shapeOf(kept)) !== rec.shape) throw new Error(`${dir} is not the tree recorded`);
    await store.markUsed(dir);
    await copyManifest(dir, scratch, kept);
    return { record: rec, manifest: outputsManifest(scratch, rec.outputs) };
  } catch {
    // Pruned, changed or half there: a miss; the next full install writes it again.
    for (const o of rec.outputs) await rm(join(scratch, o), { recursive: true, force: true });
    await records.delete({ install: key }).catch(() => {});
    return undefined;
  }
}

/** A copy of a full install on its way into the store, made while the build script runs. */
export interface PendingSave {
  /** Keeps it, when the build left the install as it was (`unchanged`); else throws it away. */
  finish(unchanged: boolean): Promise<boolean>;
}

/**
 * Starts copying the install's outputs from the scratch copy into a temp directory of the store.
 * Whether the copy is the install as it was is known only once the build script ran: when the
 * build changed nothing there, nothing changed during the copy either.
 */
export function startSave(
  store: Store,
  owner: TreeOwner,
  key: string,
  scratch: string,
  outputs: readonly string[],
  manifest: Manifest,
): PendingSave {
  const copied = (async () => {
    const tmp = await store.tempPath();
    await mkdir(tmp, { recursive: true, mode: DIR_MODE });
    const bytes = await copyManifest(scratch, tmp, manifest).catch(async (err: unknown) => {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    });
    return { tmp, bytes };
  })();
  copied.catch(() => {});
  return {
    async finish(unchanged) {
      const c = await copied.catch(() => undefined);
      if (!c) return false;
      if (!unchanged) {
        await rm(c.tmp, { recursive: true, force: true });
        return false;
      }
      const name = treeName(key);
      const dest = join(store.area('trees'), name);
      const shape = digestOf(shapeOf(manifestOf(c.tmp, outputs, isBuildCache)));
      await rm(dest, { recursive: true, force: true });
      try {
        await rename(c.tmp, dest);
      } catch {
        // Another build of the same inputs put its copy there meanwhile: that one stays.
        await rm(c.tmp, { recursive: true, force: true });
        return false;
      }
      await store
        .record('dev-install')
        .put(
          { install: key },
          { tree: name, outputs: [...outputs], entries: manifest.size, bytes: c.bytes, shape },
        );
      // The app's previous install goes: its key changed (a new lockfile), and a tree is as big
      // as node_modules. (Its record then finds no tree, which is a miss.)
      const latest = store.record('dev-install-app');
      const before = await latest.get({ ...owner });
      await latest.put({ ...owner }, name);
      if (before !== undefined && before !== name && /^[0-9a-f]{32}$/.test(before)) {
        await rm(join(store.root, 'trees', before), { recursive: true, force: true });
      }
      return true;
    },
  };
}
