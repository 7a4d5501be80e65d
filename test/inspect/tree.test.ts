import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { mergedTree, resolvePath, type Tree } from '../../src/inspect/index.js';
import { type InputEntry, Merger } from '../../src/inspect/merge.js';
import { dir, file, hardlink, imageOf, opaque, symlink, type T, tarOf, whiteout } from './helpers.js';

async function tree(...layers: T[][]): Promise<Tree> {
  return mergedTree(await imageOf({ layers }));
}

function paths(t: Tree): string[] {
  return [...t.walk()].map(([p]) => p);
}

test('later layers replace files, whiteouts delete them, and wasted bytes count both', async () => {
  const t = await tree(
    [dir('etc/'), file('etc/a', 'aaaa'), file('etc/b', 'bbbbbbb'), file('etc/keep', 'k')],
    [file('etc/a', 'A'), whiteout('etc/b')],
  );
  assert.deepEqual(paths(t), ['/etc', '/etc/a', '/etc/keep']);
  assert.equal(t.lookup('/etc/a')?.size, 1);
  assert.equal(t.lookup('/etc/a')?.layer, 1);
  assert.equal(t.wastedBytes, 4 + 7);
  assert.deepEqual(
    t.layers.map((l) => l.entries),
    [4, 2],
  );
});

test('an opaque directory hides what lower layers had in it, not what its own layer writes', async () => {
  const t = await tree(
    [dir('app/'), file('app/old', '12345'), dir('app/sub/'), file('app/sub/x', 'xx'), file('other', 'o')],
    // the marker comes after the new file: order within a layer does not matter
    [dir('app/'), file('app/new', 'n'), opaque('app')],
  );
  assert.deepEqual(paths(t), ['/app', '/app/new', '/other']);
  assert.equal(t.wastedBytes, 5 + 2);
});

test('a whiteout hides the lower directory but not entries its own layer wrote below it', async () => {
  const t = await tree(
    [dir('d/'), file('d/lower', 'LL'), dir('d/s/'), file('d/s/deep', 'D')],
    // d/s/new is written first, then d is whited out: d/s/new stays, the rest goes
    [file('d/s/new', 'N'), whiteout('d')],
  );
  assert.deepEqual(paths(t), ['/d', '/d/s', '/d/s/new']);
  assert.equal(t.lookup('d')?.layer, 1);
  assert.equal(t.wastedBytes, 3);
});

test('a hardlink to a file of an earlier layer copies its metadata, and is not wasted when replaced', async () => {
  const t = await tree(
    [dir('usr/bin/'), file('usr/bin/perl5.36', 'perl binary', 0o755)],
    [hardlink('usr/bin/perl', 'usr/bin/perl5.36')],
    [file('usr/bin/perl', 'x')],
  );
  const rows = [...t.files()].filter((r) => r.path.startsWith('/usr/bin/perl'));
  assert.deepEqual(
    rows.map((r) => [r.path, r.type, r.size, r.mode.toString(8), r.layer]),
    [
      ['/usr/bin/perl', 'file', 1, '644', 2],
      ['/usr/bin/perl5.36', 'file', 11, '755', 0],
    ],
  );
  assert.equal(t.wastedBytes, 0);
  const linked = await tree([file('a', 'hello', 0o4755)], [hardlink('/b', '/a')]);
  assert.deepEqual(
    [...linked.files()].find((r) => r.path === '/b'),
    { path: '/b', type: 'file', size: 5, mode: 0o4755, uid: 0, gid: 0, layer: 1, hardlinkTo: '/a' },
  );
});

