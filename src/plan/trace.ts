import { type Dirent, existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { DistillError } from '../errors.js';
import { entryVariants } from './entry.js';
import { isLegal } from './prune-rules.js';

/**
 * `--trace` (issue 17 point 2, decision 0021): of the installed node_modules, only the files the
 * app can reach from its entry points, found by @vercel/nft (the tracer Next.js's standalone
 * output uses: it follows require, import, require.resolve, fs reads of paths it can compute, and
 * the well-known native-addon loaders). Kept besides what it reaches: every package.json of a
 * package that keeps a file, that package's licence and notice files, for a package that keeps a
 * native addon (`.node`) the shared libraries (`.so`) of it and of its dependencies (sharp's
 * libvips comes in a package of its own and is loaded by the dynamic linker, not by Node), and
 * whatever the `--trace-include` globs match. Symlinks stay (they are tiny; pnpm's tree is made of
 * them). The app's own files are never traced away: only the node_modules layer is cut.
 */
/** Part of the node_modules layer's key with --trace: bump it when what is kept changes (a new nft, a new rule). */
export const TRACE_VERSION = 1;

/** What the build needs of a planned trace. */
export interface TraceSpec {
  entries: string[];
  include: string[];
  bin?: string;
  /** A Next.js app run by `next start`: its directory in the tree ('' for the root); trace-next.ts keeps what Next lists. */
  next?: { app: string };
}

export function traceSpec(t: TraceSpec): TraceSpec {
  return {
    entries: [...t.entries],
    include: [...t.include],
    ...(t.bin !== undefined && { bin: t.bin }),
    ...(t.next !== undefined && { next: { app: t.next.app } }),
  };
}

export interface TraceResult {
  /** Paths relative to the tree, files and whole directories, that leave the layer. */
  drop: Set<string>;
  /** Files and bytes left out, and kept. */
  files: number;
  bytes: number;
  keptFiles: number;
  /** Packages (their directory, relative to the tree) of which nothing is kept. */
  droppedPackages: string[];
  /** What nft could not follow (a require of a computed name, ...), as it says it. */
  warnings: string[];
}

/** The directory of the package holding `rel` (`node_modules/@s/n`, `.../node_modules/n`), if any. */
export function packageRoot(rel: string): string | undefined {
  const parts = rel.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0 || at + 1 >= parts.length - 1) return undefined;
  const scoped = parts[at + 1]?.startsWith('@');
  if (scoped && at + 2 >= parts.length - 1) return undefined;
  return parts.slice(0, at + (scoped ? 3 : 2)).join('/');
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Where `name` resolves from the package at `from`, as Node's node_modules lookup finds it. */
export function resolvePackage(root: string, from: string, name: string): string | undefined {
  for (let dir = from; ; dir = posix.dirname(dir)) {
    const p = dir === '.' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (existsSync(join(root, p, 'package.json'))) return p;
    if (dir === '.' || dir === '/') return undefined;
  }
}

function isFile(abs: string): boolean {
  try {
    return statSync(abs).isFile();
  } catch {
    return false;
  }
}

const SHARED_LIB = /\.(so(\.\d+)*|dylib)$/;

/** Files under `dir` (relative to `root`) whose name matches `re`, not following links. */
export function filesUnder(root: string, dir: string, re: RegExp, out: Set<string>): void {
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory() && e.name !== 'node_modules') filesUnder(root, rel, re, out);
    else if ((e.isFile() || e.isSymbolicLink()) && re.test(e.name)) out.add(rel);
  }
}

/** What a package that keeps files brings with it: its manifest, legal files, native libraries. */
function companions(root: string, keep: Set<string>): void {
  const pkgs = new Set<string>();
  const native = new Set<string>();
  for (const f of keep) {
    const p = packageRoot(f);
    if (p === undefined) continue;
    pkgs.add(p);
    if (f.endsWith('.node')) native.add(p);
  }
  for (const p of pkgs) {
    keep.add(`${p}/package.json`);
    for (const e of readdirSync(join(root, p), { withFileTypes: true })) {
      if (e.isFile() && isLegal(e.name)) keep.add(`${p}/${e.name}`);
    }
  }
  for (const p of native) {
    const libs = new Set<string>();
    filesUnder(root, p, SHARED_LIB, libs);
    const pkg = readJson(join(root, p, 'package.json')) ?? {};
    for (const field of ['dependencies', 'optionalDependencies'] as const) {
      const deps = pkg[field];
      if (deps === null || typeof deps !== 'object') continue;
      for (const name of Object.keys(deps)) {
        const d = resolvePackage(root, p, name);
        if (d === undefined) continue;
        filesUnder(root, d, SHARED_LIB, libs);
        if (libs.size > 0) keep.add(`${d}/package.json`);
      }
    }
    for (const l of libs) keep.add(l);
  }
}

