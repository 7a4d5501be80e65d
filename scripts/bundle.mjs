#!/usr/bin/env node
import { createHash } from 'node:crypto';
// The CLI bundle, dist/bundle/: src/cli/main.ts and everything it imports, dependencies
// included, as esbuild code-split ESM chunks (openpgp, the YAML parser and the commands load only
// when used). One place for its options, used by `npm run bundle` (`prepare` runs it on `npm ci`)
// and by bin/distill.js, which in a source checkout runs the bundle and rebuilds it first when a
// source is newer (docs/decisions/0007-node-versions-and-fast-start.md).
//
// Freshness: the bundle's main.js carries, as its mtime, the moment its build started. It is
// fresh when nothing that goes into it changed since: no file or directory under src/ (a
// directory's times change when an entry is added, removed or renamed, so a deleted or renamed
// source counts), nor package.json, tsconfig.json, this file, or node_modules/.package-lock.json
// (npm rewrites it on every install that changes node_modules, and dependencies are bundled). Both
// mtime and ctime are compared: git writes a checked-out file anew (new mtime), and a tool that
// restores an old mtime (`cp -p`, `touch -d`) still sets ctime to now.
//
// Beside the ESM chunks, the same program as one classic script, dist/bundle/distill.cjs, for
// Node 20 (before 22.1): Node has no module compile cache there, and V8's code cache can be given
// only to a vm.Script. bin/code-cache.js runs it (decision 0030): it is a function expression
// (Node's CommonJS wrapper around the code), not a module to require(). Its last line carries the
// sha256 of the rest, so the code cache is keyed by what it caches without hashing 4 MB per start.
//
// Writing: every file goes through a temporary name and a rename, chunks before main.js, so a
// distill process starting meanwhile loads either the old bundle or the new one, whole. Chunk
// names carry a content hash, so an old main.js keeps finding its chunks; chunks nothing refers to
// any more are removed by `npm run bundle`, and by a rebuild once they are an hour old.
//
// `npx distill` in a checkout installs the checkout into npx's cache the first time, and that runs
// its `prepare` script (tsc and the bundle again: 30-40 s on a busy machine, right after `npm ci`
// did the same). bin/distill.js keeps the bundle fresh by itself, so `prepare` skips the build
// when npx runs it in a checkout that has a bundle (--npx-skip).
//
//   node scripts/bundle.mjs             # build dist/bundle/ (npm run bundle)
//   node scripts/bundle.mjs --check     # exit 0 when dist/bundle/ is fresh, 1 when stale or absent
//   node scripts/bundle.mjs --npx-skip  # exit 0 when `prepare` runs under npx in a checkout with a
//                                       # bundle (nothing to build), else 1
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE_DIR = join(ROOT, 'dist', 'bundle');
export const BUNDLE_MAIN = join(BUNDLE_DIR, 'main.js');
export const BUNDLE_SCRIPT = join(BUNDLE_DIR, 'distill.cjs');
const LOCK = join(ROOT, 'dist', '.bundle.lock');
const INPUT_FILES = [
  'package.json',
  'tsconfig.json',
  'scripts/bundle.mjs',
  'node_modules/.package-lock.json',
];

/** The latest change (mtime or ctime, ms) of anything under `dir`, the directories included. */
function newestUnder(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const s = statSync(p);
    newest = Math.max(newest, s.mtimeMs, s.ctimeMs);
    if (e.isDirectory()) newest = Math.max(newest, newestUnder(p));
  }
  return newest;
}

function timesOf(path) {
  try {
    const s = statSync(path);
    return Math.max(s.mtimeMs, s.ctimeMs);
  } catch {
    return 0;
  }
}

/** Whether dist/bundle/main.js was built after the last change to anything that goes into it. */
export function bundleIsFresh(root = ROOT) {
  let built;
  try {
    built = statSync(join(root, 'dist', 'bundle', 'main.js')).mtimeMs;
  } catch {
    return false;
  }
  const src = join(root, 'src');
  let newest = Math.max(timesOf(src), newestUnder(src));
  for (const f of INPUT_FILES) newest = Math.max(newest, timesOf(join(root, f)));
  return newest < built;
}

