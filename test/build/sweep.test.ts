import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { claimScratch, releaseScratch, sweepScratch } from '../../src/build/app/sweep.js';
import { ownerToken, parseOwner, processStartTime } from '../../src/store/owner.js';
import { tempDir } from '../helpers/components.js';

/**
 * The scratch copies of killed builds, found by their owner markers and swept
 * (src/build/app/sweep.ts; who is gone is src/store/owner.ts's judgement, tested there).
 */
const canJudge = () => processStartTime('self') !== undefined && processStartTime(1) !== undefined;

describe('scratch copies of killed builds', () => {
  describe('on disk', () => {
    let dir = '';
    before(async () => {
      dir = await tempDir('distill-sweep-');
    });
    after(() => rm(dir, { recursive: true, force: true }));

    /** The owner token of a process that has ended (this boot, host and pid namespace). */
    async function deadOwner(): Promise<string> {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 200)']);
      await new Promise((r) => child.once('spawn', r));
      const start = processStartTime(child.pid!)!;
      await new Promise((r) => child.once('exit', r));
      const me = parseOwner(ownerToken())!;
      return `${child.pid}-${start}-${me.boot}-${me.ctx}`;
    }

    async function copyOf(parent: string, name: string, token: string): Promise<void> {
      await mkdir(join(parent, name, 'node_modules'), { recursive: true });
      await writeFile(join(parent, name, '.env'), 'SECRET=1\n');
      await mkdir(`${parent}.owners`, { recursive: true });
      await writeFile(join(`${parent}.owners`, name), `${token}\n`);
    }

    test('a claimed copy has a marker beside it; releasing removes both; a taken name is refused', async () => {
      const parent = join(dir, 'claim', 'distill-build');
      await mkdir(parent, { recursive: true });
      assert.equal(await claimScratch(parent, 'abc'), true);
      assert.deepEqual(readdirSync(parent), ['abc'], 'only the copy is among the copies');
      const marker = readFileSync(join(`${parent}.owners`, 'abc'), 'utf8');
      assert.equal(marker, `${ownerToken()}\n`, 'the marker names this process');
      assert.equal(await claimScratch(parent, 'abc'), false, 'the name is taken');
      assert.deepEqual(await sweepScratch(parent), [], 'a live owner is never swept');
      await releaseScratch(join(parent, 'abc'));
      assert.deepEqual(readdirSync(parent), []);
      assert.deepEqual(readdirSync(`${parent}.owners`), []);
    });

    test('a dead owner’s copy is swept; live, unjudgeable and unmarked ones stay', async (t) => {
      if (!canJudge()) {
        t.skip('needs Linux /proc showing every process');
        return;
      }
      const parent = join(dir, 'sweep', 'distill-build');
      await copyOf(parent, 'dead', await deadOwner());
      await copyOf(parent, 'mine', ownerToken());
      await copyOf(parent, 'elsewhere', (await deadOwner()).replace(/-[0-9a-f]{8}$/, '-00000000'));
      await copyOf(parent, 'bare-pid', String(2 ** 22 + 1));
      await copyOf(parent, 'garbled', 'not a token');
      await mkdir(join(parent, 'unmarked'));
      await mkdir(join(parent, 'old.trash-0123abcd', 'x'), { recursive: true });
      assert.deepEqual(await sweepScratch(parent), ['dead']);
      assert.deepEqual(readdirSync(parent).sort(), ['bare-pid', 'elsewhere', 'garbled', 'mine', 'unmarked']);
      assert.deepEqual(readdirSync(`${parent}.owners`).sort(), ['bare-pid', 'elsewhere', 'garbled', 'mine']);
    });

    test('two sweepers at once remove a dead copy once and leave nothing behind', async (t) => {
      if (!canJudge()) {
        t.skip('needs Linux /proc showing every process');
        return;
      }
      const parent = join(dir, 'race', 'distill-build');
      for (let i = 0; i < 8; i++) await copyOf(parent, `dead${i}`, await deadOwner());
      const [a, b] = await Promise.all([sweepScratch(parent), sweepScratch(parent)]);
      assert.equal(a.length + b.length, 8, 'each copy swept by exactly one of them');
      assert.deepEqual(readdirSync(parent), []);
      assert.deepEqual(readdirSync(`${parent}.owners`), []);
    });

    test('a marker a sweeper took is left for an hour, then removed', async (t) => {
      if (!canJudge()) {
        t.skip('needs Linux /proc showing every process');
        return;
      }
      const parent = join(dir, 'taken', 'distill-build');
      await mkdir(`${parent}.owners`, { recursive: true });
      const taken = join(`${parent}.owners`, 'x.sweep-0123abcd');
      await writeFile(taken, `${await deadOwner()}\n`);
      await sweepScratch(parent);
      assert.ok(existsSync(taken), 'a sweeper may be working on it');
      // ctime cannot be set back; a sweep "an hour later" is judged by the clock instead.
      const later = Date.now() + 2 * 3600_000;
      const realNow = Date.now;
      Date.now = () => later;
      try {
        await sweepScratch(parent);
      } finally {
        Date.now = realNow;
      }
      assert.equal(existsSync(taken), false);
    });
  });
});
