import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import zlib from 'node:zlib';
import { ensureBundle } from '../scripts/bundle.mjs';
import { tempDir } from './helpers/components.js';

/**
 * bin/code-cache.js: on Node 20 the bin runs dist/bundle/distill.cjs through vm.Script with V8's
 * code cache (decision 0030). DISTILL_TEST_NODE runs the bin with another Node (22.1 and newer
 * keep the ESM bundle and Node's own compile cache: then only the first test applies).
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const node = process.env.DISTILL_TEST_NODE ?? process.execPath;
const vmCache =
  spawnSync(node, ['-p', "typeof require('node:module').enableCompileCache"], {
    encoding: 'utf8',
  }).stdout.trim() !== 'function';
const MAGIC = Buffer.from('distill-v8-cache1');

let tmp: string;
before(async () => {
  tmp = await tempDir('distill-code-cache-test-');
  assert.equal(await ensureBundle(), true, 'the bundle can be built');
  assert.ok(existsSync(join(ROOT, 'dist', 'bundle', 'distill.cjs')), 'the bundle has its classic script');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  trace: string[];
}

/** The bin as an installed package runs it (DISTILL_USE_DIST: the bundle as it is), temp dir `dir`. */
function run(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  mkdirSync(dir, { recursive: true });
  const trace = join(dir, 'trace');
  rmSync(trace, { force: true });
  const { NODE_COMPILE_CACHE: _, NODE_DISABLE_COMPILE_CACHE: __, ...rest } = process.env;
  const r = spawnSync(node, [join(ROOT, 'bin', 'distill.js'), ...args], {
    encoding: 'utf8',
    env: { ...rest, DISTILL_USE_DIST: '1', TMPDIR: dir, DISTILL_CODE_CACHE_TRACE: trace, ...env },
  });
  const lines = existsSync(trace) ? readFileSync(trace, 'utf8').trim().split('\n') : [];
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    trace: lines.map((l) => l.split(' ')[0] ?? ''),
  };
}

const cacheDir = (dir: string) => join(dir, `distill-code-cache-${process.getuid?.() ?? 'user'}`);
const cacheFiles = (dir: string) => (existsSync(cacheDir(dir)) ? readdirSync(cacheDir(dir)) : []);
const only = (dir: string) => {
  const files = cacheFiles(dir);
  assert.equal(files.length, 1, `one cache file: ${files.join(', ')}`);
  return join(cacheDir(dir), files[0] ?? '');
};

/** A cache file: MAGIC, the CRC-32 of `rest`, `rest` (the writing run's ms, the data). */
function withCrc(rest: Buffer): Buffer {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(rest));
  return Buffer.concat([MAGIC, crc, rest]);
}

/** What the user sees, without the trace and the seconds progress lines count. */
const seen = (r: Run) => ({
  status: r.status,
  stdout: r.stdout,
  stderr: r.stderr.replace(/\(\d+\.\ds\)/g, '(N s)'),
});