/** Export conditions Node never takes (TypeScript's, bundlers' for browsers, other runtimes'). */
const NOT_NODE = new Set([
  'types',
  'typings',
  'browser',
  'react-native',
  'deno',
  'bun',
  'worker',
  'workerd',
  'edge-light',
]);

function exportTargets(value: unknown, out: string[], key?: string): void {
  if (key !== undefined && NOT_NODE.has(key)) return;
  if (typeof value === 'string') {
    // TypeScript sources behind a package's own condition (zod's "@zod/source"): Node does not run them under node_modules.
    if (value.startsWith('./') && !value.includes('*') && !/\.[mc]?ts$/.test(value)) out.push(value.slice(2));
  } else if (Array.isArray(value)) for (const v of value) exportTargets(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) exportTargets(v, out, k);
  }
}

/**
 * Every file the `exports` of a package that keeps files can lead Node to, under any condition
 * Node may take, that the trace has not reached: nft follows the condition of the host's Node
 * and misses branches inside arrays (`[{"module-sync": ...}, "./index.js"]`), so what the image's
 * Node picks could be missing. They are traced too.
 */
function unreachedExports(root: string, keep: ReadonlySet<string>): string[] {
  const pkgs = new Set<string>();
  for (const f of keep) {
    const p = packageRoot(f);
    if (p !== undefined) pkgs.add(p);
  }
  const more: string[] = [];
  for (const p of pkgs) {
    const targets: string[] = [];
    exportTargets(readJson(join(root, p, 'package.json'))?.exports, targets);
    for (const t of targets) {
      const rel = posix.normalize(`${p}/${t}`);
      // Files only: an old folder mapping ("./": "./") names a directory.
      if (!keep.has(rel) && rel.startsWith(`${p}/`) && isFile(join(root, rel))) more.push(rel);
    }
  }
  return [...new Set(more)].sort();
}

interface Walk {
  root: string;
  keep: Set<string>;
  include: (rel: string) => boolean;
  r: TraceResult;
}

/**
 * Drops what under `dir` is not kept: every dropped path when `top` or when something under `dir`
 * stays, else nothing (the caller drops `dir` whole). Whether anything under it stays.
 */
