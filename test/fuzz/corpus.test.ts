import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { after, test } from 'node:test';
import { CORPUS, corpusFiles } from './corpus.js';
import { FuzzPool, passed } from './pool.js';
import { TARGETS } from './targets.js';

/** Replays test/corpus: every saved input must now end in a result or a DistillError in time. */
const pool = new FuzzPool(10_000);
after(() => pool.close());

test('the corpus names only fuzz targets, and holds inputs', async () => {
  const files = await corpusFiles();
  assert.ok(files.length > 0, `${CORPUS} is empty`);
  const names = new Set(TARGETS.map((t) => t.name));
  for (const f of files)
    assert.ok(names.has(f.target), `${relative(CORPUS, f.file)}: no fuzz target ${f.target}`);
});

for (const { target, file, input } of await corpusFiles()) {
  test(`corpus ${relative(CORPUS, file)} ends in a result or a DistillError`, async () => {
    const v = await pool.check(target, input);
    assert.ok(passed(v), `${v.kind}: ${'detail' in v ? v.detail : ''}`);
  });
}