test('symlinks resolve inside the image: /bin/sh -> busybox, absolute targets, usrmerge parents', async () => {
  const t = await tree(
    [
      dir('usr/bin/'),
      symlink('bin', 'usr/bin'),
      file('usr/bin/busybox', 'bb', 0o755),
      symlink('usr/bin/sh', 'busybox'),
      symlink('etc', '/../../usr/../etc-real'),
      dir('etc-real/'),
    ],
    // a later layer writes through the /bin symlink: the file lands in /usr/bin
    [file('bin/extra', 'e', 0o755)],
  );
  const sh = resolvePath(t, '/bin/sh');
  assert.ok(sh.ok);
  assert.equal(sh.path, '/usr/bin/busybox');
  assert.equal(sh.node.type, 'file');
  const noFollow = resolvePath(t, '/bin/sh', { followLast: false });
  assert.ok(noFollow.ok);
  assert.equal(noFollow.path, '/usr/bin/sh');
  assert.equal(noFollow.node.type, 'symlink');
  const etc = resolvePath(t, '/etc');
  assert.ok(etc.ok);
  assert.equal(etc.path, '/etc-real');
  assert.equal(t.lookup('/usr/bin/extra')?.type, 'file');
  assert.equal(t.lookup('/bin')?.type, 'symlink');
  assert.deepEqual(resolvePath(t, '/bin/nothing'), {
    ok: false,
    reason: 'missing',
    path: '/usr/bin/nothing',
  });
});

test('a symlink loop resolves to loop, within the hop limit', async () => {
  const t = await tree([symlink('a', 'b'), symlink('b', 'a'), symlink('self', 'self'), symlink('c', '/a/x')]);
  for (const p of ['/a', '/self', '/c']) {
    const r = resolvePath(t, p);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'loop', p);
  }
  // a chain of 40 links is fine, 41 is a loop
  const chain: T[] = [file('f0', 'x')];
  for (let i = 1; i <= 41; i++) chain.push(symlink(`f${i}`, `f${i - 1}`));
  const long = await tree(chain);
  assert.equal(resolvePath(long, '/f40').ok, true);
  assert.equal(resolvePath(long, '/f41').ok, false);
  // few links, each with a long target: stopped by the step budget, not by the hop count
  const wide: T[] = [file('w0', 'x')];
  for (let i = 1; i <= 10; i++) wide.push(symlink(`w${i}`, `${'./'.repeat(1000)}w${i - 1}`));
  const w = await tree(wide);
  assert.equal(resolvePath(w, '/w3').ok, true);
  assert.deepEqual(resolvePath(w, '/w10'), { ok: false, reason: 'loop', path: '/w10' });
});

test('hostile names: absolute paths are made relative, ".." escaping the root is skipped with a warning', async () => {
  const t = await tree([
    file('/abs/file', 'a'),
    file('./dot/file', 'd'),
    file('../../etc/evil', 'x'),
    file('ok/../inside', 'i'),
    hardlink('escape-link', '../../etc/shadow'),
    whiteout('../outside'),
    file('../.wh.x'),
    symlink('up', '../../../../etc'),
  ]);
  assert.deepEqual(paths(t), ['/abs', '/abs/file', '/dot', '/dot/file', '/inside', '/up']);
  assert.equal(resolvePath(t, '/up').ok, false, 'a symlink climbing out stops at the root');
  const w = t.warnings.join('\n');
  assert.match(w, /layer 0 \(sha256:[0-9a-f]{64}\) entry "\.\.\/\.\.\/etc\/evil" escapes the image root/);
  assert.match(w, /"escape-link" is a hardlink to "..\/..\/etc\/shadow", outside the image root/);
  assert.match(w, /"..\/.wh.outside" escapes the image root/);
});

test('a whiteout for a path that is not in the tree changes nothing', async () => {
  const t = await tree([file('a', '1')], [whiteout('no/such/file'), whiteout('nothing'), file('b', '2')]);
  assert.deepEqual(paths(t), ['/a', '/b']);
  assert.equal(t.wastedBytes, 0);
  assert.deepEqual(t.warnings, []);
});

test('a directory entry over a symlink replaces it (as containerd does); a file parent of a lower layer becomes a directory', async () => {
  const t = await tree(
    [dir('usr/lib/'), symlink('lib', 'usr/lib'), file('f', 'ffff')],
    [dir('lib/'), file('lib/x', 'x'), file('f/inside', 'i')],
  );
  assert.equal(t.lookup('/lib')?.type, 'dir');
  assert.equal(t.lookup('/lib/x')?.type, 'file');
  assert.equal(t.lookup('/usr/lib/x'), undefined);
  assert.equal(t.lookup('/f')?.type, 'dir');
  assert.equal(t.wastedBytes, 4);
  assert.match(t.warnings.join('\n'), /turns \/f, a file of a lower layer, into a directory/);
});

