import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { entriesFromDirectory } from '../../src/layers/directory.js';
import { type LayerEntry, normalizeImagePath, prepareEntries } from '../../src/layers/entries.js';
import { requireComponents } from '../helpers/components.js';
import { tempDirFor } from './helpers.js';

const bytes = (s: string) => ({ kind: 'bytes' as const, bytes: Buffer.from(s) });
const file = (path: string, content = 'x'): LayerEntry => ({ type: 'file', path, source: bytes(content) });

function assertEntryInvalid(fn: () => unknown, mentions?: string) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDistillError(err, 'ENTRY_INVALID'), `expected ENTRY_INVALID, got ${String(err)}`);
    if (mentions !== undefined)
      assert.ok(err.message.includes(mentions), `"${err.message}" should name ${mentions}`);
    return true;
  });
}

test('normalizeImagePath: absolute, relative, dots and slashes', () => {
  assert.equal(normalizeImagePath('/usr/bin/x'), 'usr/bin/x');
  assert.equal(normalizeImagePath('usr/bin/x'), 'usr/bin/x');
  assert.equal(normalizeImagePath('//usr/./bin//x/'), 'usr/bin/x');
  assert.equal(normalizeImagePath('./a'), 'a');
  assert.equal(normalizeImagePath('a..b/..c'), 'a..b/..c');
});

test('normalizeImagePath: rejects .., empty, root and NUL', () => {
  for (const p of ['../etc/passwd', '/a/../../b', 'a/..', '..', '', '/', '.', '//', 'a\0b']) {
    assertEntryInvalid(() => normalizeImagePath(p));
  }
});

test('prepareEntries: entries with .. are rejected, naming the path', () => {
  assertEntryInvalid(() => prepareEntries([file('/app/../../etc/shadow')]), '../../etc/shadow');
  assertEntryInvalid(
    () => prepareEntries([{ type: 'hardlink', path: '/a', target: '../etc/shadow' }]),
    'hardlink "a"',
  );
});

test('prepareEntries: duplicates', () => {
  assert.equal(prepareEntries([file('/a', 'same'), file('a', 'same')]).length, 1);
  assertEntryInvalid(() => prepareEntries([file('/a', 'one'), file('/a', 'two')]), '"a"');
  assertEntryInvalid(() => prepareEntries([file('/a'), { type: 'dir', path: '/a' }]), '"a"');
  assertEntryInvalid(
    () =>
      prepareEntries([
        { type: 'dir', path: '/d' },
        { type: 'dir', path: '/d', mode: 0o700 },
      ]),
    '"d"',
  );
  // a dir given explicitly and also implied by a child is fine
  const p = prepareEntries([{ type: 'dir', path: '/d', mode: 0o700 }, file('/d/f')]);
  assert.deepEqual(
    p.map((e) => [e.path, e.type, e.type === 'dir' ? e.mode : undefined]),
    [
      ['d', 'dir', 0o700],
      ['d/f', 'file', undefined],
    ],
  );
});

test('prepareEntries: implied parents, defaults and byte order', () => {
  const p = prepareEntries([
    file('/a/b'),
    file('/a-b'),
    file('/B'),
    { type: 'symlink', path: '/z/ü', target: 'x' },
    file('/a/é'),
  ]);
  assert.deepEqual(
    p.map((e) => e.path),
    ['B', 'a', 'a-b', 'a/b', 'a/é', 'z', 'z/ü'],
  );
  const a = p.find((e) => e.path === 'a');
  assert.deepEqual(a, { type: 'dir', path: 'a', mode: 0o755, uid: 0, gid: 0, xattrs: [] });
  const f = p.find((e) => e.path === 'a/b');
  assert.ok(f?.type === 'file' && f.mode === 0o644 && f.uid === 0 && f.gid === 0);
});

test('prepareEntries: a parent that is not a directory', () => {
  assertEntryInvalid(() => prepareEntries([file('/a'), file('/a/b')]), '"a/b"');
  assertEntryInvalid(
    () => prepareEntries([{ type: 'symlink', path: '/lib', target: 'usr/lib' }, file('/lib/x')]),
    '"lib"',
  );
});

