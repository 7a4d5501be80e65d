import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { isDistillError } from '../../src/errors.js';
import { type BuildProgress, buildLayer } from '../../src/layers/build.js';
import type { LayerEntry } from '../../src/layers/entries.js';
import { sourceDateEpochFromEnv } from '../../src/layers/epoch.js';
import { diffIdOf } from '../../src/layers/read.js';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import { requireComponents } from '../helpers/components.js';
import { type ReadEntry, readAll, streamBytes, tempDirFor, tempStore } from './helpers.js';

const bytes = (s: string | Uint8Array) => ({
  kind: 'bytes' as const,
  bytes: typeof s === 'string' ? Buffer.from(s) : s,
});

function sample(): LayerEntry[] {
  return [
    { type: 'file', path: '/usr/bin/hello', mode: 0o755, source: bytes('#!/bin/sh\necho hi\n') },
    { type: 'file', path: '/etc/config.json', mode: 0o640, uid: 1000, gid: 1001, source: bytes('{}') },
    { type: 'file', path: '/empty-file', source: bytes('') },
    { type: 'file', path: '/exactly-512', source: bytes(Buffer.alloc(512, 0x61)) },
    { type: 'dir', path: '/var/lib/app', mode: 0o700, uid: 1000, gid: 1000 },
    { type: 'symlink', path: '/usr/bin/hi', target: 'hello' },
    { type: 'symlink', path: '/abs-link', target: '/usr/bin/hello' },
    { type: 'hardlink', path: '/usr/bin/hello-again', target: '/usr/bin/hello' },
    { type: 'file', path: `/long/${'n'.repeat(150)}`, source: bytes('long name') },
    { type: 'symlink', path: '/long/link', target: `/${'t'.repeat(200)}` },
  ];
}

function summary(entries: ReadEntry[]) {
  return entries.map((e) => ({
    name: e.header.name,
    type: e.header.type,
    mode: e.header.mode,
    uid: e.header.uid,
    gid: e.header.gid,
    linkname: e.header.linkname,
    content: e.content.toString('utf8'),
  }));
}

test('round trip: names, types, modes, owners, link targets and contents come back', async (t) => {
  const store = await tempStore(t);
  const layer = await buildLayer(sample(), { store, sourceDateEpoch: 1234 });
  assert.equal(layer.descriptor.mediaType, MediaType.OciLayerGzip);
  const blob = await streamBytes(await layer.open());
  assert.equal(blob.length, layer.descriptor.size);
  assert.equal(digestOf(blob), layer.descriptor.digest);
  const tar = zlib.gunzipSync(blob);
  assert.equal(digestOf(tar), layer.diffId);
  assert.equal(tar.length, layer.uncompressedSize);
  assert.equal(blob[9], 0xff, 'gzip OS byte pinned to "unknown"');
  assert.equal(blob.readUInt32LE(4), 0, 'gzip mtime 0');

  const read = await readAll(await layer.open());
  assert.ok(read.every((e) => e.header.mtime === 1234 && e.header.uname === '' && e.header.gname === ''));
  assert.deepEqual(summary(read), [
    {
      name: 'abs-link',
      type: 'symlink',
      mode: 0o777,
      uid: 0,
      gid: 0,
      linkname: '/usr/bin/hello',
      content: '',
    },
    { name: 'empty-file', type: 'file', mode: 0o644, uid: 0, gid: 0, linkname: null, content: '' },
    { name: 'etc/', type: 'directory', mode: 0o755, uid: 0, gid: 0, linkname: null, content: '' },
    {
      name: 'etc/config.json',
      type: 'file',
      mode: 0o640,
      uid: 1000,
      gid: 1001,
      linkname: null,
      content: '{}',
    },
    {
      name: 'exactly-512',
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      linkname: null,
      content: 'a'.repeat(512),
    },
    { name: 'long/', type: 'directory', mode: 0o755, uid: 0, gid: 0, linkname: null, content: '' },
    {
      name: 'long/link',
      type: 'symlink',
      mode: 0o777,
      uid: 0,
      gid: 0,
      linkname: `/${'t'.repeat(200)}`,
      content: '',
    },
    {
      name: `long/${'n'.repeat(150)}`,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      linkname: null,
      content: 'long name',
    },
    { name: 'usr/', type: 'directory', mode: 0o755, uid: 0, gid: 0, linkname: null, content: '' },
    { name: 'usr/bin/', type: 'directory', mode: 0o755, uid: 0, gid: 0, linkname: null, content: '' },
    {
      name: 'usr/bin/hello',
      type: 'file',
      mode: 0o755,
      uid: 0,
      gid: 0,
      linkname: null,
      content: '#!/bin/sh\necho hi\n',
    },
    {
      name: 'usr/bin/hello-again',
      type: 'link',
      mode: 0o755,
      uid: 0,
      gid: 0,
      linkname: 'usr/bin/hello',
      content: '',
    },
    { name: 'usr/bin/hi', type: 'symlink', mode: 0o777, uid: 0, gid: 0, linkname: 'hello', content: '' },
    { name: 'var/', type: 'directory', mode: 0o755, uid: 0, gid: 0, linkname: null, content: '' },
    { name: 'var/lib/', type: 'directory', mode: 0o755, uid: 0, gid: 0, linkname: null, content: '' },
    {
      name: 'var/lib/app/',
      type: 'directory',
      mode: 0o700,
      uid: 1000,
      gid: 1000,
      linkname: null,
      content: '',
    },
  ]);
});