test('tar entries of every type are kept with their metadata; the file listing is sorted', async () => {
  const t = await tree([
    { name: 'dev/null', type: 'character-device', mode: 0o666 },
    { name: 'run/fifo', type: 'fifo' },
    { name: 'srv/data', content: 'abc', mode: 0o640, uid: 1000, gid: 1001 },
    dir('tmp/', 0o1777),
  ]);
  assert.deepEqual(
    [...t.files()].map((r) => `${r.path} ${r.type} ${r.mode.toString(8)} ${r.uid}:${r.gid} ${r.size}`),
    [
      '/dev dir 755 0:0 0',
      '/dev/null other 666 0:0 0',
      '/run dir 755 0:0 0',
      '/run/fifo other 644 0:0 0',
      '/srv dir 755 0:0 0',
      '/srv/data file 640 1000:1001 3',
      '/tmp dir 1777 0:0 0',
    ],
  );
  assert.equal(t.size, 7);
});

test('layer stats: uncompressed bytes are the tar sizes', async () => {
  const layers = [[file('a', 'x'.repeat(1000))], [file('b', 'y')]];
  const t = await tree(...layers);
  const tars = await Promise.all(layers.map((l) => tarOf(l)));
  assert.deepEqual(
    t.layers.map((l) => l.uncompressed),
    tars.map((b) => b.length),
  );
  assert.ok(
    t.layers.every((l) => typeof l.compressed === 'number' && l.compressed > 0),
    'gzip layers',
  );
});

test('owners and sizes that do not fit the packed record are kept exactly, through hardlinks, replacement and removal', async () => {
  // Fed to the merge directly: a tar cannot carry a 5 GB file in a test.
  const m = new Merger();
  const entry = (name: string, more: Partial<InputEntry>): InputEntry => ({
    name,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 1,
    linkname: null,
    open: () => Readable.from([]),
    ...more,
  });
  async function* layer(...entries: InputEntry[]) {
    yield* entries;
  }
  const stats = { compressed: 0, uncompressed: 0, entries: 0 };
  await m.applyLayer(
    'layer 0',
    layer(
      entry('big', { size: 5e9, uid: 70000, gid: 65535 }),
      entry('nobody', { uid: 65534, gid: 65534, size: 2 ** 31 - 1 }),
      entry('odd', { uid: 1.5, gid: 1e20 }),
      entry('gone', { size: 3e9, uid: 1e6 }),
      entry('d/x', {}),
    ),
  );
  m.tree.layers.push(stats);
  await m.applyLayer(
    'layer 1',
    layer(
      entry('link', { type: 'link', linkname: 'big', size: 0 }),
      entry('gone', { size: 7, uid: 5, gid: 6 }),
      entry('d/y', {}),
    ),
  );
  m.tree.layers.push(stats);
  const t = m.finish();
  assert.deepEqual(
    [...t.files()].map((r) => `${r.path} ${r.size} ${r.uid}:${r.gid} ${r.layer}`),
    [
      '/big 5000000000 70000:65535 0',
      '/d 0 0:0 0',
      '/d/x 1 0:0 0',
      '/d/y 1 0:0 1',
      '/gone 7 5:6 1',
      '/link 5000000000 70000:65535 1',
      '/nobody 2147483647 65534:65534 0',
      '/odd 1 1.5:100000000000000000000 0',
    ],
  );
  assert.equal(t.wastedBytes, 3e9);
  // A directory's touched layer is kept beside its own: /d was written by layer 0, touched by 1.
  assert.deepEqual([t.lookup('/d')?.layer, t.lookup('/d')?.touched, t.lookup('/d/x')?.touched], [0, 1, 0]);
});
