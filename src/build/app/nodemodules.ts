import { readdirSync } from 'node:fs';
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

/**
 * node-gyp leaves object files, Makefiles and a config.gypi with absolute paths of the build
 * machine in an addon's build/ directory; only the compiled `.node` files are needed at run time,
 * and leaving the rest out keeps the layer the same from one machine to another.
 */
export function gypIntermediates(dir: string, nmDirs: string[]): Set<string> {
  const drop = new Set<string>();
  const visit = (rel: string): void => {
    const entries = readdirSync(join(dir, rel), { withFileTypes: true });
    const names = new Set(entries.map((e) => e.name));
    if (names.has('binding.gyp') && names.has('build')) {
      const keep = (sub: string): boolean => {
        let any = false;
        for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
          const r = `${sub}/${e.name}`;
          if (e.isDirectory()) {
            if (keep(r)) any = true;
            else drop.add(r);
          } else if (e.name.endsWith('.node')) any = true;
          else drop.add(r);
        }
        return any;
      };
      keep(`${rel}/build`);
    }
    for (const e of entries) if (e.isDirectory() && e.name !== 'build') visit(`${rel}/${e.name}`);
  };
  for (const nm of nmDirs) visit(nm);
  return drop;
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