function cut(w: Walk, dir: string, top = false): boolean {
  let kept = false;
  const dropped: { rel: string; dir: boolean }[] = [];
  for (const e of readdirSync(join(w.root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isSymbolicLink()) kept = true;
    else if (e.isDirectory()) {
      if (cut(w, rel)) kept = true;
      else dropped.push({ rel, dir: true });
    } else if (w.keep.has(rel) || w.include(rel)) {
      kept = true;
      w.r.keptFiles++;
    } else {
      w.r.files++;
      w.r.bytes += lstatSync(join(w.root, rel)).size;
      dropped.push({ rel, dir: false });
    }
  }
  if (kept || top) {
    for (const d of dropped) {
      w.r.drop.add(d.rel);
      if (d.dir && packageRoot(`${d.rel}/x`) === d.rel) w.r.droppedPackages.push(d.rel);
    }
  }
  return kept;
}

/**
 * The file system nft reads: the tree at `root`, where a path outside its node_modules that the
 * tree does not hold is read from `appDir` (an install's scratch copy holds only what the install
 * reads; the app's code stays in the app directory).
 */
export function overlay(root: string, nmDirs: readonly string[], appDir: string | undefined) {
  const where = async (p: string): Promise<string> => {
    if (appDir === undefined || !p.startsWith(`${root}/`)) return p;
    const rel = p.slice(root.length + 1);
    if (nmDirs.some((d) => rel === d || rel.startsWith(`${d}/`))) return p;
    return (await lstat(p).catch(() => undefined)) ? p : join(appDir, rel);
  };
  const orNull = <T>(f: () => Promise<T>) => f().catch(() => null);
  return {
    readFile: async (p: string) => orNull(async () => readFile(await where(p))),
    stat: async (p: string) => orNull(async () => stat(await where(p))),
    readlink: async (p: string) => orNull(async () => readlink(await where(p))),
  };
}

/**
 * What `--trace` leaves out of the node_modules directories `nmDirs` of the tree at `root`, when
 * the app starts from `entries` (relative to `root`) and `include` globs (relative to `root`)
 * keep more. The app's files not in the tree are read from `appDir`. Reads only.
 */
export async function traceTree(
  root: string,
  nmDirs: readonly string[],
  entries: readonly string[],
  include: readonly string[],
  appDir?: string,
): Promise<TraceResult> {
  const fs = overlay(root, nmDirs, appDir);
  const starts: string[] = [];
  for (const e of entries) {
    let found: string | undefined;
    for (const v of entryVariants(e)) {
      if (found === undefined && (await fs.stat(join(root, v)))?.isFile()) found = v;
    }
    if (found === undefined) {
      throw new DistillError(
        'APP_ENTRY_MISSING',
        `--trace starts from ${e}, which is not in ${appDir ?? root}; name an existing file with --trace-entry, or build without --trace`,
      );
    }
    starts.push(found);
  }
  const { keep, warnings } = await nftKeep(root, starts, fs);
  return keptTree(root, nmDirs, keep, include, warnings);
}

/**
 * The files (relative to `root`) @vercel/nft reaches from `starts` (relative to `root`), with
 * every reached package's exports under any condition Node may take traced too, and what nft
 * could not follow, in its words. `ignore` (a path relative to `root`) is neither followed nor kept.
 */
export async function nftKeep(
  root: string,
  starts: readonly string[],
  fs: Partial<ReturnType<typeof overlay>> = {},
  ignore?: (rel: string) => boolean,
): Promise<{ keep: Set<string>; warnings: string[] }> {
  // Loaded when asked for: it is big, and most builds do not trace.
  const { nodeFileTrace } = await import('@vercel/nft');
  // Both branches of a `module-sync` export: which one Node takes depends on the image's Node
  // (22 and newer take module-sync), and what is kept must not depend on the host's. The cache
  // carries what is analysed already from one round to the next.
  const options = {
    base: root,
    processCwd: root,
    moduleSyncCatchall: true,
    cache: {},
    ...fs,
    ...(ignore && { ignore }),
  };
  const keep = new Set<string>();
  const todo = [...starts];
  let traced: Awaited<ReturnType<typeof nodeFileTrace>>;
  for (;;) {
    traced = await nodeFileTrace(
      todo.map((e) => join(root, e)),
      options,
    );
    for (const f of traced.fileList) keep.add(f.split('\\').join('/'));
    const more = unreachedExports(root, keep).filter((f) => !ignore?.(f));
    if (more.length === 0) break;
    todo.push(...more);
  }
  const warnings = [...traced.warnings].map((e) =>
    e.message
      .split(`${root}/`)
      .join('')
      .replace(/\s*\n\s*/g, ' '),
  );
  return { keep, warnings };
}

/**
 * What leaves the node_modules directories `nmDirs` of the tree at `root` when the files `keep`
 * (relative to `root`) stay, with their companions (manifests, licences, native libraries) and
 * what the `include` globs match; `warnings` are the tracer's, passed on.
 */
export async function keptTree(
  root: string,
  nmDirs: readonly string[],
  keep: Set<string>,
  include: readonly string[],
  warnings: readonly string[],
): Promise<TraceResult> {
  companions(root, keep);
  // Loaded when asked for: 58 KB that every other build would parse at start (bench/versions).
  const match =
    include.length > 0 ? (await import('picomatch')).default([...include], { dot: true }) : () => false;
  const r: TraceResult = {
    drop: new Set(),
    files: 0,
    bytes: 0,
    keptFiles: 0,
    droppedPackages: [],
    warnings: [...warnings],
  };
  const w: Walk = { root, keep, include: match, r };
  for (const nm of nmDirs) if (existsSync(join(root, nm))) cut(w, nm, true);
  r.droppedPackages.sort();
  return r;
}

/** The entry files of the command, relative to the app directory (a bin's resolved file included). */
export function traceEntries(cmdEntry: string | undefined, extra: readonly string[], dir: string): string[] {
  const all = [...(cmdEntry !== undefined ? [cmdEntry] : []), ...extra];
  return [...new Set(all.map((e) => relative(dir, join(dir, e)).split('\\').join('/')))].filter(
    (e) => e !== '' && e !== '..' && !e.startsWith('../'),
  );
}
