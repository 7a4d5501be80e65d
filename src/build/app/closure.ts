import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/**
 * The packages some workspace packages need in production, found in an installed tree the way
 * Node finds them: each production dependency (dependencies, optionalDependencies,
 * peerDependencies) looked up in `node_modules` from the package's directory up to the root, then
 * its own dependencies from where it was found. For yarn classic, which installs every
 * workspace's production dependencies into one hoisted tree and cannot install one workspace's:
 * what is not reached stays out of the layer. A dependency that is not installed (an optional one
 * of another platform) is skipped, as Node would fail only when it is loaded.
 */
export interface Closure {
  /** Paths relative to the root under some node_modules: packages kept (with all below them) and links to them. */
  kept: Set<string>;
}

const FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies'] as const;

function depsOf(dir: string): string[] {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const out = new Set<string>();
    for (const f of FIELDS) {
      const deps = pkg[f];
      if (deps && typeof deps === 'object') for (const name of Object.keys(deps)) out.add(name);
    }
    return [...out];
  } catch {
    return [];
  }
}

/** `rel`'s ancestors from itself to the root ('' last). */
function upFrom(rel: string): string[] {
  const out: string[] = [];
  for (let d = rel; ; d = posix.dirname(d)) {
    out.push(d === '.' ? '' : d);
    if (d === '' || d === '.') return out;
  }
}

export function productionClosure(root: string, starts: readonly string[]): Closure {
  const kept = new Set<string>();
  const realRoot = realpathSync(root);
  const queued = new Set<string>(starts);
  const queue = [...starts];
  while (queue.length > 0) {
    const from = queue.pop()!;
    for (const name of depsOf(join(root, from))) {
      for (const d of upFrom(from)) {
        const p = d === '' ? `node_modules/${name}` : `${d}/node_modules/${name}`;
        const st = lstatSync(join(root, p), { throwIfNoEntry: false });
        if (!st) continue;
        kept.add(p);
        let target = p;
        if (st.isSymbolicLink()) {
          const real = relative(realRoot, realpathSync(join(root, p)))
            .split(sep)
            .join('/');
          if (real.startsWith('..')) break; // outside the tree: nothing of it ships
          target = real;
          if (target.split('/').includes('node_modules')) kept.add(target);
        }
        if (!queued.has(target)) {
          queued.add(target);
          queue.push(target);
        }
        break;
      }
    }
  }
  return { kept };
}

/**
 * Whether a path under a node_modules directory stays: a kept package or a path inside one, or a
 * directory above one (node_modules itself, a scope). Paths outside node_modules are not its
 * business (true).
 */
export function inClosure(c: Closure, rel: string, isDir: boolean): boolean {
  if (!rel.split('/').includes('node_modules')) return true;
  for (const k of c.kept) {
    if (rel === k || rel.startsWith(`${k}/`)) return true;
    if (isDir && k.startsWith(`${rel}/`)) return true;
  }
  return false;
}
