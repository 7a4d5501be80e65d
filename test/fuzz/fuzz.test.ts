import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { FuzzPool, passed } from './pool.js';
import { TARGETS } from './targets.js';

/**
 * Every fuzz target (targets.ts) with a few hundred generated inputs (FUZZ_RUNS, default 300):
 * each must end in a result or a DistillError within 10 s, in a worker thread (pool.ts), so a
 * hang fails the test instead of the run. `npm run fuzz` runs the same targets for minutes.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const pool = new FuzzPool(10_000);
after(() => pool.close());

for (const target of TARGETS) {
  test(`fuzz ${target.name}: ${RUNS} generated inputs end in a result or a DistillError within 10 s`, async () => {
    const kinds = { ok: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(target.arbitrary, async (input) => {
        const v = await pool.check(target.name, input);
        assert.ok(
          passed(v),
          `${v.kind} on ${input.length} bytes (${Buffer.from(input.subarray(0, 64)).toString('hex')}…): ${'detail' in v ? v.detail : ''}`,
        );
        kinds[v.kind as 'ok' | 'refused']++;
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    // Both outcomes occur: the generator makes inputs that parse and inputs that are refused.
    assert.ok(kinds.ok > 0, `no generated input was read whole (${JSON.stringify(kinds)})`);
    assert.ok(
      kinds.refused > 0 || target.name.endsWith('-status') || target.name.endsWith('-installed'),
      `no generated input was refused (${JSON.stringify(kinds)})`,
    );
  });
}
