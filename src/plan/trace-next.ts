import { type Dirent, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { DistillError } from '../errors.js';
import {
  filesUnder,
  keptTree,
  nftKeep,
  overlay,
  packageRoot,
  resolvePackage,
  type TraceResult,
  type TraceSpec,
  traceTree,
} from './trace.js';

/**
 * `--trace` on a Next.js app that runs `next start` on the standard `.next/` output (issue 17
 * point 2, decision 0040). What the node_modules layer keeps:
 *
 * - what Next itself lists as needed when `next build` runs: `.next/next-server.js.nft.json`
 *   (its server), `.next/next-minimal-server.js.nft.json` when there is one, and every
 *   `.next/server/**\/*.nft.json` (each page and route), each listing files relative to itself;
 * - what @vercel/nft reaches from the command line `next start` runs: the bin, the start command
 *   (`dist/cli/next-start.js`), the commands the bin requires as it starts whatever the command,
 *   and the app's `next.config.*` (the user's config may import packages). Not followed: the
 *   bin's other commands (`next build`, `next dev`, ...: the build toolchain, which `next start`
 *   never loads) and Next's development runtimes (`compiled/next-server/*.dev.js`, which Next's
 *   own lists leave out too: `next start` runs in production);
 * - what `next start` resolves by names no tracer can see, found in Next's own files: the
 *   `require.resolve` targets of its webpack require hook (`dist/server/config-utils.js`, run as
 *   the config loads), and for a TypeScript config (`next.config.ts`), which `next start` compiles
 *   with SWC at every start, the installed `@next/swc-*` native packages.
 *
 * Next's lists are made for its standalone server, which never loads next.config: with them
 * alone `next start` failed on `compiled/ci-info`, then on `compiled/webpack/webpack-lib`, then
 * fetched SWC from the network (2026-12-07, Next 16.4.3). The app's own files (`.next/` with its
 * build output, `public/`, the config) are never traced away: only the node_modules layer is cut.
 */

/** Next's trace of its server, which `next build` writes beside its output. */
export const NEXT_SERVER_TRACE = '.next/next-server.js.nft.json';
const NEXT_MINIMAL_TRACE = '.next/next-minimal-server.js.nft.json';
/** Configs `next start` compiles with SWC (next.config.mts only under Node's own type stripping). */
const TS_CONFIG = /^next\.config\.m?ts$/;

/** Where the app is: the tree (`root`), the Next app's directory in it, and where app files the tree lacks are read. */
export interface NextTree {
  root: string;
  /** The Next app's directory relative to `root` ('' for the root). */
  app: string;
  /** The app directory, for app files a scratch install lacks (no build script ran). */
  appDir?: string;
}

const under = (app: string, rel: string) => (app === '' ? rel : `${app}/${rel}`);

/** The absolute path of `rel` (relative to the tree), in the tree or else the app directory; undefined when in neither. */
function located(t: NextTree, rel: string): string | undefined {
  for (const base of [t.root, ...(t.appDir !== undefined ? [t.appDir] : [])]) {
    if (existsSync(join(base, rel))) return join(base, rel);
  }
  return undefined;
}

/** The .nft.json files under `dir` (relative to the tree), sorted. */
function serverLists(t: NextTree, dir: string, out: string[] = []): string[] {
  const abs = located(t, dir);
  let entries: Dirent[] = [];
  try {
    entries = abs === undefined ? [] : readdirSync(abs, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) serverLists(t, rel, out);
    else if (e.isFile() && e.name.endsWith('.nft.json')) out.push(rel);
  }
  return out.sort();
}

const AGAIN = 'run next build again (the build script must run it), or build without --trace';

/** The files one list names, relative to the tree; those outside the tree are not the image's either. */
function listed(t: NextTree, list: string): string[] {
  let files: unknown;
  try {
    files = (JSON.parse(readFileSync(located(t, list)!, 'utf8')) as { files?: unknown }).files;
  } catch (err) {
    throw new DistillError(
      'APP_BUILD_FAILED',
      `${list}, which next build wrote, is not JSON (${(err as Error).message}); ${AGAIN}`,
    );
  }
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string')) {
    throw new DistillError(
      'APP_BUILD_FAILED',
      `${list}, which next build wrote, has no "files" list of paths; ${AGAIN}`,
    );
  }
  const base = posix.dirname(list);
  const out: string[] = [];
  for (const f of files as string[]) {
    const rel = posix.normalize(posix.join(base, f));
    if (rel === '..' || rel.startsWith('../') || posix.isAbsolute(f)) continue;
    if (located(t, rel) === undefined) {
      throw new DistillError(
        'APP_IMPORT_MISSING',
        `${rel}, which Next lists in ${list} as needed by its server, is not in the app after the production install; if it belongs to a dev dependency, move that package to "dependencies"; else ${AGAIN}`,
      );
    }
    out.push(rel);
  }
  return out;
}

