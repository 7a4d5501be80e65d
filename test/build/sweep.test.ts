import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  claimScratch,
  formatOwner,
  type Owner,
  ownerGone,
  parseOwner,
  processStartTime,
  releaseScratch,
  selfOwner,
  sweepScratch,
} from '../../src/build/app/sweep.js';
import { tempDir } from '../helpers/components.js';

/** The scratch copies of killed builds, found by their owner markers and swept (src/build/app/sweep.ts). */
const me: Owner = { pid: 100, start: '5000', boot: 'aaaaaaaa', ctx: 'bbbbbbbb' };

describe('scratch copies of killed builds', () => {
  test('ownerGone: only a surely dead owner, judged in the same host and pid namespace', () => {
    const starts = new Map([[200, '7000']]);
    const startOf = (pid: number) => starts.get(pid);
    const other = (o: Partial<Owner>): Owner => ({ ...me, pid: 200, start: '7000', ...o });
    assert.equal(ownerGone(other({}), me, startOf), false, 'alive: same pid, same start');
    assert.equal(ownerGone(other({ start: '6999' }), me, startOf), true, 'the pid is another process now');
    assert.equal(ownerGone(other({ pid: 201 }), me, startOf), true, 'no such process');
    assert.equal(ownerGone(other({ boot: 'cccccccc', pid: 200 }), me, startOf), true, 'an earlier boot');
    assert.equal(
      ownerGone(other({ ctx: 'dddddddd', pid: 201 }), me, startOf),
      false,
      'another pid namespace',
    );
    assert.equal(
      ownerGone(other({ pid: 201 }), undefined, startOf),
      false,
      'no /proc here: nothing is judged',
    );
    assert.deepEqual(parseOwner(formatOwner(me)), me);
    assert.equal(parseOwner('123'), undefined);
  });

  describe('on disk', () => {
    let dir = '';
    before(async () => {
      dir = await tempDir('distill-sweep-');
    });
    after(() => rm(dir, { recursive: true, force: true }));

    /** The owner token of a process that has ended. */
    async function deadOwner(): Promise<Owner> {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 200)']);
      await new Promise((r) => child.once('spawn', r));
      const start = processStartTime(child.pid!)!;
      await new Promise((r) => child.once('exit', r));
      return { ...selfOwner()!, pid: child.pid!, start };
    }

    async function copyOf(parent: string, name: string, owner: Owner | string): Promise<void> {
      await mkdir(join(parent, name, 'node_modules'), { recursive: true });
      await writeFile(join(parent, name, '.env'), 'SECRET=1\n');
      await mkdir(`${parent}.owners`, { recursive: true });
      await writeFile(
        join(`${parent}.owners`, name),
        `${typeof owner === 'string' ? owner : formatOwner(owner)}\n`,
      );
    }

    test('a claimed copy has a marker beside it; releasing removes both; a taken name is refused', async () => {
      const parent = join(dir, 'claim', 'distill-build');
      await mkdir(parent, { recursive: true });
      assert.equal(await claimScratch(parent, 'abc'), true);
      assert.deepEqual(readdirSync(parent), ['abc'], 'only the copy is among the copies');
      const marker = readFileSync(join(`${parent}.owners`, 'abc'), 'utf8');
      if (selfOwner() !== undefined)
        assert.deepEqual(parseOwner(marker), selfOwner(), 'the marker names this process');
      assert.equal(await claimScratch(parent, 'abc'), false, 'the name is taken');
      assert.deepEqual(await sweepScratch(parent), [], 'a live owner is never swept');
      await releaseScratch(join(parent, 'abc'));
      assert.deepEqual(readdirSync(parent), []);
      assert.deepEqual(readdirSync(`${parent}.owners`), []);
    });

    test('a dead owner’s copy is swept; live, unjudgeable and unmarked ones stay', async (t) => {
      if (selfOwner() === undefined) {
        t.skip('needs Linux /proc');
        return;
      }
      const parent = join(dir, 'sweep', 'distill-build');
      await copyOf(parent, 'dead', await deadOwner());
      await copyOf(parent, 'mine', selfOwner()!);
      await copyOf(parent, 'elsewhere', { ...(await deadOwner()), ctx: '00000000' });
      await copyOf(parent, 'garbled', 'not a token');
      await mkdir(join(parent, 'unmarked'));
      await mkdir(join(parent, 'old.trash-0123abcd', 'x'), { recursive: true });
      assert.deepEqual(await sweepScratch(parent), ['dead']);
      assert.deepEqual(readdirSync(parent).sort(), ['elsewhere', 'garbled', 'mine', 'unmarked']);
      assert.deepEqual(readdirSync(`${parent}.owners`).sort(), ['elsewhere', 'garbled', 'mine']);
    });

    test('two sweepers at once remove a dead copy once and leave nothing behind', async (t) => {
      if (selfOwner() === undefined) {
        t.skip('needs Linux /proc');
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
      if (selfOwner() === undefined) {
        t.skip('needs Linux /proc');
        return;
      }
      const parent = join(dir, 'taken', 'distill-build');
      await mkdir(`${parent}.owners`, { recursive: true });
      const taken = join(`${parent}.owners`, 'x.sweep-0123abcd');
      await writeFile(taken, `${formatOwner(await deadOwner())}\n`);
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
