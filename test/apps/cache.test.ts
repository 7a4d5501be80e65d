import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cachedEntry, cacheKey } from '../helpers/apps/cache.js';
import { tempDir } from '../helpers/components.js';

/**
 * The generated apps' cache (test/helpers/apps/cache.ts) across processes, as node's test runner
 * uses it: test files are processes that may ask for the same app at once.
 */
const CACHE = fileURLToPath(new URL('../helpers/apps/cache.ts', import.meta.url));

/** A process that asks for `key` in `root`; its make appends its pid to `log`, waits, writes a file. */
async function asker(dir: string): Promise<string> {
  const script = join(dir, 'ask.mts');
  await writeFile(
    script,
    `import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cachedEntry } from ${JSON.stringify(CACHE)};
const [root, key, log, fail] = process.argv.slice(2);
const e = await cachedEntry(key, { k: key }, async (tree) => {
  await appendFile(log, process.pid + '\\n');
  await new Promise((r) => setTimeout(r, 1500));
  if (fail === 'fail') throw new Error('make failed on purpose');
  await writeFile(join(tree, 'made'), 'by ' + process.pid);
}, { root, waitMs: 60000 });
process.stdout.write(JSON.stringify({ tree: e.tree, madeNow: e.madeNow }));
`,
  );
  return script;
}

function ask(script: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: 'pipe' });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

test('two processes asking at once: one makes the entry, both get the whole tree', async (t) => {
  const dir = await tempDir('distill-apps-cache-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const script = await asker(dir);
  const log = join(dir, 'makes.log');
  const [a, b] = await Promise.all([ask(script, [root, 'app-1', log]), ask(script, [root, 'app-1', log])]);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.code, 0, b.err);
  const ra = JSON.parse(a.out);
  const rb = JSON.parse(b.out);
  assert.equal(ra.tree, rb.tree);
  assert.deepEqual([ra.madeNow, rb.madeNow].sort(), [false, true]);
  assert.equal((await readFile(log, 'utf8')).trim().split('\n').length, 1, 'made once');
  assert.match(await readFile(join(ra.tree, 'made'), 'utf8'), /^by \d+$/);
  assert.deepEqual(await readdir(root), ['app-1'], 'no lock or temp directory left');
  const meta = JSON.parse(await readFile(join(root, 'app-1', 'meta.json'), 'utf8'));
  assert.equal(meta.key, 'app-1');
  assert.ok(meta.seconds >= 1.5, String(meta.seconds));
  // A third asker finds it without making anything.
  const c = await ask(script, [root, 'app-1', log]);
  assert.equal(JSON.parse(c.out).madeNow, false);
  assert.equal((await readFile(log, 'utf8')).trim().split('\n').length, 1);
});

test('a failing make leaves nothing; the next ask makes it', async (t) => {
  const dir = await tempDir('distill-apps-cache-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const script = await asker(dir);
  const log = join(dir, 'makes.log');
  const failed = await ask(script, [root, 'app-2', log, 'fail']);
  assert.notEqual(failed.code, 0);
  assert.match(failed.err, /make failed on purpose/);
  assert.deepEqual(await readdir(root), [], 'no entry, lock or temp directory');
  const again = await ask(script, [root, 'app-2', log]);
  assert.equal(again.code, 0, again.err);
  assert.equal(JSON.parse(again.out).madeNow, true);
});

test("a dead process's lock and temp directory are taken over", async (t) => {
  const dir = await tempDir('distill-apps-cache-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  // A pid that is surely gone: a process that has exited.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  }).stdout;
  await mkdir(join(root, 'app-3.lock'), { recursive: true });
  await writeFile(join(root, 'app-3.lock', 'owner'), dead);
  await mkdir(join(root, `app-3.tmp-${dead}-0badc0de`, 'tree'), { recursive: true });
  const e = await cachedEntry('app-3', {}, (tree) => writeFile(join(tree, 'x'), 'y'), {
    root,
    waitMs: 10_000,
  });
  assert.equal(e.madeNow, true);
  assert.equal(await readFile(join(e.tree, 'x'), 'utf8'), 'y');
  assert.deepEqual(await readdir(root), ['app-3']);
});

test("a live process's lock is waited for, not taken", async (t) => {
  const dir = await tempDir('distill-apps-cache-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(join(root, 'app-4.lock'), { recursive: true });
  await writeFile(join(root, 'app-4.lock', 'owner'), String(process.pid));
  let made = false;
  await assert.rejects(
    cachedEntry(
      'app-4',
      {},
      async () => {
        made = true;
      },
      { root, waitMs: 1500 },
    ),
    /gave up waiting for .*app-4\.lock/,
  );
  assert.equal(made, false);
  assert.ok(existsSync(join(root, 'app-4.lock')), 'the owner keeps its lock');
});

test('keys differ by inputs and are stable', () => {
  assert.equal(cacheKey('nest', { v: '1' }), cacheKey('nest', { v: '1' }));
  assert.notEqual(cacheKey('nest', { v: '1' }), cacheKey('nest', { v: '2' }));
  assert.match(cacheKey('nest', {}), /^nest-[0-9a-f]{16}$/);
});
