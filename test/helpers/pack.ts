import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cachedEntry, cacheKey } from './apps/cache.js';

/**
 * The package as users get it: `npm pack` of a copy of this checkout (packing rewrites
 * package.json for a moment, scripts/pack-manifest.mjs, which other tests reading the checkout
 * must not see). Made once per source tree and shared by the test files of a run through the
 * apps cache (a pack builds the bundle: a minute or more).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKED = [
  'bin',
  'src',
  'scripts',
  'keys',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];
const run = promisify(execFile);

async function treeDigest(): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (path: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(path)).sort();
    } catch {
      hash.update(`${relative(ROOT, path)}\0`).update(await readFile(path));
      return;
    }
    for (const n of names) await walk(join(path, n));
  };
  for (const p of PACKED) await walk(join(ROOT, p));
  return hash.digest('hex');
}

export interface PackedCheckout {
  /** The tarball. */
  tgz: string;
  /** Its file name, as npm pack printed it. */
  name: string;
  /** The copy's package.json after the pack (postpack puts the original back). */
  manifestAfter: string;
}

export async function packedCheckout(): Promise<PackedCheckout> {
  const inputs = { tree: await treeDigest(), node: process.version };
  const entry = await cachedEntry(cacheKey('packed-checkout', inputs), inputs, async (tree) => {
    const copy = join(tree, 'checkout');
    for (const p of PACKED) await cp(join(ROOT, p), join(copy, p), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    const out = join(tree, 'out');
    await mkdir(out);
    const { stdout } = await run('npm', ['pack', '--pack-destination', out], {
      cwd: copy,
      maxBuffer: 64 << 20,
    });
    const name = stdout.trim().split('\n').pop()!;
    await cp(join(copy, 'package.json'), join(tree, 'package.json.after'));
    await rm(copy, { recursive: true, force: true });
    await cp(join(out, name), join(tree, name));
    await rm(out, { recursive: true, force: true });
  });
  const name = (await readdir(entry.tree)).find((f) => f.endsWith('.tgz'));
  if (name === undefined) throw new Error(`${entry.tree} holds no tarball`);
  return {
    tgz: join(entry.tree, name),
    name,
    manifestAfter: await readFile(join(entry.tree, 'package.json.after'), 'utf8'),
  };
}
