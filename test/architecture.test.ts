import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The boundaries DESIGN.md asks for, checked on the import statements of src/. */
const SRC = fileURLToPath(new URL('../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Src {
  path: string; // relative to src/, e.g. media/layout/read.ts
  text: string;
  imports: string[]; // resolved, relative to src/
}

const sources: Src[] = files(SRC).map((f) => {
  const text = readFileSync(f, 'utf8');
  const imports = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
    relative(SRC, resolve(dirname(f), m[1]!)).replace(/\.js$/, '.ts'),
  );
  return { path: relative(SRC, f), text, imports };
});

function area(p: string): string {
  return p.includes('/') ? p.slice(0, p.indexOf('/')) : p;
}

function violations(from: (s: Src) => boolean, forbidden: (imp: string) => boolean): string[] {
  return sources
    .filter(from)
    .flatMap((s) => s.imports.filter(forbidden).map((i) => `${s.path} imports ${i}`));
}

test('oci/ imports nothing of ours but the error class', () => {
  assert.deepEqual(
    violations(
      (s) => area(s.path) === 'oci',
      (i) => area(i) !== 'oci' && i !== 'errors.ts',
    ),
    [],
  );
});

/** The tar reader and decompression of layers/, which debian/ reads .deb members with: pure too. */
const PURE_LAYERS = ['layers/compression.ts', 'layers/tar-header.ts', 'layers/tar-reader.ts'];

test('debian/ is pure: no media, build, plan, store or sources, and no file or network I/O', () => {
  assert.deepEqual(
    violations(
      (s) => area(s.path) === 'debian',
      (i) => !['debian', 'oci', 'errors.ts'].includes(area(i)) && !PURE_LAYERS.includes(i),
    ),
    [],
  );
  // what debian/ reaches in layers/, followed through its imports
  const reached = new Set(PURE_LAYERS);
  for (const p of reached) {
    for (const i of sources.find((s) => s.path === p)?.imports ?? [])
      if (area(i) === 'layers') reached.add(i);
  }
  const pure = sources.filter((x) => area(x.path) === 'debian' || reached.has(x.path));
  assert.ok(pure.length > 10);
  for (const s of pure) {
    assert.doesNotMatch(s.text, /from 'node:(fs|fs\/promises|http|https|net|child_process)'/, s.path);
  }
});

test('media/ never imports build/, plan/ or debian/; inspect/ never imports build/', () => {
  assert.deepEqual(
    violations(
      (s) => area(s.path) === 'media',
      (i) => ['build', 'plan', 'debian'].includes(area(i)),
    ),
    [],
  );
  assert.deepEqual(
    violations(
      (s) => area(s.path) === 'inspect',
      (i) => area(i) === 'build',
    ),
    [],
  );
});

test('only cli/ touches process state (argv, exit, stdout/stderr, console)', () => {
  const bad = sources
    .filter((s) => area(s.path) !== 'cli')
    .filter((s) => /process\.(exit|argv|stdout|stderr|exitCode)\b|console\.\w+\(/.test(s.text))
    .map((s) => s.path);
  assert.deepEqual(bad, []);
});
