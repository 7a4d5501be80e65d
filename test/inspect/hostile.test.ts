import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isDistillError } from '../../src/errors.js';
import { checkDeny, parseDenyRules } from '../../src/inspect/deny.js';
import { FACTS_JSON_SCHEMA, inspectImage, mergedTree } from '../../src/inspect/index.js';
import { digestOf } from '../../src/oci/digest.js';
import {
  dir,
  file,
  hardlink,
  imageOf,
  imageOfBlobs,
  schemaProblems,
  symlink,
  tarOf,
  whiteout,
} from './helpers.js';
import { distrolessImage, shellImage } from './samples.js';

const code = (c: string) => (err: unknown) => {
  assert.ok(isDistillError(err), `expected a DistillError, got ${String(err)}`);
  assert.equal(err.code, c, err.message);
  return true;
};

test('a gzip bomb stops with INSPECT_UNSAFE naming the layer, at the limits given', async () => {
  const tar = await tarOf([file('zeros', Buffer.alloc(8 * 1024 * 1024))]);
  const gz = gzipSync(tar);
  assert.ok(gz.length < 20_000, 'the test bomb is small');
  const ok = await tarOf([file('ok', 'fine')]);
  const image = imageOfBlobs([gzipSync(ok), gz], [digestOf(ok), digestOf(tar)]);
  await assert.rejects(
    inspectImage(image, { inflateRatio: 100, inflateFloor: 1024 * 1024 }),
    (err: unknown) => {
      code('INSPECT_UNSAFE')(err);
      assert.match(
        (err as Error).message,
        new RegExp(`^layer 1 \\(${image.layers[1]!.descriptor.digest}\\) inflates past`),
      );
      assert.match((err as Error).message, /decompression bomb/);
      return true;
    },
  );
  // The same layer within the default limits (100x and 1 GiB) is read
  const f = await inspectImage(image);
  assert.equal(f.layers[1]!.uncompressed, tar.length);
});

test('a bomb of zeros after the end of the tar is caught too', async () => {
  const blob = gzipSync(Buffer.concat([await tarOf([file('a', 'x')]), Buffer.alloc(4 * 1024 * 1024)]));
  const image = imageOfBlobs([blob], [digestOf(blob)]);
  await assert.rejects(
    mergedTree(image, { inflateRatio: 10, inflateFloor: 64 * 1024 }),
    code('INSPECT_UNSAFE'),
  );
});

test('more entries than maxEntries stops with INSPECT_UNSAFE', async () => {
  const image = await imageOf({ layers: [Array.from({ length: 50 }, (_, i) => file(`f${i}`, 'x'))] });
  await assert.rejects(mergedTree(image, { maxEntries: 20 }), code('INSPECT_UNSAFE'));
  assert.equal((await mergedTree(image, { maxEntries: 50 })).size, 50);
});

test('a truncated layer is LAYER_INVALID, not a crash', async () => {
  const noise = Buffer.alloc(20_000);
  for (let i = 0, x = 7; i < noise.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    noise[i] = x >>> 24;
  }
  const tar = await tarOf([file('a', noise)]);
  const cut = gzipSync(tar).subarray(0, 5000);
  const image = imageOfBlobs([cut], [digestOf(tar)]);
  await assert.rejects(inspectImage(image), code('LAYER_INVALID'));
});

test('a corrupt os-release makes the OS unknown with a warning; a partly bad one keeps what it can', async () => {
  const binary = await inspectImage(
    await imageOf({
      layers: [[file('etc/os-release', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0xff, 0xfe, 0]))]],
    }),
  );
  assert.deepEqual(binary.os, {
    id: null,
    version: null,
    codename: null,
    prettyName: null,
    path: '/etc/os-release',
  });
  assert.match(binary.warnings.join('\n'), /\/etc\/os-release is not (UTF-8 )?text/);
  const partial = await inspectImage(
    await imageOf({
      layers: [[file('usr/lib/os-release', 'ID=debian\nthis is not a field\nVERSION_ID="13\n')]],
    }),
  );
  assert.equal(partial.os.id, 'debian');
  assert.equal(partial.os.version, null);
  assert.match(partial.warnings.join('\n'), /\/usr\/lib\/os-release has 2 lines that are not KEY=value/);
});