const OPTIONS = {
  entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outdir: BUNDLE_DIR,
  // @cyclonedx/cyclonedx-library's optional XML plugins: required inside a try, only when XML is
  // written or validated (distill writes JSON); not installed, so left to a runtime require.
  // @vercel/nft (`--trace`) is imported only when asked for, from node_modules as installed: it
  // requires files by computed paths (node-pre-gyp's mocks and templates) that cannot be bundled.
  external: ['xmlbuilder2', 'libxmljs2', '@vercel/nft'],
  logLevel: 'warning',
  // Bundled CommonJS dependencies call require(); ESM has none of its own.
  banner: {
    js: "import { createRequire as __distillRequire } from 'node:module'; const require = __distillRequire(import.meta.url);",
  },
  write: false,
};

/**
 * A vm.Script can run import() only through a callback that Node 20 and 24 allow only with
 * --experimental-vm-modules, or through a loader that prints an ExperimentalWarning; esbuild
 * leaves import() of what it does not bundle (node:http, @vercel/nft) as it is. In the classic
 * script those become require() run on first use: a stand-in module that re-exports the
 * require()d one, which esbuild wraps as it wraps any module imported dynamically. Node builtins
 * and @vercel/nft are CommonJS, so require() gives what import() gave the ESM bundle.
 */