describe('the code cache of the classic-script bundle', () => {
  test('Node 20 writes it on the first start and uses it on the second; Node 22.1+ does not use it', () => {
    const dir = join(tmp, 'second-start');
    const first = run(dir, ['--version']);
    assert.equal(first.status, 0, first.stderr);
    const second = run(dir, ['--version']);
    assert.deepEqual(seen(second), seen(first));
    if (!vmCache) {
      assert.deepEqual(
        cacheFiles(dir),
        [],
        `Node ${node} keeps its own compile cache: no code cache of ours`,
      );
      assert.deepEqual(first.trace, []);
      return;
    }
    assert.deepEqual(first.trace, ['miss', 'wrote']);
    assert.deepEqual(second.trace, ['hit']);
    assert.ok(readFileSync(only(dir)).subarray(0, MAGIC.length).equals(MAGIC));
  });

  test('behaves as the ESM bundle: output, errors, exit codes, modules loaded on first use', (t) => {
    if (!vmCache) return t.skip(`Node ${node} runs the ESM bundle`);
    const dir = join(tmp, 'same');
    const cases = [
      ['--version'],
      ['--help'],
      ['bogus'],
      ['build', join(tmp, 'no-such-app'), '-q'],
      // The registry client loads node:http through import(): the script's dynamic import works.
      ['inspect', 'docker://127.0.0.1:1/none:latest'],
    ];
    for (const args of cases) {
      const esm = run(dir, args, { NODE_DISABLE_COMPILE_CACHE: '1' });
      assert.deepEqual(esm.trace, [], 'NODE_DISABLE_COMPILE_CACHE=1: the ESM bundle, no code cache');
      const script = run(dir, args);
      assert.deepEqual(seen(script), seen(esm), args.join(' '));
      assert.ok(script.trace.includes('miss') || script.trace.includes('hit'), script.trace.join());
    }
    assert.match(run(dir, ['inspect', 'docker://127.0.0.1:1/none:latest']).stderr, /127\.0\.0\.1:1/);
  });

  test('one file per command: a first --version leaves build its own', (t) => {
    if (!vmCache) return t.skip(`Node ${node} runs the ESM bundle`);
    const dir = join(tmp, 'commands');
    assert.deepEqual(run(dir, ['--version']).trace, ['miss', 'wrote']);
    assert.deepEqual(run(dir, ['build', '--help']).trace, ['miss', 'wrote']);
    assert.equal(run(dir, ['build', '--help']).trace[0], 'hit');
    assert.equal(cacheFiles(dir).length, 2);
  });

  test('a corrupt or truncated file is ignored and written anew', (t) => {
    if (!vmCache) return t.skip(`Node ${node} runs the ESM bundle`);
    const dir = join(tmp, 'corrupt');
    const good = run(dir, ['--version']);
    const file = only(dir);
    const bytes = readFileSync(file);
    const flipped = Buffer.from(bytes);
    const at = MAGIC.length + 8 + Math.floor((bytes.length - MAGIC.length - 8) / 2);
    flipped[at] = (flipped[at] ?? 0) ^ 0xff;
    for (const [what, damaged] of [
      ['a flipped byte', flipped],
      ['truncated', bytes.subarray(0, bytes.length >> 1)],
      ['empty', Buffer.alloc(0)],
    ] as const) {
      writeFileSync(file, damaged);
      const r = run(dir, ['--version']);
      assert.deepEqual(seen(r), seen(good), what);
      assert.deepEqual(r.trace, ['corrupt', 'wrote'], what);
      assert.ok(readFileSync(file).length > MAGIC.length + 8, `${what}: written again`);
      assert.equal(run(dir, ['--version']).trace[0], 'hit', what);
    }
  });

  test('a file written by a much shorter or longer run is written anew', (t) => {
    if (!vmCache) return t.skip(`Node ${node} runs the ESM bundle`);
    const dir = join(tmp, 'refresh');
    run(dir, ['--version']);
    const file = only(dir);
    const ms = (buf: Buffer) => buf.readUInt32BE(MAGIC.length + 4) & 0x7fffffff; // top bit: no cache
    const written = readFileSync(file);
    assert.ok(ms(written) > 0, 'the run that wrote it took some milliseconds');
    // As if a run of 1 ms had written it: any start takes longer than 4 ms.
    writeFileSync(
      file,
      withCrc(Buffer.concat([Buffer.from([0, 0, 0, 1]), written.subarray(MAGIC.length + 8)])),
    );
    assert.deepEqual(run(dir, ['--version']).trace, ['hit', 'wrote']);
    assert.ok(ms(readFileSync(file)) > 1, 'the new file carries the longer run');
    // As if a cold build of an hour had written it.
    const hour = Buffer.from([0, 0x36, 0xee, 0x80]);
    writeFileSync(file, withCrc(Buffer.concat([hour, readFileSync(file).subarray(MAGIC.length + 8)])));
    assert.deepEqual(run(dir, ['--version']).trace, ['hit', 'dropped'], 'removed for a leaner one');
    assert.equal(existsSync(file), false);
    assert.deepEqual(run(dir, ['--version']).trace, ['miss', 'wrote']);
    assert.ok(ms(readFileSync(file)) < 3_600_000, 'the new file carries the shorter run');
  });

  test('writing a file removes old ones and keeps the 32 newest', (t) => {
    if (!vmCache) return t.skip(`Node ${node} runs the ESM bundle`);
    const dir = join(tmp, 'prune');
    mkdirSync(cacheDir(dir), { recursive: true, mode: 0o700 });
    const day = 24 * 3_600_000;
    for (let i = 0; i < 40; i++) {
      const f = join(cacheDir(dir), `old-${i}.v8`);
      writeFileSync(f, 'x');
      const when = new Date(Date.now() - (i === 0 ? 31 * day : i * 60_000));
      utimesSync(f, when, when);
    }
    assert.deepEqual(run(dir, ['--version']).trace, ['miss', 'wrote']);
    const left = cacheFiles(dir);
    assert.equal(left.length, 32);
    assert.ok(!left.includes('old-0.v8'), 'written 31 days ago');
    assert.ok(left.includes('old-1.v8') && !left.includes('old-39.v8'), 'the newest kept');
    assert.equal(left.filter((f) => !f.startsWith('old-')).length, 1, 'the new file kept');
  });

  test('data V8 rejects (another script, another V8) is written anew', (t) => {
    if (!vmCache) return t.skip(`Node ${node} runs the ESM bundle`);
    const dir = join(tmp, 'rejected');
    run(dir, ['--version']);
    const file = only(dir);
    const other = new vm.Script('1 + 1').createCachedData();
    writeFileSync(file, withCrc(Buffer.concat([Buffer.from([0, 0, 0, 1]), other])));
    const r = run(dir, ['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.trace, ['rejected', 'wrote']);
    assert.equal(run(dir, ['--version']).trace[0], 'hit');
  });

  test('a cache directory others can write to is not used: the ESM bundle runs', (t) => {
    if (!vmCache) return t.skip(`Node ${node} runs the ESM bundle`);
    const dir = join(tmp, 'unsafe');
    mkdirSync(cacheDir(dir), { recursive: true });
    chmodSync(cacheDir(dir), 0o777);
    const r = run(dir, ['--version']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    assert.deepEqual(r.trace, ['unsafe']);
    assert.deepEqual(cacheFiles(dir), []);
  });

  test('NODE_DISABLE_COMPILE_CACHE=1 writes nothing', () => {
    const dir = join(tmp, 'off');
    const r = run(dir, ['--version'], { NODE_DISABLE_COMPILE_CACHE: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.trace, []);
    assert.equal(existsSync(cacheDir(dir)), false);
  });
});
