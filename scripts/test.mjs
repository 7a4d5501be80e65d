#!/usr/bin/env node
// Runs every test file under test/ with node's own test runner, TypeScript loaded through tsx.
// Node 20's `--test` does not expand globs, so the files are listed here.
// Usage: node scripts/test.mjs [substring ...]   (only files whose path contains one of them)
// Files run TEST_CONCURRENCY at a time (default 3: most of the e2e files' time is spent waiting
// on the engine, the registry and installs, so a 2-core machine runs three of them well; node's
// own default is cores - 1, which is one file at a time there). TEST_CONCURRENCY=1 runs them in
// turn. Tests that share anything across files (generated apps, engine images) take a lock for it.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : walk(p);
    return e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(2);
}
const reporter = process.env.TEST_REPORTER ?? 'spec';
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 3);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`TEST_CONCURRENCY must be a whole number of at least 1, not ${process.env.TEST_CONCURRENCY}`);
  process.exit(2);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-reporter=${reporter}`, `--test-concurrency=${concurrency}`, ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