test('files from disk are streamed into the layer; a missing one is NOT_FOUND', async (t) => {
  const dir = await tempDirFor(t);
  const store = await tempStore(t);
  const content = Buffer.alloc(1_000_003);
  for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
  await writeFile(join(dir, 'data'), content);
  const layer = await buildLayer(
    [{ type: 'file', path: '/data', source: { kind: 'path', path: join(dir, 'data') } }],
    {
      store,
    },
  );
  const [entry] = await readAll(await layer.open());
  assert.ok(entry?.content.equals(content));
  await assert.rejects(
    buildLayer([{ type: 'file', path: '/x', source: { kind: 'path', path: join(dir, 'missing') } }], {
      store,
    }),
    (err: unknown) => isDistillError(err, 'NOT_FOUND'),
  );
  await assert.rejects(
    buildLayer([{ type: 'file', path: '/x', source: { kind: 'path', path: dir } }], { store }),
    (err: unknown) => isDistillError(err, 'ENTRY_INVALID'),
  );
});

test('uncompressed layers: tar media type, digest = diff_id', async (t) => {
  const store = await tempStore(t);
  const layer = await buildLayer(sample(), { store, compression: 'none' });
  assert.equal(layer.descriptor.mediaType, MediaType.OciLayer);
  assert.equal(layer.descriptor.digest, layer.diffId);
  assert.equal(layer.descriptor.size, layer.uncompressedSize);
  assert.equal(layer.uncompressedSize % 512, 0);
  const gz = await buildLayer(sample(), { store });
  assert.equal(gz.diffId, layer.diffId, 'compression does not change the diff_id');
});

test('determinism: two builds give identical bytes; the gzip level changes bytes, not the diff_id', async (t) => {
  const s1 = await tempStore(t);
  const s2 = await tempStore(t);
  const a = await buildLayer(sample(), { store: s1 });
  const b = await buildLayer(sample().reverse(), { store: s2 });
  assert.deepEqual(a.descriptor, b.descriptor);
  assert.ok(
    (await readFile(s1.blobPath(a.descriptor.digest))).equals(
      await readFile(s2.blobPath(b.descriptor.digest)),
    ),
  );
  const c = await buildLayer(sample(), { store: s1, gzipLevel: 1 });
  assert.equal(c.diffId, a.diffId);
  assert.notEqual(c.descriptor.digest, a.descriptor.digest);
  const d = await buildLayer(sample(), { store: s1, sourceDateEpoch: 1 });
  assert.notEqual(d.diffId, a.diffId, 'the epoch is part of the content');
});

