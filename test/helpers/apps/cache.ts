import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A directory cache for things the tests make slowly (generated apps, Node releases), shared by
 * the test files of a run, which node's test runner starts as separate processes, possibly at
 * the same time. An entry is `<root>/<key>/` holding `tree/` (what was made) and `meta.json`.
 * It is made once: the first process takes `<key>.lock` (mkdir is atomic), makes the tree in
 * `<key>.tmp-<pid>-<hex>/` and renames that to `<key>/`, so nobody sees half a tree; the others
 * wait for the entry. A lock or temp directory of a process that died is removed.
 *
 * The root is `$DISTILL_TEST_APPS`, else `<tmpdir>/distill-test-apps`; keys carry a hash of
 * everything that made the entry, so an old entry is never taken for a new one.
 */
export const CACHE_ROOT = process.env.DISTILL_TEST_APPS ?? join(tmpdir(), 'distill-test-apps');

export interface EntryMeta {
  key: string;
  /** What made it (versions, recipe), as hashed into the key. */
  inputs: unknown;
  /** Seconds making it took. */
  seconds: number;
  made: string;
}

export interface Entry {
  /** The tree: read it, copy it, never change it. */
  tree: string;
  meta: EntryMeta;
  /** Whether this call made it (else it was there, or another process made it). */
  madeNow: boolean;
}

/** `<name>-<16 hex of sha256(inputs)>`. */
export function cacheKey(name: string, inputs: unknown): string {
  const hash = createHash('sha256').update(JSON.stringify(inputs)).digest('hex');
  return `${name}-${hash.slice(0, 16)}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readMeta(dir: string): Promise<EntryMeta | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as EntryMeta;
  } catch {
    return undefined;
  }
}

/** Removes temp directories of `key` whose process is gone. */
async function sweep(root: string, key: string): Promise<void> {
  for (const name of await readdir(root)) {
    const m = new RegExp(`^${key}\\.tmp-(\\d+)-[0-9a-f]+$`).exec(name);
    if (m && !alive(Number(m[1]))) await rm(join(root, name), { recursive: true, force: true });
  }
}

/**
 * Takes the lock, or returns false when a live process holds it. A lock whose owner died, or
 * that never got an owner file within a minute, is removed and taken.
 */
async function tryLock(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
    await writeFile(join(lock, 'owner'), String(process.pid));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = await readFile(join(lock, 'owner'), 'utf8').catch(() => undefined);
  const since = await stat(lock).then(
    (s) => s.mtimeMs,
    () => Date.now(),
  );
  const stale = owner !== undefined ? !alive(Number(owner)) : Date.now() - since > 60_000;
  if (stale) await rm(lock, { recursive: true, force: true });
  return false;
}

/**
 * The entry for `key`, made by `make(tree)` if it is not there yet. `make` gets an empty
 * directory to fill. Waits up to `waitMs` for another process making the same entry.
 */
export async function cachedEntry(
  key: string,
  inputs: unknown,
  make: (tree: string) => Promise<void>,
  opts: { root?: string; waitMs?: number } = {},
): Promise<Entry> {
  const root = opts.root ?? CACHE_ROOT;
  const dir = join(root, key);
  const lock = join(root, `${key}.lock`);
  await mkdir(root, { recursive: true });
  const until = Date.now() + (opts.waitMs ?? 30 * 60_000);
  for (;;) {
    const meta = await readMeta(dir);
    if (meta) return { tree: join(dir, 'tree'), meta, madeNow: false };
    if (await tryLock(lock)) break;
    if (Date.now() > until) throw new Error(`gave up waiting for ${lock} (another test process)`);
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    // Made by another process between our look and our lock.
    const meta = await readMeta(dir);
    if (meta) return { tree: join(dir, 'tree'), meta, madeNow: false };
    await sweep(root, key);
    // An entry without meta.json is from an older layout or was damaged: make it again.
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    const tmp = join(root, `${key}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(join(tmp, 'tree'), { recursive: true });
    const started = Date.now();
    try {
      await make(join(tmp, 'tree'));
      const made: EntryMeta = {
        key,
        inputs,
        seconds: Math.round((Date.now() - started) / 100) / 10,
        made: new Date().toISOString(),
      };
      await writeFile(join(tmp, 'meta.json'), `${JSON.stringify(made, null, 2)}\n`);
      await rename(tmp, dir);
      return { tree: join(dir, 'tree'), meta: made, madeNow: true };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
