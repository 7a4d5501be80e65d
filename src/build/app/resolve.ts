import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import type { Manifest, TreeIndex } from './treeindex.js';

/**
 * Node's module resolution against an image's file tree (treeindex.ts), without running Node:
 * symlinks followed inside the tree, `require()`'s file and directory rules, `import`'s exact
 * files, packages found in the node_modules of every directory up to the root, their `exports`
 * (with the conditions of require or import) and `main`. Enough to tell whether a module the
 * code imports statically is in the image, not a full implementation of every corner (package
 * `imports`, self-references and loaders are not followed).
 */
export type ImportKind = 'require' | 'import';

export type Resolution =
  | { found: string; inNodeModules: boolean }
  | { builtin: true }
  | { missing: string }
  /** Not something a static check can follow (`#imports`, a URL, a package's self-reference). */
  | { skipped: string };

const BUILTINS = new Set(builtinModules);

/** A path's real location in the tree (symlinks followed, at most 40), and its node. */
export function realPath(tree: TreeIndex, path: string): string | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let out: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      out.pop();
      continue;
    }
    const p = [...out, part].join('/');
    const node = tree.nodes.get(p);
    if (node?.type === 'l') {
      if (++hops > 40) return undefined;
      const target = node.target ?? '';
      if (target.startsWith('/')) out = [];
      parts.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    if (node === undefined && !isImplicitDir(tree, p)) return undefined;
    out.push(part);
  }
  return out.join('/');
}

const implicit = new WeakMap<TreeIndex, Set<string>>();

/** A directory with no entry of its own (a layer may leave parents implicit). */
function isImplicitDir(tree: TreeIndex, path: string): boolean {
  let dirs = implicit.get(tree);
  if (!dirs) {
    dirs = new Set();
    for (const k of tree.nodes.keys()) {
      for (let i = k.lastIndexOf('/'); i > 0; i = k.lastIndexOf('/', i - 1)) {
        const d = k.slice(0, i);
        if (dirs.has(d)) break;
        dirs.add(d);
      }
    }
    implicit.set(tree, dirs);
  }
  return dirs.has(path);
}

function isFile(tree: TreeIndex, path: string): string | undefined {
  const real = realPath(tree, path);
  return real !== undefined && tree.nodes.get(real)?.type === 'f' ? real : undefined;
}

function isDir(tree: TreeIndex, path: string): string | undefined {
  const real = realPath(tree, path);
  if (real === undefined || real === '') return real;
  const node = tree.nodes.get(real);
  if (node) return node.type === 'd' ? real : undefined;
  return isImplicitDir(tree, real) ? real : undefined;
}

export function manifestAt(tree: TreeIndex, dir: string): Manifest | undefined {
  const real = realPath(tree, dir === '' ? 'package.json' : `${dir}/package.json`);
  return real === undefined ? undefined : tree.manifests.get(real);
}

/** require()'s rules for a path: the file, with .js/.json/.node, or a directory (its main, its index). */
export function requireFile(tree: TreeIndex, path: string): string | undefined {
  for (const p of [path, `${path}.js`, `${path}.json`, `${path}.node`]) {
    const f = isFile(tree, p);
    if (f !== undefined) return f;
  }
  const dir = isDir(tree, path);
  if (dir === undefined) return undefined;
  const main = manifestAt(tree, dir)?.main;
  if (main !== undefined) {
    const m = posix.join(dir, main);
    for (const p of [m, `${m}.js`, `${m}.json`, `${m}.node`, `${m}/index.js`]) {
      const f = isFile(tree, p);
      if (f !== undefined) return f;
    }
  }
  for (const p of ['index.js', 'index.json', 'index.node']) {
    const f = isFile(tree, posix.join(dir, p));
    if (f !== undefined) return f;
  }
  return undefined;
}

