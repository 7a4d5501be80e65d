import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildLayer } from '../../src/layers/build.js';
import { GZIP_ENCODER } from '../../src/layers/compression.js';
import { entriesFromDirectory } from '../../src/layers/directory.js';
import { diffIdOf } from '../../src/layers/read.js';
import { GOLDEN_EPOCH, goldenEntries } from './golden-tree.js';
import { readAll, tempDirFor, tempStore } from './helpers.js';

interface GoldenLayer {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
  uncompressedSize: number;
}

const golden = JSON.parse(await readFile(new URL('../golden/layers.json', import.meta.url), 'utf8')) as {
  gzipEncoder: string;
  gzip: GoldenLayer;
  none: GoldenLayer;
};

test('golden: the fixed tree builds to the recorded diff_id and digests', async (t) => {
  const store = await tempStore(t);
  const entries = await goldenEntries(join(await tempDirFor(t), 'tree'));
  for (const compression of ['none', 'gzip'] as const) {
    const layer = await buildLayer(entries, { store, compression, sourceDateEpoch: GOLDEN_EPOCH });
    const want = golden[compression];
    // The diff_id is the contract: it depends only on this project's tar writer.
    assert.equal(
      layer.diffId,
      want.diffId,
      `${compression} diff_id (rerun scripts/update-golden.ts only if intended)`,
    );
    assert.equal(layer.uncompressedSize, want.uncompressedSize);
    assert.equal(layer.descriptor.mediaType, want.mediaType);
    // The compressed digest depends on the deflate too: libdeflate in WebAssembly, the same bytes
    // on every host (decision 0042), so it is compared everywhere.
    assert.equal(golden.gzipEncoder, GZIP_ENCODER, 'the golden was written with this gzip encoder');
    assert.equal(layer.descriptor.digest, want.digest, `${compression} digest`);
    assert.equal(layer.descriptor.size, want.size);
    assert.deepEqual(await diffIdOf(await layer.open()), {
      diffId: layer.diffId,
      size: layer.uncompressedSize,
    });
  }
});

test('golden tree: has the features it is meant to pin', async (t) => {
  const store = await tempStore(t);
  const entries = await goldenEntries(join(await tempDirFor(t), 'tree'));
  const layer = await buildLayer(entries, { store, compression: 'none', sourceDateEpoch: GOLDEN_EPOCH });
  const read = await readAll(await layer.open());
  const byName = new Map(read.map((e) => [e.header.name, e.header]));
  assert.ok(
    read.some((e) => e.header.name.length > 100 && e.header.pax?.path === e.header.name),
    'pax path',
  );
  assert.ok(
    read.some((e) => (e.header.linkname ?? '').length > 100 && e.header.pax?.linkpath),
    'pax linkpath',
  );
  assert.ok(
    read.some((e) => e.header.name.length > 100 && e.header.pax === null),
    'ustar prefix split',
  );
  assert.equal(byName.get('app/bin/run')?.mode, 0o755);
  assert.equal(byName.get('app/lib/index-hardlink.js')?.type, 'link');
  assert.equal(byName.get('app/bin/index-symlink.js')?.type, 'symlink');
  assert.equal(byName.get('app/empty/')?.type, 'directory');
  assert.equal(
    byName.get('usr/bin/ping')?.pax?.['SCHILY.xattr.user.distill.test'],
    'value with spaces = and unicode é',
  );
  assert.ok(read.every((e) => e.header.mtime === GOLDEN_EPOCH));
});

/** Writes the same tree with the given umask, permission bits and times. */
async function writeTree(
  dir: string,
  v: { umask: number; file: number; exec: number; dir: number; time: Date },
) {
  const old = process.umask(v.umask);
  try {
    await mkdir(join(dir, 'src', 'lib'), { recursive: true });
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'package.json'), '{"name":"app"}\n');
    await writeFile(join(dir, 'src', 'index.js'), 'export {};\n');
    await writeFile(join(dir, 'src', 'lib', 'util.js'), 'export const x = 1;\n');
    await writeFile(join(dir, 'start.sh'), '#!/bin/sh\nexec node src/index.js\n');
    await symlink('src/index.js', join(dir, 'main.js'));
    for (const f of ['package.json', 'src/index.js', 'src/lib/util.js']) await chmod(join(dir, f), v.file);
    await chmod(join(dir, 'start.sh'), v.exec);
    for (const d of ['src', 'src/lib', 'empty']) await chmod(join(dir, d), v.dir);
    for (const p of [
      'package.json',
      'src/index.js',
      'src/lib/util.js',
      'start.sh',
      'src/lib',
      'src',
      'empty',
    ]) {
      await utimes(join(dir, p), v.time, v.time);
    }
  } finally {
    process.umask(old);
  }
}

test('same tree at other times, under another umask, with other permission bits: same digest', async (t) => {
  const base = await tempDirFor(t);
  const a = join(base, 'a');
  const b = join(base, 'b');
  await mkdir(a);
  await mkdir(b);
  await writeTree(a, {
    umask: 0o022,
    file: 0o644,
    exec: 0o755,
    dir: 0o755,
    time: new Date('2001-02-03T04:05:06Z'),
  });
  await writeTree(b, {
    umask: 0o077,
    file: 0o600,
    exec: 0o700,
    dir: 0o700,
    time: new Date('2030-06-07T08:09:10Z'),
  });
  const store = await tempStore(t);
  const la = await buildLayer(await entriesFromDirectory(a, { prefix: '/app' }), {
    store,
    sourceDateEpoch: 0,
  });
  const lb = await buildLayer(await entriesFromDirectory(b, { prefix: '/app' }), {
    store,
    sourceDateEpoch: 0,
  });
  assert.equal(la.diffId, lb.diffId);
  assert.equal(la.descriptor.digest, lb.descriptor.digest);
  // and the normalization did not erase the execute bit
  const modes = new Map((await readAll(await la.open())).map((e) => [e.header.name, e.header.mode]));
  assert.equal(modes.get('app/start.sh'), 0o755);
  assert.equal(modes.get('app/package.json'), 0o644);
  assert.equal(modes.get('app/src/lib/'), 0o755);
  // a real content change does change it
  await writeFile(join(b, 'src', 'index.js'), 'export {}; \n');
  const lc = await buildLayer(await entriesFromDirectory(b, { prefix: '/app' }), {
    store,
    sourceDateEpoch: 0,
  });
  assert.notEqual(lc.diffId, la.diffId);
});
