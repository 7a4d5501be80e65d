import { type Dirent, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { DistillError } from '../errors.js';
import {
  dirRule,
  fileRule,
  PRUNE_RULES,
  PRUNE_RULES_VERSION,
  type PruneRule,
  RUNTIME_COMPILER,
  UNLOADABLE_RULES,
} from './prune-rules.js';
import { type TraceResult, traceEntries, traceTree } from './trace.js';
import { planNextTrace } from './trace-next.js';

/**
 * What the safe prune (prune-rules.ts) drops from a tree's node_modules directories: read-only
 * (it only lists directories and reads package.json files), so that the plan can count it in the
 * app directory and the build can apply it to the install's scratch copy. Packages are found as
 * Node's resolution finds them: `node_modules/NAME`, `node_modules/@SCOPE/NAME`, nested
 * node_modules, and pnpm's `node_modules/.pnpm/*\/node_modules`; symlinks (workspace packages,
 * pnpm's links, .bin) are never followed, so the app's own files are never pruned.
 */
export interface PruneResult {
  /** Paths relative to the tree, files and whole directories, that leave the layer. */
  drop: Set<string>;
  files: number;
  bytes: number;
  /** Files and bytes per rule id. */
  byRule: Record<string, { files: number; bytes: number }>;
  /** The typescript package is installed: RUNTIME_COMPILER's rules were not applied. */
  compiler?: true;
}

/**
 * Where a package's manifest points Node at: `main` (with the extensions and index files
 * resolution tries), every `bin`, and every target of `exports` and `imports` but those of the
 * `types` condition (TypeScript's, never resolved by Node). A target with `*` keeps every file
 * that starts with the part before it and ends with the part after it (`./locales/*.js` keeps
 * locales/de.js, not locales/de.d.ts).
 */
export interface Entrypoints {
  files: Set<string>;
  /** The parts before the `*` of pattern targets (a directory under them holds entrypoints). */
  prefixes: string[];
  /** The part after the `*` of each pattern target, by index of `prefixes`. */
  suffixes: string[];
}

function targetsOf(value: unknown, out: string[], key?: string): void {
  if (key === 'types' || key === 'typings') return;
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) targetsOf(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) targetsOf(v, out, k);
  }
}