/** The target of `exports` for a subpath ('.' or './x') under the conditions, as Node matches them. */
export function exportsTarget(
  exp: unknown,
  subpath: string,
  conditions: readonly string[],
): string | null | undefined {
  const pick = (t: unknown): string | null | undefined => {
    if (typeof t === 'string') return t;
    if (t === null) return null;
    if (Array.isArray(t)) {
      for (const x of t) {
        const r = pick(x);
        if (r !== undefined) return r;
      }
      return undefined;
    }
    if (t && typeof t === 'object') {
      for (const [k, v] of Object.entries(t)) {
        if (k === 'default' || conditions.includes(k)) {
          const r = pick(v);
          if (r !== undefined) return r;
        }
      }
    }
    return undefined;
  };
  const isMap =
    exp && typeof exp === 'object' && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.'));
  if (!isMap) return subpath === '.' ? pick(exp) : undefined;
  const map = exp as Record<string, unknown>;
  if (subpath in map) return pick(map[subpath]);
  // The longest pattern with one `*` that matches.
  let best: { key: string; star: string } | undefined;
  for (const key of Object.keys(map)) {
    const i = key.indexOf('*');
    if (i < 0) continue;
    const [pre, post] = [key.slice(0, i), key.slice(i + 1)];
    if (subpath.startsWith(pre) && subpath.endsWith(post) && subpath.length >= pre.length + post.length) {
      if (!best || pre.length > best.key.indexOf('*')) {
        best = { key, star: subpath.slice(pre.length, subpath.length - post.length) };
      }
    }
  }
  if (!best) return undefined;
  const t = pick(map[best.key]);
  return typeof t === 'string' ? t.replaceAll('*', best.star) : t;
}

/** A package's directory seen from `fromDir`: node_modules/NAME in it and in every parent. */
function findPackage(tree: TreeIndex, fromDir: string, name: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    if (!dir.endsWith('node_modules') && !dir.endsWith('/node_modules')) {
      const p = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
      const real = isDir(tree, p);
      if (real !== undefined) return real;
    }
    if (dir === '') return undefined;
    const i = dir.lastIndexOf('/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

function resolvePackage(tree: TreeIndex, spec: string, fromDir: string, kind: ImportKind): Resolution {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const sub = spec.slice(name.length);
  const dir = findPackage(tree, fromDir, name);
  if (dir === undefined) return { missing: `package ${name} is not in the image's node_modules` };
  const m = manifestAt(tree, dir);
  if (m?.exports !== undefined) {
    const conditions =
      kind === 'require' ? ['require', 'node', 'node-addons'] : ['import', 'node', 'node-addons'];
    const target = exportsTarget(m.exports, `.${sub}`, conditions);
    if (typeof target !== 'string') {
      return { missing: `${name}'s package.json "exports" has nothing for "${`.${sub}`}" (${kind})` };
    }
    const f = isFile(tree, posix.join(dir, target));
    return f !== undefined
      ? { found: f, inNodeModules: true }
      : { missing: `${posix.join(dir, target)} (${name}'s exports) is not in the image` };
  }
  const file =
    kind === 'require' || sub === ''
      ? requireFile(tree, posix.join(dir, sub))
      : isFile(tree, posix.join(dir, sub));
  return file !== undefined ? { found: file, inNodeModules: true } : { missing: `${spec} is not in ${dir}` };
}

/** Where `spec`, imported from the file `from`, leads in the tree. */
export function resolveImport(tree: TreeIndex, spec: string, from: string, kind: ImportKind): Resolution {
  if (spec.startsWith('node:') || BUILTINS.has(spec)) return { builtin: true };
  if (spec.startsWith('#') || /^[a-z][a-z0-9+.-]*:/i.test(spec)) return { skipped: spec };
  const fromDir = posix.dirname(from) === '.' ? '' : posix.dirname(from);
  if (
    spec.startsWith('./') ||
    spec.startsWith('../') ||
    spec === '.' ||
    spec === '..' ||
    spec.startsWith('/')
  ) {
    const path = spec.startsWith('/') ? spec.slice(1) : posix.join(fromDir, spec);
    const file = kind === 'require' ? requireFile(tree, path) : isFile(tree, path);
    if (file !== undefined) return { found: file, inNodeModules: file.split('/').includes('node_modules') };
    const hint =
      kind === 'import' && requireFile(tree, path)
        ? ' (import needs the full file name: Node adds no extension)'
        : '';
    return { missing: `/${path} is not in the image${hint}` };
  }
  return resolvePackage(tree, spec, fromDir, kind);
}