test('SOURCE_DATE_EPOCH is the default mtime', async (t) => {
  assert.equal(sourceDateEpochFromEnv({}), 0);
  assert.equal(sourceDateEpochFromEnv({ SOURCE_DATE_EPOCH: ' 1700000000 ' }), 1_700_000_000);
  assert.throws(
    () => sourceDateEpochFromEnv({ SOURCE_DATE_EPOCH: '-5' }),
    (e: unknown) => isDistillError(e, 'USAGE'),
  );
  assert.throws(
    () => sourceDateEpochFromEnv({ SOURCE_DATE_EPOCH: 'yesterday' }),
    (e: unknown) => isDistillError(e, 'USAGE'),
  );
  const store = await tempStore(t);
  const old = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = '86400';
  try {
    const layer = await buildLayer([{ type: 'file', path: '/f', source: bytes('f') }], { store });
    const [e] = await readAll(await layer.open());
    assert.equal(e?.header.mtime, 86400);
  } finally {
    if (old === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = old;
  }
  await assert.rejects(buildLayer([], { store, sourceDateEpoch: -1 }), (e: unknown) =>
    isDistillError(e, 'USAGE'),
  );
});

test('a source whose size differs from the declared one is ENTRY_INVALID naming the file; nothing is stored', async (t) => {
  const store = await tempStore(t);
  for (const [declared, actual] of [
    [10, 11],
    [10, 9],
    [0, 1],
  ] as const) {
    const entries: LayerEntry[] = [
      {
        type: 'file',
        path: '/app/grows.log',
        source: {
          kind: 'stream',
          size: declared,
          open: async () => Readable.from([Buffer.alloc(actual, 0x41)]),
        },
      },
    ];
    await assert.rejects(
      buildLayer(entries, { store }),
      (err: unknown) => isDistillError(err, 'ENTRY_INVALID') && err.message.includes('app/grows.log'),
    );
  }
  assert.deepEqual(await readdir(join(store.root, 'tmp')), [], 'no temp file left behind');
  const blobs = await readdir(join(store.root, 'blobs', 'sha256')).catch(() => []);
  assert.deepEqual(blobs, []);
});

test('a failing source stream fails the build with its error', async (t) => {
  const store = await tempStore(t);
  const failing = new Readable({
    read() {
      this.destroy(new Error('disk on fire'));
    },
  });
  await assert.rejects(
    buildLayer(
      [{ type: 'file', path: '/f', source: { kind: 'stream', size: 5, open: async () => failing } }],
      { store },
    ),
    (err: unknown) =>
      isDistillError(err, 'IO') && /disk on fire/.test(err.message) && err.message.includes('content of f'),
  );
});

test('large ids, xattrs and non-ASCII names use pax records', async (t) => {
  const store = await tempStore(t);
  const layer = await buildLayer(
    [
      { type: 'file', path: '/big-ids', uid: 3_000_000, gid: 4_000_000_000, source: bytes('x') },
      { type: 'dir', path: '/é', xattrs: { 'user.b': '2', 'user.a': '1' } },
    ],
    { store },
  );
  const read = await readAll(await layer.open());
  const big = read.find((e) => e.header.name === 'big-ids');
  assert.equal(big?.header.uid, 3_000_000);
  assert.equal(big?.header.gid, 4_000_000_000);
  const dir = read.find((e) => e.header.name === 'é/');
  assert.deepEqual(dir?.header.pax, { 'SCHILY.xattr.user.a': '1', 'SCHILY.xattr.user.b': '2', path: 'é/' });
});

test('zstd: written on any Node, the same tar as gzip, the same bytes every time', async (t) => {
  const store = await tempStore(t);
  const layer = await buildLayer(sample(), { store, compression: 'zstd' });
  const again = await buildLayer(sample(), { store, compression: 'zstd' });
  const gz = await buildLayer(sample(), { store });
  assert.equal(layer.descriptor.mediaType, MediaType.OciLayerZstd);
  assert.equal(again.descriptor.digest, layer.descriptor.digest);
  assert.equal(layer.diffId, gz.diffId);
  assert.deepEqual(summary(await readAll(await layer.open())), summary(await readAll(await gz.open())));
  const best = await buildLayer(sample(), { store, compression: 'zstd', zstdLevel: 19 });
  assert.equal(best.diffId, gz.diffId);
  for (const zstdLevel of [0, 20, 2.5]) {
    await assert.rejects(buildLayer(sample(), { store, compression: 'zstd', zstdLevel }), (e: unknown) =>
      isDistillError(e, 'USAGE'),
    );
  }
});

test('progress reports entries and bytes up to the totals', async (t) => {
  const store = await tempStore(t);
  const seen: BuildProgress[] = [];
  const layer = await buildLayer(sample(), { store, onProgress: (p) => seen.push({ ...p }) });
  const last = seen.at(-1);
  assert.ok(last);
  assert.equal(last.entries, last.totalEntries);
  assert.equal(last.totalEntries, 16);
  assert.equal(Math.max(...seen.map((p) => p.uncompressedBytes)), layer.uncompressedSize);
  assert.equal(Math.max(...seen.map((p) => p.compressedBytes)), layer.descriptor.size);
});

test('GNU tar, an independent reader, lists and extracts the layer as written', async (t) => {
  if (!requireComponents(t, 'tar')) return;
  const store = await tempStore(t);
  const dir = await tempDirFor(t);
  const layer = await buildLayer(sample(), { store, sourceDateEpoch: 1_600_000_000 });
  const blob = store.blobPath(layer.descriptor.digest);
  const listed = execFileSync('tar', ['-tzf', blob], { encoding: 'utf8' }).trim().split('\n');
  assert.deepEqual(
    listed,
    summary(await readAll(await layer.open())).map((e) => e.name),
  );
  execFileSync('tar', ['-xzf', blob, '-C', dir, '--no-same-owner']);
  assert.equal(await readFile(join(dir, 'usr/bin/hello'), 'utf8'), '#!/bin/sh\necho hi\n');
  assert.equal(await readlink(join(dir, 'usr/bin/hi')), 'hello');
  assert.equal(await readlink(join(dir, 'long/link')), `/${'t'.repeat(200)}`);
  const a = await lstat(join(dir, 'usr/bin/hello'));
  const b = await lstat(join(dir, 'usr/bin/hello-again'));
  assert.equal(a.ino, b.ino, 'hardlink extracted as a hardlink');
  assert.equal(a.mode & 0o777, 0o755);
  assert.equal(a.mtimeMs, 1_600_000_000_000);
  assert.equal(await readFile(join(dir, 'long', 'n'.repeat(150)), 'utf8'), 'long name');
  assert.equal((await lstat(join(dir, 'var/lib/app'))).mode & 0o777, 0o700);
});

// Random sets of entries: names from a small alphabet (so that collisions, prefixes and nesting
// happen), some long, some non-ASCII.
const segment = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('a', 'b', 'a-b', 'a.b', 'B', 'ü', '名', 'ｆ', '😀', 'x y', '.hidden', '..a'),
  },
  {
    weight: 1,
    arbitrary: fc.string({ minLength: 90, maxLength: 130 }).map((s) => `L${s.replace(/[/\0]/g, '_')}`),
  },
);
const spec = fc.record({
  segs: fc.array(segment, { minLength: 1, maxLength: 4 }),
  kind: fc.constantFrom('file', 'dir', 'symlink', 'hardlink'),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5_000_000 })),
  content: fc.uint8Array({ maxLength: 1500 }),
  target: fc.string({ minLength: 1, maxLength: 150 }).filter((s) => !s.includes('\0')),
});

