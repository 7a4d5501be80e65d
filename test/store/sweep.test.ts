import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { lstat, mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  isOwnerGone,
  ownedTempName,
  ownerOfTempName,
  ownerState,
  ownerToken,
  parseOwner,
  processStartTime,
  sweepOwnedTemps,
} from '../../src/store/owner.js';
import { Store } from '../../src/store/store.js';
import { distillProcess } from '../helpers/cli.js';
import { tempDir } from '../helpers/components.js';
import { walkModes } from '../helpers/modes.js';

const STORE_TS = new URL('../../src/store/store.ts', import.meta.url).pathname;
const OWNER_TS = new URL('../../src/store/owner.ts', import.meta.url).pathname;

/** The owner token of a process that has ended. */
function deadToken(): string {
  const script = `import { ownerToken } from ${JSON.stringify(OWNER_TS)}; console.log(ownerToken());`;
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
  }).trim();
}

/** Sets a path's modification time `days` days back. */
async function age(path: string, days: number): Promise<void> {
  const t = new Date(Date.now() - days * 86_400_000);
  await utimes(path, t, t);
}

describe('owners of temp files and the sweep of killed processes', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-sweep-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a token names pid, start time, boot and host; this process is alive, an ended one is gone', () => {
    const mine = parseOwner(ownerToken())!;
    assert.equal(mine.pid, process.pid);
    assert.equal(mine.start, processStartTime('self'));
    assert.equal(ownerState(mine), 'alive');
    const dead = parseOwner(deadToken())!;
    assert.notEqual(dead.pid, process.pid);
    assert.equal(ownerState(dead), 'gone');
    // The pid is in use, by a process that started at another time: a reused pid.
    assert.equal(ownerState({ ...mine, start: String(Number(mine.start) + 1) }), 'gone');
    // An earlier boot on this host: gone. Another host or pid namespace: cannot be judged.
    assert.equal(ownerState({ ...mine, boot: '00000000' }), 'gone');
    assert.equal(ownerState({ ...dead, ctx: mine.ctx === 'ffffffff' ? '00000000' : 'ffffffff' }), 'unknown');
    // Names of older versions carry only the pid.
    assert.equal(ownerState({ pid: dead.pid }), 'gone');
    assert.equal(ownerState({ pid: process.pid }), 'unknown');
    assert.equal(isOwnerGone(mine), false);
    assert.equal(parseOwner('0'), undefined);
    assert.equal(parseOwner('12-x'), undefined);
  });

  test('temp names: the owner is read back, other names are not temps', () => {
    const name = ownedTempName('.', '.tmp');
    assert.match(name, /^\.\d+-\d+-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{12}\.tmp$/);
    assert.deepEqual(ownerOfTempName(name, '.', '.tmp'), parseOwner(ownerToken()));
    assert.deepEqual(ownerOfTempName('.4242-abcd.tmp', '.', '.tmp'), { pid: 4242 });
    assert.equal(ownerOfTempName('.4242-abcd.tmp'), undefined, 'another prefix');
    assert.equal(ownerOfTempName('notes.txt'), undefined);
    assert.equal(ownerOfTempName('.tmp-build', '.tmp-'), undefined);
  });

  test('sweepOwnedTemps removes what killed owners left and keeps live, unknown and foreign entries', async () => {
    const d = join(dir, 'sweep');
    await mkdir(d);
    const dead = deadToken();
    const mine = ownerToken();
    const other = mine.replace(/-[0-9a-f]{8}$/, (m) => (m === '-ffffffff' ? '-00000000' : '-ffffffff'));
    const files = {
      deadFile: `.${dead}-aaaaaaaaaaaa.tmp`,
      deadDir: `.${dead}-bbbbbbbbbbbb.tmp`,
      mine: `.${mine}-cccccccccccc.tmp`,
      otherHostFresh: `.${other}-dddddddddddd.tmp`,
      otherHostStale: `.${other}-eeeeeeeeeeee.tmp`,
      unrelated: 'image.tar',
      lookalike: '.tmp-notes',
    };
    for (const [k, name] of Object.entries(files)) {
      if (k === 'deadDir') {
        await mkdir(join(d, name, 'sub'), { recursive: true });
        await writeFile(join(d, name, 'sub', 'f'), 'x');
      } else {
        await writeFile(join(d, name), k);
      }
    }
    await age(join(d, files.otherHostStale), 2);
    const removed = await sweepOwnedTemps(d, { prefix: '.', suffix: '.tmp' });
    assert.deepEqual(removed.sort(), [files.deadDir, files.deadFile, files.otherHostStale].sort());
    assert.deepEqual(
      (await readdir(d)).sort(),
      [files.mine, files.otherHostFresh, files.unrelated, files.lookalike].sort(),
    );
    assert.deepEqual(await sweepOwnedTemps(join(dir, 'absent')), []);
  });

  test("a later distill run sweeps the tmp/ file of a killed writer and keeps a live writer's", async () => {
    const root = join(dir, 'store');
    // Two real writers, each streaming a blob into the store that never ends.
    const script = `
      import { Store } from ${JSON.stringify(STORE_TS)};
      import { PassThrough } from 'node:stream';
      const s = new PassThrough();
      new Store(process.env.STORE_ROOT).put(s).catch(() => {});
      s.write(Buffer.alloc(70000, 1));
      setInterval(() => {}, 1000);
    `;
    const start = () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, STORE_ROOT: root },
        stdio: 'ignore',
      });
    const killed = start();
    const live = start();
    try {
      const owned = async (pid: number | undefined) =>
        (await readdir(join(root, 'tmp')).catch(() => [] as string[])).filter((n) => n.startsWith(`${pid}-`));
      const deadline = Date.now() + 30_000;
      while ((await owned(killed.pid)).length === 0 || (await owned(live.pid)).length === 0) {
        assert.ok(Date.now() < deadline, 'the writers made their temp files');
        await new Promise((r) => setTimeout(r, 50));
      }
      const leftover = (await owned(killed.pid))[0]!;
      killed.kill('SIGKILL');
      await new Promise((r) => killed.once('exit', r));
      assert.ok((await lstat(join(root, 'tmp', leftover))).size > 0, 'a partial file is left');
      const r = distillProcess(['cache', 'du', '--format', 'json'], { DISTILL_CACHE: root });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await owned(killed.pid), [], "the killed writer's file is gone");
      assert.equal((await owned(live.pid)).length, 1, "the live writer's file is kept");
      assert.equal(JSON.parse(r.stdout).areas.tmp.files, 1);
    } finally {
      killed.kill('SIGKILL');
      live.kill('SIGKILL');
    }
  });

  test('Store.open sweeps once per process; prune keeps the temp of this live process', async () => {
    const root = join(dir, 'once');
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, 'tmp', `${deadToken()}-0123456789ab`), 'partial');
    await Store.open(root);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    const again = `${deadToken()}-0123456789ab`;
    await writeFile(join(root, 'tmp', again), 'partial');
    await Store.open(root);
    assert.deepEqual(await readdir(join(root, 'tmp')), [again], 'not swept twice in one process');
    const store = new Store(root);
    const mine = await store.tempPath();
    await writeFile(mine, 'being written');
    await store.prune();
    assert.deepEqual(await readdir(join(root, 'tmp')), [mine.slice(mine.lastIndexOf('/') + 1)]);
  });

  test('under umask 000, nothing the store and the media writers create is group- or world-writable', async () => {
    const root = join(dir, 'umask');
    const script = `
      import { Store } from ${JSON.stringify(STORE_TS)};
      import { writeArtifact } from ${JSON.stringify(new URL('../../src/media/index.ts', import.meta.url).pathname)};
      import { parseImageRef } from ${JSON.stringify(new URL('../../src/ref/transport.ts', import.meta.url).pathname)};
      import { memoryImage } from ${JSON.stringify(new URL('../helpers/images.ts', import.meta.url).pathname)};
      import { writeFile } from 'node:fs/promises';
      import { Readable } from 'node:stream';
      process.umask(0);
      const root = process.env.ROOT;
      await writeFile(root + '-control', 'x'); // Node's default mode under umask 000: 0666
      const store = new Store(root + '/cache');
      await store.put(Readable.from([Buffer.from('streamed')]));
      await store.putBytes(Buffer.from('in memory'));
      await store.record('build-pm').put('npm@10', { version: '10.9.0' });
      await store.putMeta('legacy', 1);
      store.area('pm-cache');
      const image = await memoryImage();
      const opts = { store };
      await writeArtifact(parseImageRef('oci:' + root + '/out/layout:x'), image, opts);
      await writeArtifact(parseImageRef('oci-archive:' + root + '/out/a.tar:x'), image, opts);
      await writeArtifact(parseImageRef('docker-archive:' + root + '/out/d.tar:x:1'), image, opts);
    `;
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, ROOT: root },
      stdio: 'inherit',
    });
    assert.equal((await lstat(`${root}-control`)).mode & 0o777, 0o666, 'the umask was 000 in the child');
    const walked = await walkModes(root);
    assert.ok(walked.paths > 15, `walked ${walked.paths} paths`);
    assert.deepEqual(walked.writable, []);
  });
});