test('content of a file replaced or deleted by a later layer is dropped, warnings and all', async () => {
  const f = await inspectImage(
    await imageOf({
      layers: [
        [
          file('etc/os-release', 'ID=debian\nVERSION_ID=12\n'),
          file('usr/lib/os-release', 'garbage without equals\n'),
        ],
        [file('etc/os-release', 'ID=alpine\nVERSION_ID=3.22\n'), whiteout('usr/lib/os-release')],
      ],
    }),
  );
  assert.equal(f.os.id, 'alpine');
  assert.equal(f.os.version, '3.22');
  assert.deepEqual(f.warnings, []);
});

test('a corrupt apk database gives the packages it could read and a warning', async () => {
  const db = Buffer.concat([
    Buffer.from('P:musl\nV:1.2.5-r10\n\n'),
    Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x0a, 0x00, 0x01, 0x0a]),
    Buffer.from('garbage line\nP:zlib\nV:1.3.1-r2\n\nV:orphan\n'),
  ]);
  const f = await inspectImage(
    await imageOf({
      layers: [[file('lib/apk/db/installed', db), file('lib/ld-musl-x86_64.so.1', 'm', 0o755)]],
    }),
  );
  assert.deepEqual(
    f.packages.map((p) => `${p.name} ${p.version}`),
    ['musl 1.2.5-r10', 'zlib 1.3.1-r2'],
  );
  assert.equal(f.libc.version, '1.2.5');
  const w = f.warnings.join('\n');
  assert.match(w, /\/lib\/apk\/db\/installed has 3 lines that are not apk database fields/);
  assert.match(w, /\/lib\/apk\/db\/installed has 1 records without a P: \(name\) line/);
});

test('a corrupt dpkg status gives the packages before the damage and a warning', async () => {
  const status =
    'Package: base-files\nStatus: install ok installed\nVersion: 13.8\n\n' +
    'Package: removed\nStatus: deinstall ok config-files\nVersion: 1\n\n' +
    'Package: libc6\nStatus: install ok installed\nVersion: 2.41-12\n\n' +
    'this line has no colon\n\nPackage: after\nStatus: install ok installed\nVersion: 1\n';
  const f = await inspectImage(await imageOf({ layers: [[file('var/lib/dpkg/status', status)]] }));
  assert.deepEqual(
    f.packages.map((p) => p.name),
    ['base-files', 'libc6'],
  );
  assert.deepEqual(f.packageDatabases, [{ type: 'deb', path: '/var/lib/dpkg/status', count: 2 }]);
  assert.match(f.warnings.join('\n'), /\/var\/lib\/dpkg\/status: line 13: .*not a field/);
});

test('a symlink loop for /bin/sh makes the shell unknown with a warning, not a crash', async () => {
  const f = await inspectImage(
    await imageOf({
      layers: [[dir('bin/'), symlink('bin/sh', 'ash'), symlink('bin/ash', '/bin/sh'), symlink('etc', 'etc')]],
    }),
  );
  assert.deepEqual(f.shells, [
    { name: 'ash', path: '/bin/ash', target: null, status: 'unknown' },
    { name: 'sh', path: '/bin/sh', target: null, status: 'unknown' },
  ]);
  const w = f.warnings.join('\n');
  assert.match(
    w,
    /\/bin\/sh is a symlink loop or a chain of more than 40 links; whether sh is there is unknown/,
  );
  assert.match(w, /\/etc\/os-release is a symlink loop; the OS is unknown/);
});

test('entries under a symlink loop, overlong paths and dangling hardlinks are skipped with warnings', async () => {
  const t = await mergedTree(
    await imageOf({
      layers: [
        [symlink('loop', 'loop'), file('loop/inside', 'x')],
        [
          file(`${'d/'.repeat(2100)}f`, 'deep'),
          hardlink('h', 'no/such/target'),
          hardlink('hd', 'dir'),
          dir('dir/'),
        ],
      ],
    }),
  );
  assert.equal(t.lookup('/h'), undefined);
  assert.equal(t.lookup('/hd'), undefined);
  const w = t.warnings.join('\n');
  assert.match(w, /entry "loop\/inside" has a parent directory behind a symlink loop; skipped/);
  assert.match(w, /has a path or link longer than 4096 characters; skipped/);
  assert.match(w, /entry "h" is a hardlink to "no\/such\/target", which is not in the image; skipped/);
  assert.match(w, /entry "hd" is a hardlink to "dir", which is not in the image; skipped/);
});