test('property: random entries -> build -> read gives back the same set', async (t) => {
  const store = await tempStore(t);
  await fc.assert(
    fc.asyncProperty(fc.array(spec, { maxLength: 25 }), async (specs) => {
      // Keep a consistent set: first spec for a path wins, nothing below a non-directory.
      const kinds = new Map<string, (typeof specs)[number]>();
      for (const s of specs) {
        const path = s.segs.join('/');
        if (!kinds.has(path)) kinds.set(path, s);
      }
      const blocked = (p: string) => {
        const parts = p.split('/');
        for (let i = 1; i < parts.length; i++) {
          const k = kinds.get(parts.slice(0, i).join('/'));
          if (k && k.kind !== 'dir') return true;
        }
        return false;
      };
      const files = [...kinds].filter(([p, s]) => s.kind === 'file' && !blocked(p)).map(([p]) => p);
      const entries: LayerEntry[] = [];
      const expected = new Map<
        string,
        { type: string; mode: number; uid: number; content: string; link: string | null }
      >();
      for (const [path, s] of kinds) {
        if (blocked(path)) continue;
        if (s.kind === 'file') {
          entries.push({
            type: 'file',
            path: `/${path}`,
            mode: s.mode,
            uid: s.uid,
            source: bytes(s.content),
          });
          expected.set(path, {
            type: 'file',
            mode: s.mode,
            uid: s.uid,
            content: Buffer.from(s.content).toString('hex'),
            link: null,
          });
        } else if (s.kind === 'dir') {
          entries.push({ type: 'dir', path, mode: s.mode, uid: s.uid });
          expected.set(`${path}/`, { type: 'directory', mode: s.mode, uid: s.uid, content: '', link: null });
        } else if (s.kind === 'symlink') {
          entries.push({ type: 'symlink', path, target: s.target, uid: s.uid });
          expected.set(path, { type: 'symlink', mode: 0o777, uid: s.uid, content: '', link: s.target });
        } else if (files.length > 0) {
          const target = files[s.mode % files.length]!;
          entries.push({ type: 'hardlink', path, target });
          expected.set(path, { type: 'hardlink', mode: -1, uid: -1, content: '', link: target });
        }
      }
      for (const p of expected.keys()) {
        const parts = p.replace(/\/$/, '').split('/');
        for (let i = 1; i < parts.length; i++) {
          const d = `${parts.slice(0, i).join('/')}/`;
          if (!expected.has(d))
            expected.set(d, { type: 'directory', mode: 0o755, uid: 0, content: '', link: null });
        }
      }
      const layer = await buildLayer(entries, { store, compression: 'none' });
      const read = await readAll(await layer.open());
      const names = read.map((e) => e.header.name);
      assert.deepEqual(
        names,
        [...names].sort((a, b) =>
          Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, ''))),
        ),
      );
      // Hardlink sets: a file and its links share content; which path carries it is canonical.
      const contentOf = new Map(
        read.filter((e) => e.header.type === 'file').map((e) => [e.header.name, e.content.toString('hex')]),
      );
      const got = new Map(
        read.map((e) => [
          e.header.name,
          {
            type: e.header.type,
            mode: e.header.mode,
            uid: e.header.uid,
            content:
              e.header.type === 'link'
                ? (contentOf.get(e.header.linkname!) ?? 'MISSING')
                : e.content.toString('hex'),
            link: e.header.linkname,
          },
        ]),
      );
      assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
      for (const [name, want] of expected) {
        const g = got.get(name)!;
        if (want.type === 'hardlink') {
          const wantContent = expected.get(want.link!)!.content;
          assert.equal(g.content, wantContent, `${name} content`);
          continue;
        }
        if (want.type === 'file' && g.type === 'link') {
          // this file is the target of links sorted before it: it became a link to the first of them
          assert.equal(g.content, want.content, `${name} content`);
          assert.equal(g.mode, want.mode);
          continue;
        }
        assert.deepEqual(g, want, name);
      }
      assert.deepEqual(await diffIdOf(await layer.open()), {
        diffId: layer.diffId,
        size: layer.uncompressedSize,
      });
    }),
    { numRuns: 60 },
  );
});