test('prepareEntries: invalid fields', () => {
  assertEntryInvalid(
    () => prepareEntries([{ type: 'file', path: '/a', mode: 0o100644, source: bytes('') }]),
    '"a"',
  );
  assertEntryInvalid(() => prepareEntries([{ type: 'file', path: '/a', uid: -1, source: bytes('') }]));
  assertEntryInvalid(() => prepareEntries([{ type: 'file', path: '/a', gid: 1.5, source: bytes('') }]));
  assertEntryInvalid(() => prepareEntries([{ type: 'symlink', path: '/a', target: '' }]));
  assertEntryInvalid(() =>
    prepareEntries([{ type: 'file', path: '/a', source: bytes(''), xattrs: { 'a=b': 'x' } }]),
  );
  assertEntryInvalid(() =>
    prepareEntries([
      { type: 'file', path: '/a', source: { kind: 'stream', size: -1, open: async () => null as never } },
    ]),
  );
  assertEntryInvalid(() => prepareEntries([{ type: 'fifo', path: '/a' } as unknown as LayerEntry]));
});

test('prepareEntries: hardlinks must point at a file of the layer', () => {
  assertEntryInvalid(
    () => prepareEntries([{ type: 'hardlink', path: '/l', target: '/missing' }]),
    '"missing"',
  );
  assertEntryInvalid(
    () =>
      prepareEntries([
        { type: 'dir', path: '/d' },
        { type: 'hardlink', path: '/l', target: '/d' },
      ]),
    '"d"',
  );
  assertEntryInvalid(() =>
    prepareEntries([
      { type: 'symlink', path: '/s', target: 'x' },
      { type: 'hardlink', path: '/l', target: '/s' },
    ]),
  );
  assertEntryInvalid(
    () =>
      prepareEntries([
        { type: 'hardlink', path: '/a', target: '/b' },
        { type: 'hardlink', path: '/b', target: '/a' },
      ]),
    'cycle',
  );
});

test('prepareEntries: in a hardlink set the first path carries the file, chains resolved', () => {
  const p = prepareEntries([
    { type: 'file', path: '/z/file', mode: 0o755, uid: 7, gid: 8, source: bytes('content') },
    { type: 'hardlink', path: '/m/link', target: '/z/file' },
    { type: 'hardlink', path: '/a/link', target: '/m/link' },
  ]);
  const byPath = new Map(p.map((e) => [e.path, e]));
  const first = byPath.get('a/link');
  assert.ok(first?.type === 'file');
  assert.equal(first.mode, 0o755);
  assert.equal(first.uid, 7);
  assert.deepEqual(byPath.get('m/link'), {
    type: 'hardlink',
    path: 'm/link',
    target: 'a/link',
    mode: 0o755,
    uid: 7,
    gid: 8,
  });
  assert.deepEqual(byPath.get('z/file'), {
    type: 'hardlink',
    path: 'z/file',
    target: 'a/link',
    mode: 0o755,
    uid: 7,
    gid: 8,
  });
});