/** Every file Next's own lists name (relative to the tree), and the lists read. */
export function nextListed(t: NextTree): { keep: Set<string>; lists: string[] } {
  const server = under(t.app, NEXT_SERVER_TRACE);
  if (located(t, server) === undefined) {
    throw new DistillError(
      'APP_BUILD_FAILED',
      `--trace on a Next.js app keeps what next build lists as its server's files, but ${server} is not there; make the build script run next build, or build without --trace`,
    );
  }
  const minimal = under(t.app, NEXT_MINIMAL_TRACE);
  const lists = [
    server,
    ...(located(t, minimal) !== undefined ? [minimal] : []),
    ...serverLists(t, under(t.app, '.next/server')),
  ];
  const keep = new Set<string>();
  for (const l of lists) for (const f of listed(t, l)) keep.add(f);
  return { keep, lists };
}

function isFile(abs: string): boolean {
  try {
    return statSync(abs).isFile();
  } catch {
    return false;
  }
}

function text(abs: string | undefined): string {
  try {
    return abs === undefined ? '' : readFileSync(abs, 'utf8');
  } catch {
    return '';
  }
}

/** The app's next.config file (relative to the tree), the first of Next's names it has. */
function configFile(t: NextTree): string | undefined {
  const names = ['next.config.js', 'next.config.mjs', 'next.config.ts', 'next.config.mts', 'next.config.cjs'];
  return names.map((n) => under(t.app, n)).find((n) => located(t, n) !== undefined);
}

/**
 * The CLI files the bin loads only in one command's action (an indented `require` or an
 * `import()` of `../cli/...`), other than `next start`'s: not followed. Those on unindented
 * lines load as the bin starts, whatever the command, and are followed.
 */
