import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const DIR = new URL('../../src/debian/', import.meta.url).pathname;
const ALLOWED = new Set([
  'node:crypto',
  'node:stream',
  'node:stream/promises',
  'node:zlib',
  'fzstd',
  'tar-stream',
  'xz-decompress',
  '../errors.js',
  '../oci/digest.js',
  // distill's one tar reader and its decompression, pure (test/architecture.test.ts checks them)
  '../layers/compression.js',
  '../layers/tar-header.js',
  '../layers/tar-reader.js',
]);

test('debian: src/debian is pure (no filesystem, network, processes; no media/build/plan imports)', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 6);
  const bad: string[] = [];
  for (const f of files) {
    const src = readFileSync(join(DIR, f), 'utf8');
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s+'([^']+)'/g)) {
      const spec = m[1]!;
      if (spec.startsWith('./') || ALLOWED.has(spec)) continue;
      bad.push(`${f}: ${spec}`);
    }
    if (/(?<![.\w])(import|require)\(\s*['"`]/.test(src)) bad.push(`${f}: dynamic import/require`);
    if (/\bprocess\./.test(src)) bad.push(`${f}: uses process`);
  }
  assert.deepEqual(bad, []);
});
