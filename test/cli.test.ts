import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { Store } from '../src/store/store.js';
import { distill, distillProcess } from './helpers/cli.js';

test('the installed entry point: --help exits 0, a usage error 2, a failure 1 with one sentence', () => {
  const help = distillProcess(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /distill copy|copy SRC DST/);
  const usage = distillProcess(['copy', 'oci:/nonexistent']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /copy needs a source and a destination/);
  const fail = distillProcess(['digest', 'oci:/nonexistent/layout']);
  assert.equal(fail.code, 1);
  assert.equal(fail.stderr.trim().split('\n').length, 1, fail.stderr);
  assert.match(fail.stderr, /is not an OCI image layout/);
});

test('build: malformed flags are usage errors (exit 2) naming the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['build', '.', '--env', 'NOEQUALS'], /--env takes NAME=VALUE, not "NOEQUALS"/],
    [['build', '.', '--port', 'http'], /--port takes a port number/],
    [['build', '.', '--cmd', 'a && b'], /--cmd takes the arguments for node as one string/],
    [['build', 'a', 'b'], /build takes one app directory/],
    [['build', '.', '--no-such-flag'], /distill build: unknown option --no-such-flag\n/],
    [['build', '.', '--compression', 'zstd:20'], /--compression takes gzip, gzip:0-9, zstd or zstd:1-19/],
    [['build', '.', '--compression', 'brotli'], /--compression takes gzip.*not "brotli"/],
    [['base', 'nodejs24', '--compression', 'gzip:10'], /--compression takes gzip.*not "gzip:10"/],
  ];
  for (const [args, message] of cases) {
    const r = await distill(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const platform = await distill(['build', '.', '--platform', 'linux/s390x', '--plan']);
  assert.equal(platform.code, 2, platform.stderr);
  assert.match(platform.stderr, /distill builds linux\/amd64 and linux\/arm64 images/);
});

test('cache prune --all empties the cache; --older-than and --all do not mix', async () => {
  const root = await mkdtemp(join(tmpdir(), 'distill-cli-cache-'));
  try {
    const store = new Store(root);
    await store.put(Readable.from([Buffer.from('one blob')]));
    await store.put(Readable.from([Buffer.from('another blob')]));
    const r = await distill(['cache', 'prune', '--all', '--format', 'json'], { DISTILL_CACHE: root });
    assert.equal(r.code, 0, r.stderr);
    const removed = JSON.parse(r.stdout).removed as { blobs: number; bytes: number };
    // bytes as du -sb counts them: the two files and the directories that held them.
    assert.equal(removed.blobs, 2);
    assert.ok(removed.bytes >= 20, String(removed.bytes));
    const after = await store.du();
    assert.equal(after.blobs, 0);
    assert.ok(Object.values(after.areas).every((a) => a.files === 0));
    const both = await distill(['cache', 'prune', '--all', '--older-than', '3'], { DISTILL_CACHE: root });
    assert.equal(both.code, 2);
    const du = await distill(['cache', 'du', '--all'], { DISTILL_CACHE: root });
    assert.equal(du.code, 2);
    assert.match(du.stderr, /--older-than and --all go with cache prune/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
