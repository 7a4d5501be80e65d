import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

/**
 * What the node_modules layer is made of, read from an install's scratch copy: the
 * node_modules directories, node-gyp's leftovers to leave out, and the file a dependency's bin
 * runs.
 */
// The walks below use synchronous readdir: they visit every directory of a node_modules one
// after another, and through fs/promises each visit is a round trip to libuv's thread pool;
// synchronous, a node_modules of 1,000 directories takes milliseconds instead of a tenth of a second.

/** Directories named node_modules (not inside another), relative to `dir`. */
export function nodeModulesDirs(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.name === 'node_modules') out.push(r);
    else if (e.name !== '.git' && e.name !== '.distill-bin') out.push(...nodeModulesDirs(dir, r));
  }
  return out;
}

/** Names a JavaScript file of a package could load a `.node` file by: its base name, with and without `.node`. */
function mentions(pkgDir: string, names: string[]): Set<string> {
  const found = new Set<string>();
  const visit = (dir: string, depth: number): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (found.size === names.length) return;
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < 4 && e.name !== 'node_modules' && e.name !== 'build') visit(p, depth + 1);
      } else if (/\.(c|m)?js$|\.json$/.test(e.name)) {
        const text = readFileSync(p, 'latin1');
        for (const n of names) if (text.includes(n)) found.add(n);
      }
    }
  };
  visit(pkgDir, 0);
  return found;
}

/**
 * node-gyp leaves object files, Makefiles and a config.gypi with absolute paths of the build
 * machine in an addon's build/ directory, and a second copy of every addon in
 * build/Release/obj.target; only the compiled `.node` files are needed at run time, and leaving
 * the rest out keeps the layer the same from one machine to another. Of the `.node` files, those
 * the package's JavaScript names are kept (better-sqlite3 names better_sqlite3.node, never its
 * test_extension.node); when it names none of them (node-gyp-build finds its file by listing
 * the directory), all are kept.
 */
export function gypIntermediates(dir: string, nmDirs: string[]): Set<string> {
  const drop = new Set<string>();
  const visit = (rel: string): void => {
    const entries = readdirSync(join(dir, rel), { withFileTypes: true });
    const names = new Set(entries.map((e) => e.name));
    if (names.has('binding.gyp') && names.has('build')) {
      const addons: string[] = [];
      const keep = (sub: string): boolean => {
        let any = false;
        for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
          const r = `${sub}/${e.name}`;
          if (e.isDirectory()) {
            if (e.name !== 'obj.target' && keep(r)) any = true;
            else drop.add(r);
          } else if (e.name.endsWith('.node')) {
            addons.push(r);
            any = true;
          } else drop.add(r);
        }
        return any;
      };
      keep(`${rel}/build`);
      const base = (r: string) => r.slice(r.lastIndexOf('/') + 1, -'.node'.length);
      const named = mentions(join(dir, rel), [...new Set(addons.map(base))]);
      if (named.size > 0) for (const a of addons) if (!named.has(base(a))) drop.add(a);
    }
    for (const e of entries) if (e.isDirectory() && e.name !== 'build') visit(`${rel}/${e.name}`);
  };
  for (const nm of nmDirs) visit(nm);
  return drop;
}

/**
 * What package managers keep about themselves in node_modules, which nothing reads at run time
 * and which would make the layer differ from build to build: pnpm's .modules.yaml (it records
 * when it last pruned), its workspace state and its record of `pnpm run`.
 */
const PM_STATE = new Set(['.modules.yaml', '.pnpm-workspace-state-v1.json', '.pnpm-task-run-state-v1']);

/** A package manager's own state or a build tool's cache, directly under a node_modules. */
export function pmState(rel: string): boolean {
  const parts = rel.split('/');
  return parts.length >= 2 && parts[parts.length - 2] === 'node_modules' && PM_STATE.has(parts.at(-1)!);
}

/** The file a dependency's bin runs, from the top-level packages' package.json `bin` fields. */
export async function resolveBin(dir: string, bin: string): Promise<string | undefined> {
  const nm = join(dir, 'node_modules');
  const names: string[] = [];
  for (const e of await readdir(nm).catch(() => [] as string[])) {
    if (e.startsWith('.')) continue;
    if (e.startsWith('@')) {
      for (const s of await readdir(join(nm, e)).catch(() => [] as string[])) names.push(`${e}/${s}`);
    } else names.push(e);
  }
  for (const name of names.sort()) {
    let pkg: { bin?: unknown; name?: unknown };
    try {
      pkg = JSON.parse(await readFile(join(nm, name, 'package.json'), 'utf8')) as typeof pkg;
    } catch {
      continue;
    }
    let file: unknown;
    if (typeof pkg.bin === 'string') {
      const short = typeof pkg.name === 'string' ? pkg.name.replace(/^@[^/]+\//, '') : name;
      if (short === bin) file = pkg.bin;
    } else if (pkg.bin && typeof pkg.bin === 'object') file = (pkg.bin as Record<string, unknown>)[bin];
    if (typeof file === 'string') return posix.normalize(`node_modules/${name}/${file}`);
  }
  return undefined;
}