function requireForDynamicImports() {
  return {
    name: 'require-for-dynamic-imports',
    setup(build) {
      const external = new Set(OPTIONS.external);
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        const builtin = args.path.startsWith('node:') || builtinModules.includes(args.path);
        if (!builtin && !external.has(args.path)) return undefined;
        return { path: args.path, namespace: 'require-on-first-use' };
      });
      build.onLoad({ filter: /.*/, namespace: 'require-on-first-use' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}

/** Throws when the classic script still has an import() of something esbuild left out. */
function checkNoDynamicImports(metafile) {
  for (const output of Object.values(metafile.outputs)) {
    const left = output.imports.filter((i) => i.kind === 'dynamic-import' && i.external);
    if (left.length > 0) {
      throw new Error(
        `${BUNDLE_SCRIPT}: import() left in a classic script: ${left.map((i) => i.path).join(', ')}`,
      );
    }
  }
}

/**
 * The classic script (see the header): one file, CommonJS, strict as the ESM bundle is (V8 runs
 * it as a function body, so the directive goes inside: bin/code-cache.js wraps it). Modules the
 * ESM bundle loads on first use are, here, functions run on first use (esbuild's lazy init).
 * import.meta.url is this file's URL, as the ESM chunks' is theirs.
 */
const SCRIPT_OPTIONS = {
  ...OPTIONS,
  plugins: [requireForDynamicImports()],
  metafile: true,
  splitting: false,
  format: 'cjs',
  outdir: undefined,
  outfile: BUNDLE_SCRIPT,
  define: { 'import.meta.url': '__distillScriptUrl' },
  // Node's CommonJS wrapper is part of the file, so the loader need not copy 4 MB of source into
  // a longer string; ASCII only (no comments, licences in the ESM bundle), so it reads the file
  // as a one-byte string. Both cut the loader's memory (peak RSS +20 MB -> see decision 0030).
  minifyWhitespace: true,
  legalComments: 'none',
  banner: {
    js: "(function (exports, require, module, __filename, __dirname) {'use strict'; var __distillScriptUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  footer: { js: '})' },
};

function writeAtomic(path, contents) {
  const tmp = join(dirname(path), `.tmp-${process.pid}-${path.slice(dirname(path).length + 1)}`);
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

/**
 * Builds dist/bundle/ (see the header). `prune`: remove files the new bundle does not refer to
 * when they are at least that many milliseconds old (0: all of them). `quiet`: esbuild prints
 * nothing (the caller reports a failure its own way).
 */
export async function buildBundle({ prune = 0, quiet = false } = {}) {
  const { build } = await import('esbuild');
  const started = Date.now();
  const log = quiet ? { logLevel: 'silent' } : {};
  const [result, script] = await Promise.all([
    build({ ...OPTIONS, ...log }),
    build({ ...SCRIPT_OPTIONS, ...log }),
  ]);
  const outputs = result.outputFiles ?? [];
  const main = outputs.find((f) => f.path === BUNDLE_MAIN);
  if (!main) throw new Error(`esbuild wrote no ${BUNDLE_MAIN}`);
  const code = script.outputFiles?.[0];
  if (code?.path !== BUNDLE_SCRIPT) throw new Error(`esbuild wrote no ${BUNDLE_SCRIPT}`);
  checkNoDynamicImports(script.metafile);
  mkdirSync(BUNDLE_DIR, { recursive: true });
  for (const f of outputs) if (f !== main) writeAtomic(f.path, f.contents);
  if (code.contents.some((b) => b > 0x7f)) throw new Error(`${BUNDLE_SCRIPT}: not ASCII`);
  const hash = createHash('sha256').update(code.contents).digest('hex');
  writeAtomic(BUNDLE_SCRIPT, Buffer.concat([code.contents, Buffer.from(`\n// distill-sha256:${hash}\n`)]));
  outputs.push(code);
  writeAtomic(main.path, main.contents);
  // Its mtime is when the build started: a source changed while esbuild read it stays newer.
  utimesSync(main.path, new Date(started), new Date(started));
  const keep = new Set(outputs.map((f) => f.path));
  for (const name of readdirSync(BUNDLE_DIR)) {
    const p = join(BUNDLE_DIR, name);
    if (keep.has(p) || name.startsWith('.tmp-')) continue;
    if (Date.now() - statSync(p).mtimeMs >= prune) rmSync(p, { force: true });
  }
  return { ms: Date.now() - started, files: outputs.length };
}

/**
 * For bin/distill.js: makes the bundle fresh, one process at a time (parallel test processes
 * would otherwise all rebuild). True when the bundle is fresh on return; false when this process
 * could not rebuild it (no esbuild, or a build error: the caller falls back to the sources).
 */
export async function ensureBundle() {
  if (bundleIsFresh()) return true;
  const deadline = Date.now() + 60_000;
  for (;;) {
    let fd;
    try {
      mkdirSync(dirname(LOCK), { recursive: true });
      fd = openSync(LOCK, 'wx');
    } catch (err) {
      if (err.code !== 'EEXIST') return false;
      // Another process is building: wait for it, then look again. A lock older than a minute
      // is left over from a killed process.
      if (Date.now() - timesOf(LOCK) > 60_000) rmSync(LOCK, { force: true });
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
      if (bundleIsFresh()) return true;
      continue;
    }
    try {
      if (bundleIsFresh()) return true;
      // A build error (a syntax error being typed) is left to the fallback to report.
      await buildBundle({ prune: 3_600_000, quiet: true });
      // For the test that several processes started together rebuild once.
      if (process.env.DISTILL_BUNDLE_TRACE)
        appendFileSync(process.env.DISTILL_BUNDLE_TRACE, `${process.pid}\n`);
      return true;
    } catch {
      return false;
    } finally {
      closeSync(fd);
      rmSync(LOCK, { force: true });
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    process.exit(bundleIsFresh() ? 0 : 1);
  }
  if (process.argv.includes('--npx-skip')) {
    const checkout = existsSync(join(ROOT, 'src', 'cli', 'main.ts')) && existsSync(BUNDLE_MAIN);
    process.exit(process.env.npm_command === 'exec' && checkout ? 0 : 1);
  }
  const { ms, files } = await buildBundle();
  process.stderr.write(`dist/bundle: ${files} files in ${ms} ms\n`);
}
