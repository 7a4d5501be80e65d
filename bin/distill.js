#!/usr/bin/env node
// The entry point. An installed package has no src/ and runs the bundle (dist/bundle/, made by
// esbuild: it loads in a fraction of the time of hundreds of modules), else the compiled
// dist/cli/main.js.
//
// In a source checkout (src/ present, as after `npm ci` in this repository) what runs must be what
// is checked out, and start as fast as the installed package: the bundle when it is fresh (built
// after the last change to anything in it, by a stat of src/'s 121 files and directories, which
// cost 10-17 ms per start on a machine at load 10-13; see scripts/bundle.mjs), else the bundle
// rebuilt by esbuild first (about a second, once per change; one process rebuilds while parallel
// ones wait), else, when that cannot be done (no esbuild, a syntax error), the TypeScript sources
// through tsx, which compiles every module on first use (tens of seconds) and costs 0.4-0.7 s more
// on every start. DISTILL_USE_DIST=1 runs dist/ as it is; DISTILL_USE_SOURCE=1 runs the sources
// through tsx (stack traces in TypeScript).
// Measured and decided in docs/decisions/0007-node-versions-and-fast-start.md.
import { existsSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

// Node 22.1 and newer keep V8's compiled code of the modules between runs (Node's module compile
// cache, in os.tmpdir()/node-compile-cache or $NODE_COMPILE_CACHE; off with
// NODE_DISABLE_COMPILE_CACHE=1): a warm build then spends about 30 % less CPU, most of it the
// bundle's compilation (docs/decisions/0025-warm-start.md). Node 20 has no such cache: there
// the same program bundled as one classic script runs with V8's code cache instead
// (bin/code-cache.js, docs/decisions/0030-node20-code-cache.md).
module.enableCompileCache?.();

const path = (p) => fileURLToPath(new URL(p, import.meta.url));
const source = path('../src/cli/main.ts');
const bundle = path('../dist/bundle/main.js');
const script = path('../dist/bundle/distill.cjs');
const env = process.env;

/** The bundle: as a classic script with a code cache on Node 20, else the ESM chunks. */
async function runBundle() {
  if (!module.enableCompileCache && env.NODE_DISABLE_COMPILE_CACHE !== '1' && existsSync(script)) {
    const cache = await import('./code-cache.js');
    if (cache.useCodeCache(env) && cache.runScript(script)) return;
  }
  return import(bundle);
}

async function fromSource() {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch (err) {
    if (!existsSync(bundle)) throw err;
    process.stderr.write(
      'distill: neither esbuild nor tsx is installed to run the changed sources; running dist/bundle as it is\n',
    );
    return import(bundle);
  }
  tsx.register();
  return import(source);
}

if (existsSync(source) && env.DISTILL_USE_DIST !== '1') {
  let fresh = false;
  if (env.DISTILL_USE_SOURCE !== '1') {
    try {
      const { ensureBundle } = await import('../scripts/bundle.mjs');
      fresh = await ensureBundle();
    } catch {
      fresh = false; // no scripts/bundle.mjs: a partial checkout
    }
  }
  await (fresh ? runBundle() : fromSource());
} else {
  await (existsSync(bundle) ? runBundle() : import(path('../dist/cli/main.js')));
}