export function entrypointsOf(pkg: Record<string, unknown>): Entrypoints {
  const found: Entrypoints = { files: new Set(), prefixes: [], suffixes: [] };
  const add = (target: string) => {
    const p = posix.normalize(target).replace(/^\.\//, '');
    if (p.startsWith('..') || p.startsWith('/')) return;
    const star = p.indexOf('*');
    if (star >= 0) {
      found.prefixes.push(p.slice(0, star));
      found.suffixes.push(p.slice(star + 1));
    } else found.files.add(p.replace(/\/$/, ''));
  };
  if (typeof pkg.main === 'string') {
    const m = posix.normalize(pkg.main).replace(/^\.\//, '').replace(/\/$/, '');
    for (const s of ['', '.js', '.json', '.node', '/index.js', '/index.json', '/index.node']) add(m + s);
  }
  const targets: string[] = [];
  if (typeof pkg.bin === 'string') targets.push(pkg.bin);
  else targetsOf(pkg.bin, targets);
  targetsOf(pkg.exports, targets);
  targetsOf(pkg.imports, targets);
  for (const t of targets) add(t);
  return found;
}

/** Whether the file at `path` (relative to the package) is an entrypoint, or a directory holds one. */
function names(ep: Entrypoints, path: string, isDir: boolean): boolean {
  if (!isDir) {
    return (
      ep.files.has(path) ||
      ep.prefixes.some((p, i) => {
        const suffix = ep.suffixes[i] ?? '';
        return path.length >= p.length + suffix.length && path.startsWith(p) && path.endsWith(suffix);
      })
    );
  }
  const d = `${path}/`;
  for (const f of ep.files) if (f.startsWith(d)) return true;
  return ep.prefixes.some((p) => p.startsWith(d) || d.startsWith(p));
}

function readEntrypoints(pkgDir: string): Entrypoints {
  try {
    return entrypointsOf(
      JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>,
    );
  } catch {
    // No manifest, or one Node could not read either: nothing named, the rules alone decide.
    return { files: new Set(), prefixes: [], suffixes: [] };
  }
}

/** A path a rule matched, with the files and bytes it holds; kept or not decided once the walk ends. */
interface Match {
  rel: string;
  rule: string;
  files: number;
  bytes: number;
}

interface Walk {
  root: string;
  matches: Match[];
  /** Whether a package named `typescript` is in the tree (RUNTIME_COMPILER). */
  compiler: boolean;
}

/** Files and bytes under a dropped directory (never following links). */
function sizeOfDir(abs: string, into: Match): Match {
  for (const e of readdirSync(abs, { withFileTypes: true })) {
    const p = join(abs, e.name);
    if (e.isDirectory()) sizeOfDir(p, into);
    else {
      into.files++;
      into.bytes += e.isFile() ? lstatSync(p).size : 0;
    }
  }
  return into;
}

/** The files of one package (its own node_modules is walked as a node_modules directory). */
function prunePackage(w: Walk, pkgRel: string, nested: string[]): void {
  const { root } = w;
  const name = /(?:^|\/)((?:@[^/]+\/)?[^/@][^/]*)$/.exec(pkgRel)?.[1];
  if (name !== undefined && RUNTIME_COMPILER.packages.includes(name)) w.compiler = true;
  const ep = readEntrypoints(join(root, pkgRel));
  const visit = (sub: string): void => {
    const dirRel = sub === '' ? pkgRel : `${pkgRel}/${sub}`;
    const entries = readdirSync(join(root, dirRel), { withFileTypes: true });
    for (const e of entries) {
      const inPkg = sub === '' ? e.name : `${sub}/${e.name}`;
      const rel = `${pkgRel}/${inPkg}`;
      if (e.isDirectory()) {
        if (e.name === 'node_modules') {
          nested.push(rel);
          continue;
        }
        const rule = dirRule(inPkg);
        if (rule !== undefined && !names(ep, inPkg, true)) {
          w.matches.push(sizeOfDir(join(root, rel), { rel, rule, files: 0, bytes: 0 }));
        } else visit(inPkg);
      } else if (e.isFile()) {
        const rule = fileRule(e.name);
        if (rule !== undefined && (UNLOADABLE_RULES.includes(rule) || !names(ep, inPkg, false))) {
          w.matches.push({ rel, rule, files: 1, bytes: lstatSync(join(root, rel)).size });
        }
      }
    }
  };
  visit('');
}

function dirents(abs: string): Dirent[] {
  try {
    return readdirSync(abs, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** The packages of the node_modules directory `nm` (relative to `root`), pruned; nested ones queued. */
function pruneNodeModules(w: Walk, nm: string, queue: string[]): void {
  const { root } = w;
  for (const e of dirents(join(root, nm))) {
    if (!e.isDirectory()) continue;
    const rel = `${nm}/${e.name}`;
    if (e.name === '.pnpm') {
      for (const v of dirents(join(root, rel))) {
        if (v.isDirectory())
          queue.push(`${rel}/${v.name}${v.name === 'node_modules' ? '' : '/node_modules'}`);
      }
    } else if (e.name.startsWith('@')) {
      for (const s of dirents(join(root, rel))) {
        if (s.isDirectory()) prunePackage(w, `${rel}/${s.name}`, queue);
      }
    } else if (!e.name.startsWith('.')) prunePackage(w, rel, queue);
  }
}

/**
 * What the rules drop from the node_modules directories `nmDirs` (relative to `root`) and the
 * node_modules nested in their packages.
 */
export function pruneTree(root: string, nmDirs: readonly string[]): PruneResult {
  const w: Walk = { root, matches: [], compiler: false };
  const queue = [...nmDirs];
  for (let nm = queue.shift(); nm !== undefined; nm = queue.shift()) pruneNodeModules(w, nm, queue);
  const r: PruneResult = {
    drop: new Set(),
    files: 0,
    bytes: 0,
    byRule: {},
    ...(w.compiler && { compiler: true }),
  };
  for (const m of w.matches) {
    if (w.compiler && RUNTIME_COMPILER.off.includes(m.rule)) continue;
    r.drop.add(m.rel);
    const c = r.byRule[m.rule] ?? { files: 0, bytes: 0 };
    r.byRule[m.rule] = c;
    c.files += m.files;
    c.bytes += m.bytes;
    r.files += m.files;
    r.bytes += m.bytes;
  }
  return r;
}

/** The prune, as the plan says it: on or off and why, the rules, and what they drop in the app directory now. */
export interface PlannedPrune {
  on: boolean;
  from: string;
  /** Part of the node_modules layer's cache key. */
  rulesVersion: number;
  rules?: PruneRule[];
  /** When the TypeScript rules are off (RUNTIME_COMPILER). */
  unless?: typeof RUNTIME_COMPILER;
  /**
   * What the rules would drop from the app directory's node_modules as it is when planning
   * (devDependencies included, so more than the layer's); the build reports the layer's own.
   */
  counted?: Omit<PruneResult, 'drop'> & { in: string };
  /** `--trace`: only what the app can reach stays (trace.ts). */
  trace?: PlannedTrace;
}

/** `--trace`: the decision, and what it would drop from the app directory's node_modules now. */
export interface PlannedTrace {
  /** The files the trace starts from, relative to the app directory (the command's, --trace-entry). */
  entries: string[];
  /** --trace-include globs, relative to the app directory. */
  include: string[];
  /** A bin the command runs: its file is an entry too, found where the install puts it. */
  bin?: string;
  /** A Next.js app run by `next start` (its directory in the tree): the build keeps what Next lists (trace-next.ts). */
  next?: { app: string };
  /** What would leave the app directory's node_modules now; for next start, which of Next's lists were read. */
  counted?: Omit<TraceResult, 'drop'> & { in: string; lists?: string[] };
  /** Why nothing is counted when planning. */
  note?: string;
}

/** What planPrune reads of the request. */
export interface PruneRequest {
  prune?: boolean;
  trace?: { entries?: string[]; include?: string[] };
}

async function planTrace(
  t: NonNullable<PruneRequest['trace']>,
  dir: string,
  cmd: { bin?: string; entry?: { file: string } },
  next: { app: string } | undefined,
): Promise<PlannedTrace> {
  // A bin command's entry names the bin in words; its file is found by the build.
  const entries = traceEntries(cmd.bin === undefined ? cmd.entry?.file : undefined, t.entries ?? [], dir);
  const plan: PlannedTrace = {
    entries,
    include: [...(t.include ?? [])],
    ...(cmd.bin !== undefined && { bin: cmd.bin }),
  };
  if (next !== undefined)
    return { ...plan, next, ...(await planNextTrace(dir, next.app, plan.include, entries)) };
  const missing = entries.find((e) => !existsSync(join(dir, e)));
  if (!existsSync(join(dir, 'node_modules')))
    return { ...plan, note: 'nothing is installed in the app directory yet: the build traces its install' };
  if (missing !== undefined || cmd.bin !== undefined) {
    return {
      ...plan,
      note: `${missing ?? `the bin ${cmd.bin}`} is found by the build: the build traces its install`,
    };
  }
  const { drop: _, ...counted } = await traceTree(dir, ['node_modules'], entries, plan.include);
  return { ...plan, counted: { in: join(dir, 'node_modules'), ...counted } };
}

/**
 * `--trace` on a Next.js app with `output: 'standalone'` is refused before anything installs:
 * Next traced that output itself, and distill ships it as it is. A Next.js app run by `next
 * start` is traced from Next's own lists (trace-next.ts).
 */
function refuseTrace(framework: { name: string; image: 'app' | 'output' } | undefined): void {
  if (framework?.name !== 'next' || framework.image !== 'output') return;
  throw new DistillError(
    'USAGE',
    "--trace: this Next.js app builds output: 'standalone', which Next traced itself and distill ships as it is; drop --trace",
  );
}

export async function planPrune(
  request: PruneRequest,
  dir: string,
  cmd: { bin?: string; entry?: { file: string } },
  framework?: { name: string; image: 'app' | 'output' },
  /** The app's directory relative to `dir` (a workspace package's), '' for `dir` itself. */
  appRel = '',
): Promise<PlannedPrune> {
  if (request.trace) refuseTrace(framework);
  // next start: Next's own lists are the trace's start (trace-next.ts).
  const next = framework?.name === 'next' && cmd.bin === 'next' ? { app: appRel } : undefined;
  const trace = request.trace && { trace: await planTrace(request.trace, dir, cmd, next) };
  if (request.prune === false)
    return { on: false, from: '--no-prune', rulesVersion: PRUNE_RULES_VERSION, ...trace };
  const has = dirents(dir).some((e) => e.name === 'node_modules' && e.isDirectory());
  const counted = has ? pruneTree(dir, ['node_modules']) : undefined;
  return {
    ...trace,
    on: true,
    from: 'the default (--no-prune keeps every installed file)',
    rulesVersion: PRUNE_RULES_VERSION,
    rules: [...PRUNE_RULES],
    unless: RUNTIME_COMPILER,
    ...(counted && {
      counted: {
        in: join(dir, 'node_modules'),
        files: counted.files,
        bytes: counted.bytes,
        byRule: counted.byRule,
        ...(counted.compiler && { compiler: true }),
      },
    }),
  };
}