test('entriesFromDirectory: modes normalized, symlinks kept, hardlinks detected, ignore', async (t) => {
  const dir = await tempDirFor(t);
  await mkdir(join(dir, 'bin'));
  await mkdir(join(dir, 'node_modules', '.cache'), { recursive: true });
  await mkdir(join(dir, 'private'), { mode: 0o700 });
  await writeFile(join(dir, 'a.txt'), 'a');
  await chmod(join(dir, 'a.txt'), 0o600);
  await writeFile(join(dir, 'bin', 'tool'), '#!/bin/sh\n');
  await chmod(join(dir, 'bin', 'tool'), 0o4710); // setuid, user-only exec
  await writeFile(join(dir, 'node_modules', '.cache', 'junk'), 'junk');
  await writeFile(join(dir, 'private', 'key'), 'k');
  await link(join(dir, 'a.txt'), join(dir, 'private', 'a-again.txt'));
  await symlink('/etc/passwd', join(dir, 'outside'));
  await symlink('../a.txt', join(dir, 'bin', 'rel'));

  const entries = await entriesFromDirectory(dir, {
    prefix: '/app',
    uid: 1000,
    gid: 1001,
    ignore: (rel, info) => rel === 'node_modules/.cache' && info.type === 'dir',
  });
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.deepEqual(byPath.get('app'), { type: 'dir', path: 'app', mode: 0o755, uid: 1000, gid: 1001 });
  assert.deepEqual(byPath.get('app/private'), {
    type: 'dir',
    path: 'app/private',
    mode: 0o755,
    uid: 1000,
    gid: 1001,
  });
  assert.deepEqual(byPath.get('app/a.txt'), {
    type: 'file',
    path: 'app/a.txt',
    mode: 0o644,
    uid: 1000,
    gid: 1001,
    source: { kind: 'path', path: join(dir, 'a.txt') },
  });
  assert.equal((byPath.get('app/bin/tool') as { mode: number }).mode, 0o755);
  assert.deepEqual(byPath.get('app/private/a-again.txt'), {
    type: 'hardlink',
    path: 'app/private/a-again.txt',
    target: 'app/a.txt',
  });
  assert.deepEqual(byPath.get('app/outside'), {
    type: 'symlink',
    path: 'app/outside',
    target: '/etc/passwd',
    uid: 1000,
    gid: 1001,
  });
  assert.deepEqual(byPath.get('app/bin/rel'), {
    type: 'symlink',
    path: 'app/bin/rel',
    target: '../a.txt',
    uid: 1000,
    gid: 1001,
  });
  assert.ok(byPath.has('app/node_modules'));
  assert.ok(![...byPath.keys()].some((p) => p.includes('.cache')), 'ignored dir and its content left out');
  // valid input for the builder
  prepareEntries(entries);
});

test('entriesFromDirectory: prefix / puts the tree at the root without a root entry', async (t) => {
  const dir = await tempDirFor(t);
  await writeFile(join(dir, 'f'), 'f');
  const entries = await entriesFromDirectory(dir);
  assert.deepEqual(
    entries.map((e) => e.path),
    ['f'],
  );
});

test('entriesFromDirectory: followSymlinks follows inside the tree only', async (t) => {
  const base = await tempDirFor(t);
  const dir = join(base, 'tree');
  await mkdir(join(dir, 'real'), { recursive: true });
  await writeFile(join(dir, 'real', 'f'), 'inside');
  await writeFile(join(base, 'secret'), 'outside');
  await symlink('real', join(dir, 'dirlink'));
  await symlink('real/f', join(dir, 'filelink'));
  await symlink('../secret', join(dir, 'escape'));
  await symlink('.', join(dir, 'real', 'loop'));
  await symlink('nowhere', join(dir, 'dangling'));

  const entries = await entriesFromDirectory(dir, { followSymlinks: true });
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.equal(byPath.get('dirlink')?.type, 'dir');
  // dirlink/f is the same inode as real/f: first one met carries the file
  assert.equal(byPath.get('dirlink/f')?.type, 'file');
  assert.deepEqual(byPath.get('filelink'), { type: 'hardlink', path: 'filelink', target: 'dirlink/f' });
  assert.deepEqual(byPath.get('real/f'), { type: 'hardlink', path: 'real/f', target: 'dirlink/f' });
  assert.deepEqual(byPath.get('escape'), {
    type: 'symlink',
    path: 'escape',
    target: '../secret',
    uid: 0,
    gid: 0,
  });
  assert.equal(byPath.get('dangling')?.type, 'symlink');
  assert.equal(byPath.get('real/loop')?.type, 'symlink', 'a symlink to an ancestor is not followed');
  assert.ok(
    ![...byPath.values()].some(
      (e) => e.type === 'file' && e.source.kind === 'path' && e.source.path.endsWith('secret'),
    ),
  );
  prepareEntries(entries);
});

test('entriesFromDirectory: special files are refused unless ignored; missing dir is NOT_FOUND', async (t) => {
  if (!requireComponents(t, 'mkfifo')) return;
  const dir = await tempDirFor(t);
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  await assert.rejects(
    entriesFromDirectory(dir),
    (err: unknown) => isDistillError(err, 'ENTRY_INVALID') && /FIFO/.test(err.message),
  );
  assert.deepEqual(await entriesFromDirectory(dir, { ignore: (_rel, info) => info.type === 'other' }), []);
  await assert.rejects(entriesFromDirectory(join(dir, 'missing')), (err: unknown) =>
    isDistillError(err, 'NOT_FOUND'),
  );
});
