import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { test } from 'node:test';
import { CORPUS, corpusFiles } from './corpus.js';
import { FuzzPool, passed } from './pool.js';
import { TARGETS } from './targets.js';

/** Replays test/corpus: every saved input must now end in a result or a DistillError in time. */
test('the corpus: every saved input ends in a result or a DistillError within 10 s', async (t) => {
  const files = await corpusFiles();
  assert.ok(files.length > 0, `${CORPUS} is empty`);
  const names = new Set(TARGETS.map((x) => x.name));
  const pool = new FuzzPool(10_000);
  try {
    for (const { target, file, input } of files) {
      await t.test(relative(CORPUS, file), async () => {
        assert.ok(names.has(target), `no fuzz target ${target}`);
        const v = await pool.check(target, input);
        assert.ok(passed(v), `${v.kind}: ${'detail' in v ? v.detail : ''}`);
      });
    }
  } finally {
    await pool.close();
  }
});