test('warnings are capped, with a count of those left out', async () => {
  const layer = Array.from({ length: 250 }, (_, i) => file(`../escape${i}`, 'x'));
  const t = await mergedTree(await imageOf({ layers: [layer] }));
  assert.equal(t.warnings.length, 201);
  assert.equal(t.warnings[200], '50 more warnings were left out');
});

test('unsafe layer entries are a fact: absolute and ".." names, links leading outside, writes through them', async () => {
  const f = await inspectImage(
    await imageOf({
      layers: [
        [
          dir('etc/'),
          file('etc/shadow', 'root:*:1::::::\n', 0o640),
          dir('usr/lib/'),
          symlink('lib', 'usr/lib'),
          symlink('usr/lib/up', '../../..'),
          symlink('usr/lib/ok', '../../etc'),
        ],
        [
          file('/etc/cron.d/job', '* * * * * root sh\n'),
          file('srv/../srv-file', 'inside'),
          file('../../escape', 'outside'),
          hardlink('app/shadow', '/etc/shadow'),
          hardlink('app/shadow2', 'app/../etc/shadow'),
          symlink('evil', '/etc'),
          file('evil/cron.d/backdoor', 'x'),
          file('evil/cron.d/backdoor2', 'x'),
          symlink('climb', 'usr/../..'),
          file('climb/etc/x', 'x'),
          file('lib/x86_64-linux-gnu/libfoo.so', 'through a relative link inside: fine'),
        ],
      ],
    }),
  );
  assert.deepEqual(
    f.unsafePaths.map((u) => `${u.layer} ${u.path} ${u.kind} ${u.target}`),
    [
      '0 usr/lib/up symlink-outside ../../..',
      '1 /etc/cron.d/job absolute-name null',
      '1 srv/../srv-file parent-reference null',
      '1 ../../escape parent-reference null',
      '1 app/shadow hardlink-outside /etc/shadow',
      '1 app/shadow2 hardlink-outside app/../etc/shadow',
      '1 evil/cron.d/backdoor through-symlink /evil',
      '1 evil/cron.d/backdoor2 through-symlink /evil',
      '1 climb symlink-outside usr/../..',
      '1 climb/etc/x through-symlink /climb',
    ],
  );
  const why = Object.fromEntries(f.unsafePaths.map((u) => [u.path, u.why]));
  assert.match(why['../../escape']!, /climbs above the image root.*skipped here/);
  assert.match(why['srv/../srv-file']!, /stays inside the image here/);
  assert.match(why['evil/cron.d/backdoor']!, /written through the symlink \/evil -> \/etc/);
  assert.match(why['app/shadow']!, /hardlink target is absolute/);
  // The merge itself kept everything inside the image, as a container sees it.
  const tree = await mergedTree(
    await imageOf({ layers: [[symlink('evil', '/etc'), file('evil/cron.d/backdoor', 'x')]] }),
  );
  assert.equal(tree.lookup('/etc/cron.d/backdoor')?.type, 'file');
  assert.deepEqual(
    tree.unsafePaths.map((u) => u.kind),
    ['through-symlink'],
  );
  const v = checkDeny(f, parseDenyRules('unsafe-paths'), 'oci:hostile');
  assert.equal(v.length, 1);
  assert.equal(v[0]!.what.length, 10);
  assert.equal(v[0]!.what[4], 'layer 1 "app/shadow": hardlink-outside ("/etc/shadow")');
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, f), []);
});

test('unsafe entries are capped at 1000 with a warning; ordinary images have none', async () => {
  const layer = Array.from({ length: 1005 }, (_, i) => file(`/abs${i}`, 'x'));
  const f = await inspectImage(await imageOf({ layers: [layer] }));
  assert.equal(f.unsafePaths.length, 1000);
  assert.match(f.warnings.join('\n'), /5 more unsafe entries were found; only the first 1000 are listed/);
  for (const image of [await shellImage(), await distrolessImage()]) {
    const clean = await inspectImage(image);
    assert.deepEqual(clean.unsafePaths, []);
    assert.deepEqual(checkDeny(clean, parseDenyRules('unsafe-paths'), 'clean'), []);
  }
});
