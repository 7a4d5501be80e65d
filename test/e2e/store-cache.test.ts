import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, lstat, readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AptRepo } from '../helpers/aptrepo.js';
import { repoArgs, useLocalRepo } from '../helpers/base-fixture.js';
import { distill } from '../helpers/cli.js';
import { walkModes } from '../helpers/modes.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';
import { runDistill } from '../helpers/spawn-cli.js';

/**
 * The store as the only cache, on a real populated cache: examples/hello built (Node toolchain,
 * npm and its cache, Debian packages, layers), copied to every file medium and a base built
 * from the local signed apt repository, all under `umask 000`. Then nothing is group- or
 * world-writable, `cache du` is what `du -sb` says, `--older-than` goes by last use in every
 * area and `--all` empties the directory.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const duSb = (path: string) => Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);

describe('e2e: the store is the only cache', () => {
  const fx = useLocalRepo('distill-store-e2e-');
  let cache = '';
  let out = '';
  let repo: AptRepo | undefined;
  let populated = false;
  before(() => {
    cache = join(fx.dir, 'cache');
    out = join(fx.dir, 'out');
  });

  const ready = async (t: TestContext) => {
    repo = await fx.ready(t);
    return repo !== undefined && (await requireNetwork(t, DEBIAN, NPM));
  };

  test('umask 000: build, copy and base leave no group- or world-writable path', {
    timeout: 900_000,
  }, async (t) => {
    if (!(await ready(t))) return;
    const app = join(fx.dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    const env = { DISTILL_CACHE: cache };
    const umask = { umask: '000' };
    const run = async (args: string[]) => {
      const r = await runDistill(args, env, umask);
      assert.equal(r.code, 0, `distill ${args.join(' ')}: ${r.stderr}`);
      return r;
    };
    await run([
      'build',
      app,
      '-q',
      '-o',
      `oci:${out}/build:x`,
      '-o',
      `docker-archive:${out}/build.tar:hello:1`,
    ]);
    await run(['copy', '-q', `oci:${out}/build:x`, `oci:${out}/copy:x`]);
    await run(['copy', '-q', `oci:${out}/build:x`, `oci-archive:${out}/copy-oci.tar:x`]);
    await run(['copy', '-q', `oci:${out}/build:x`, `docker-archive:${out}/copy-docker.tar:hello:1`]);
    await run(['base', 'static', '-q', ...repoArgs(repo!, fx.keyring()), '-o', `oci:${out}/base:x`]);
    populated = true;

    // The shell's umask really was 000: what it creates itself is world-writable.
    const control = join(fx.dir, 'control');
    execFileSync('bash', ['-c', `umask 000 && touch ${control}`]);
    assert.equal((await lstat(control)).mode & 0o777, 0o666);

    for (const root of [cache, out]) {
      const walked = await walkModes(root);
      assert.ok(walked.paths > 20, `${root}: ${walked.paths} paths`);
      assert.deepEqual(walked.writable, [], `group- or world-writable under ${root}`);
    }
    const areas = await readdir(cache);
    for (const a of ['blobs', 'meta', 'toolchains', 'pm-cache'])
      assert.ok(areas.includes(a), `${a} in ${areas}`);
    assert.deepEqual(
      areas.filter((a) => !['blobs', 'meta', 'toolchains', 'pm-cache', 'tmp'].includes(a)),
      [],
    );
  });

  test('cache du reports every area and its total is what du -sb says', async (t) => {
    if (!populated) return t.skip('needs the populated cache of the first test');
    const r = await distill(['cache', 'du', '--format', 'json'], { DISTILL_CACHE: cache });
    assert.equal(r.code, 0, r.stderr);
    const du = JSON.parse(r.stdout);
    const expected = duSb(cache);
    t.diagnostic(`cache du ${du.bytes} bytes, du -sb ${expected} bytes`);
    assert.ok(Math.abs(du.bytes - expected) <= expected * 0.01, `${du.bytes} vs du -sb ${expected}`);
    for (const a of ['blobs', 'meta', 'toolchains', 'pm-cache']) {
      assert.ok(du.areas[a].bytes > 0 && du.areas[a].files > 0, `${a}: ${JSON.stringify(du.areas[a])}`);
    }
    assert.equal(du.areas.other.bytes, 0);
    assert.equal(du.blobs, (await readdir(join(cache, 'blobs', 'sha256'))).length);
    const text = await distill(['cache', 'du'], { DISTILL_CACHE: cache });
    assert.match(text.stdout, /^ {2}toolchains +\d/m);
    assert.match(text.stdout, /^ {2}pm-cache +\d/m);
  });

  test('prune --older-than goes by last use in every area; prune --all empties the directory', async (t) => {
    if (!populated) return t.skip('needs the populated cache of the first test');
    const env = { DISTILL_CACHE: cache };
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    const toolchains = (await readdir(join(cache, 'toolchains'))).sort();
    assert.ok(toolchains.length >= 2, `node and npm: ${toolchains}`);
    const [oldTool, ...freshTools] = toolchains as [string, ...string[]];
    await utimes(join(cache, 'toolchains', oldTool), longAgo, longAgo);
    const blobs = (await readdir(join(cache, 'blobs', 'sha256'))).sort();
    const [oldBlob, ...freshBlobs] = blobs as [string, ...string[]];
    await utimes(join(cache, 'blobs', 'sha256', oldBlob), longAgo, longAgo);
    const records = (await readdir(join(cache, 'meta'))).sort();
    const [oldRecord] = records as [string];
    await utimes(join(cache, 'meta', oldRecord), longAgo, longAgo);

    let r = await distill(['cache', 'prune', '--older-than', '30', '--format', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const removed = JSON.parse(r.stdout).removed;
    assert.equal(removed.blobs, 1);
    assert.ok(removed.areas.toolchains.bytes > 0 && removed.areas.meta.files === 1, JSON.stringify(removed));
    assert.deepEqual((await readdir(join(cache, 'toolchains'))).sort(), freshTools);
    assert.deepEqual((await readdir(join(cache, 'blobs', 'sha256'))).sort(), freshBlobs);
    assert.equal((await readdir(join(cache, 'meta'))).length, records.length - 1);
    assert.ok((await readdir(join(cache, 'pm-cache'))).length > 0, 'pm-cache used just now: kept');

    r = await distill(['cache', 'prune', '--all', '--older-than', '3'], env);
    assert.equal(r.code, 2, 'either --all or --older-than');
    r = await distill(['cache', 'prune', '--all'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(cache), [], 'the cache directory is empty');
    r = await distill(['cache', 'du', '--format', 'json'], env);
    assert.equal(JSON.parse(r.stdout).bytes, duSb(cache));
  });
});