function otherCommands(root: string, bin: string, start: string): Set<string> {
  const src = text(join(root, bin));
  const cli = `${posix.dirname(posix.dirname(bin))}/cli`;
  const all = new Set<string>();
  const top = new Set<string>();
  for (const line of src.split('\n')) {
    for (const m of line.matchAll(/(?:require|import)\(\s*["']\.\.\/cli\/([\w./-]+?)(?:\.js)?["']\s*\)/g)) {
      const file = `${cli}/${m[1]}.js`;
      all.add(file);
      if (/^\S/.test(line) && !line.includes('import(')) top.add(file);
    }
  }
  return new Set([...all].filter((f) => f !== start && !top.has(f)));
}

/** What `next start` resolves by name, found in Next's files: the webpack hook's targets, SWC for a TypeScript config. */
function byName(t: NextTree, nextPkg: string, config: string | undefined): Set<string> {
  const keep = new Set<string>();
  const hook = text(join(t.root, nextPkg, 'dist/server/config-utils.js'));
  for (const m of hook.matchAll(/["']next\/(dist\/[\w@./-]+)["']/g)) {
    const f = `${nextPkg}/${m[1]}`;
    const found = [f, `${f}.js`, `${f}.json`].find((v) => isFile(join(t.root, v)));
    if (found !== undefined) keep.add(found);
  }
  if (config !== undefined && TS_CONFIG.test(posix.basename(config))) {
    const pkg = JSON.parse(text(join(t.root, nextPkg, 'package.json')) || '{}') as {
      optionalDependencies?: Record<string, string>;
    };
    for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
      const dir = name.startsWith('@next/swc-') ? resolvePackage(t.root, nextPkg, name) : undefined;
      if (dir !== undefined) filesUnder(t.root, dir, /./, keep);
    }
  }
  return keep;
}

/**
 * What `--trace` leaves out of the node_modules directories `nmDirs` of a built Next.js app whose
 * command is `next start` through the bin file `bin` (relative to the tree), with the
 * `--trace-entry` files `entries` followed too and the `include` globs keeping more. Reads only.
 */
export async function traceNext(
  t: NextTree,
  nmDirs: readonly string[],
  bin: string,
  include: readonly string[],
  entries: readonly string[] = [],
): Promise<TraceResult & { lists: string[] }> {
  const nextPkg = packageRoot(bin);
  if (nextPkg === undefined) {
    throw new DistillError(
      'APP_CMD_UNKNOWN',
      `--trace: the bin next resolved to ${bin}, which is in no installed package; reinstall next, or build without --trace`,
    );
  }
  const missing = entries.find((e) => located(t, e) === undefined);
  if (missing !== undefined) {
    throw new DistillError(
      'APP_ENTRY_MISSING',
      `--trace-entry ${missing} is not in the app after its build; name an existing file, or build without it`,
    );
  }
  const { keep, lists } = nextListed(t);
  const start = `${nextPkg}/dist/cli/next-start.js`;
  const others = otherCommands(t.root, bin, start);
  const devRuntime = `${nextPkg}/dist/compiled/next-server/`;
  const ignore = (rel: string) => others.has(rel) || (rel.startsWith(devRuntime) && rel.endsWith('.dev.js'));
  const config = configFile(t);
  // The user's config may import packages: it is followed too.
  const starts = [
    bin,
    ...(existsSync(join(t.root, start)) ? [start] : []),
    ...entries,
    ...(config ? [config] : []),
  ];
  const fs = t.appDir !== undefined ? overlay(t.root, nmDirs, t.appDir) : {};
  const traced = await nftKeep(t.root, starts, fs, ignore);
  for (const f of traced.keep) keep.add(f);
  for (const f of byName(t, nextPkg, config)) keep.add(f);
  return { ...(await keptTree(t.root, nmDirs, keep, include, traced.warnings)), lists };
}

/** The file of the bin `next` of the package next that the app at `app` (in the tree) resolves, relative to the tree. */
export function nextBin(root: string, app: string): string | undefined {
  const pkg = resolvePackage(root, app === '' ? '.' : app, 'next');
  if (pkg === undefined) return undefined;
  const manifest = JSON.parse(text(join(root, pkg, 'package.json')) || '{}') as { bin?: unknown };
  const bin = manifest.bin;
  const file =
    typeof bin === 'string'
      ? bin
      : bin !== null && typeof bin === 'object'
        ? (bin as Record<string, unknown>).next
        : undefined;
  return typeof file === 'string' ? posix.normalize(`${pkg}/${file}`) : undefined;
}

/** What the plan says of `--trace` on `next start`: what would leave the app directory's node_modules now, or why the build counts it. */
export async function planNextTrace(
  dir: string,
  app: string,
  include: readonly string[],
  entries: readonly string[],
): Promise<{ counted?: Omit<TraceResult, 'drop'> & { in: string; lists: string[] }; note?: string }> {
  const keeps = `Next.js run by next start: the build keeps what next build lists (${NEXT_SERVER_TRACE}, .next/server/**/*.nft.json), what next start's command line reaches and what Next loads by name (docs/FRAMEWORKS.md)`;
  const bin = nextBin(dir, app);
  if (!existsSync(join(dir, under(app, NEXT_SERVER_TRACE))) || bin === undefined) {
    return { note: `${keeps}; next build has not run in the app directory: the build counts what leaves` };
  }
  const nmDirs = [
    'node_modules',
    ...(app !== '' && existsSync(join(dir, app, 'node_modules')) ? [`${app}/node_modules`] : []),
  ];
  try {
    const { drop: _, ...counted } = await traceNext({ root: dir, app }, nmDirs, bin, include, entries);
    return { counted: { in: join(dir, 'node_modules'), ...counted }, note: keeps };
  } catch (err) {
    if (!(err instanceof DistillError)) throw err;
    return {
      note: `${keeps}; not counted in the app directory as it is (${err.message}): the build counts what leaves`,
    };
  }
}

/**
 * The trace of an install for `spec`: Next's (traceNext) for `next start`, whose bin resolved to
 * `binPath`, else the app's entries' (traceTree). `appDir` holds the app files the tree lacks.
 */
export function traceInstall(
  spec: TraceSpec,
  root: string,
  nmDirs: readonly string[],
  binPath: string | undefined,
  appDir: string,
): Promise<TraceResult & { lists?: string[] }> {
  if (spec.next !== undefined && binPath !== undefined) {
    return traceNext({ root, app: spec.next.app, appDir }, nmDirs, binPath, spec.include, spec.entries);
  }
  const entries = [...spec.entries, ...(binPath !== undefined ? [binPath] : [])];
  return traceTree(root, nmDirs, entries, spec.include, appDir);
}
