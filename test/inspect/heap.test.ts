import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { holdMemory } from '../../src/cli/heap.js';

function newSpace(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** What inspect does to the young generation: garbage at a high rate, some of it kept. */
async function churn(kept: unknown[]): Promise<number> {
  let most = newSpace();
  for (let round = 0; round < 150; round++) {
    for (let i = 0; i < 20_000; i++) {
      const o = { i, s: `entry ${i} of round ${round}` };
      if (i % 10 === 0) kept.push(o);
    }
    most = Math.max(most, newSpace());
    await setImmediate(); // lets the 20 ms check run, as the merge's reads do
  }
  return most;
}

test('holdMemory keeps the new space from growing past its bound, and lets it grow again after', async () => {
  const MB = 2 ** 20;
  const start = newSpace();
  if (start >= 32 * MB) {
    assert.ok(true, `the new space is already at ${start / MB} MB in this process; nothing to check`);
    return;
  }
  const kept: unknown[] = [];
  const hold = holdMemory(4 * MB);
  let held: number;
  try {
    held = await churn(kept);
  } finally {
    hold.release();
  }
  assert.ok(held <= Math.max(start, 4 * MB), `new space reached ${held / MB} MB while held at 4 MB`);
  // The same work without the hold grows it: the bound above is the hold's doing.
  const free = await churn(kept);
  assert.ok(free > Math.max(start, 4 * MB), `new space stayed at ${free / MB} MB without the hold`);
});

test('holdMemory has dead buffers collected as layer data goes by', async () => {
  const MB = 2 ** 20;
  const hold = holdMemory(4 * MB);
  const start = process.memoryUsage().arrayBuffers;
  let most = 0;
  try {
    // 200 MB through 256 KiB buffers, each dropped at once, as a skipped file's chunks are.
    for (let i = 0; i < 800; i++) {
      const chunk = Buffer.allocUnsafe(256 * 1024);
      chunk[0] = i;
      hold.chunk(chunk.length);
      most = Math.max(most, process.memoryUsage().arrayBuffers - start);
      if (i % 8 === 0) await setImmediate();
    }
  } finally {
    hold.release();
  }
  assert.ok(most <= 12 * MB, `${Math.round(most / MB)} MB of buffers piled up`);
});
