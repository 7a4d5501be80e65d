import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDeb822, parseDeb822Single } from '../../src/debian/deb822.js';
import {
  dpkgStatusDatabase,
  formatMd5sums,
  INSTALLED_STATUS,
  installedParagraph,
  STATUS_D_DIR,
  statusDFiles,
} from '../../src/debian/status.js';
import { isDistillError } from '../../src/errors.js';
import { requireComponents, withTempDir } from './helpers.js';

const CONTROL = parseDeb822Single(
  'Package: libc6\nSource: glibc\nVersion: 2.41-12\nArchitecture: amd64\nMulti-Arch: same\n' +
    'Depends: libgcc-s1\nDescription: GNU C Library: Shared libraries\n Contains the standard libraries.\n .\n More.\n',
);

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

test('status: status.d/<pkg> is the control paragraph with Status after Package', () => {
  const files = statusDFiles({ control: CONTROL, md5sums: 'd41d8cd98f00b204e9800998ecf8427e  usr/lib/x\n' });
  assert.deepEqual(
    files.map((f) => [f.path, f.mode]),
    [
      [`${STATUS_D_DIR}/libc6`, 0o644],
      [`${STATUS_D_DIR}/libc6.md5sums`, 0o644],
    ],
  );
  assert.equal(
    text(files[0]!.content),
    'Package: libc6\nStatus: install ok installed\nSource: glibc\nVersion: 2.41-12\nArchitecture: amd64\n' +
      'Multi-Arch: same\nDepends: libgcc-s1\nDescription: GNU C Library: Shared libraries\n' +
      ' Contains the standard libraries.\n .\n More.\n',
  );
  assert.equal(text(files[1]!.content), 'd41d8cd98f00b204e9800998ecf8427e  usr/lib/x\n');
  // parses back as one paragraph with every original field
  const back = parseDeb822Single(text(files[0]!.content));
  for (const f of CONTROL.fields) assert.equal(back.get(f.name), f.value);
  assert.equal(back.get('Status'), INSTALLED_STATUS);
});

test('status: an existing Status field is replaced, not duplicated', () => {
  const p = installedParagraph(CONTROL.with('Status', 'deinstall ok config-files'));
  assert.equal(p.get('Status'), INSTALLED_STATUS);
  assert.equal(p.names().filter((n) => n === 'Status').length, 1);
});

test('status: md5sums computed from data entries are sorted and formatted like md5sum(1)', () => {
  const sums = new Map([
    ['usr/share/b', '0cc175b9c0f1b6a831c399e269772661'],
    ['usr/bin/a', '92eb5ffee6ae2fec3ad71c777531578f'],
  ]);
  const out = formatMd5sums(sums);
  assert.equal(
    out,
    '92eb5ffee6ae2fec3ad71c777531578f  usr/bin/a\n0cc175b9c0f1b6a831c399e269772661  usr/share/b\n',
  );
  const files = statusDFiles({ control: CONTROL, md5sums: sums });
  assert.equal(text(files[1]!.content), out);
  assert.throws(
    () => formatMd5sums(new Map([['x', 'nothex']])),
    (e: unknown) => isDistillError(e, 'DEB_INVALID'),
  );
  assert.throws(() => formatMd5sums(new Map([['a\nb', '0cc175b9c0f1b6a831c399e269772661']])), /invalid path/);
  // no md5sums at all: only the status file
  assert.equal(statusDFiles({ control: CONTROL }).length, 1);
});

test('status: a package name that could escape status.d is refused', () => {
  const evil = parseDeb822Single('Package: ../../etc/passwd\nVersion: 1\nArchitecture: all\n');
  assert.throws(
    () => statusDFiles({ control: evil }),
    (e: unknown) => isDistillError(e, 'DEB_INVALID'),
  );
  const none = parseDeb822Single('Version: 1\n');
  assert.throws(() => statusDFiles({ control: none }), /no Package field/);
});

test('status: dpkg itself reads the generated status database and md5sums', async (t) => {
  if (!requireComponents(t, 'dpkg-query', 'md5sum')) return;
  await withTempDir(async (dir) => {
    const zlib = parseDeb822Single(
      'Package: zlib1g\nVersion: 1:1.3.dfsg-3\nArchitecture: amd64\nDescription: z\n',
    );
    const admin = join(dir, 'admin');
    await mkdir(join(admin, 'info'), { recursive: true });
    await mkdir(join(admin, 'updates'), { recursive: true });
    await writeFile(join(admin, 'available'), '');
    await writeFile(join(admin, 'status'), dpkgStatusDatabase([CONTROL, zlib]));
    // dpkg-query's own ${field} format syntax, not a template literal
    const format = ['Package', 'Version', 'db:Status-Abbrev'].map((f) => `$\{${f}}`).join(' ');
    const out = execFileSync('dpkg-query', [`--admindir=${admin}`, '-W', '-f', `${format}\\n`], {
      encoding: 'utf8',
    });
    assert.equal(out, 'libc6 2.41-12 ii \nzlib1g 1:1.3.dfsg-3 ii \n');
    // the combined database is sorted and parses as paragraphs with Status
    const ps = parseDeb822(dpkgStatusDatabase([zlib, CONTROL]));
    assert.deepEqual(
      ps.map((p) => p.get('Package')),
      ['libc6', 'zlib1g'],
    );
    // md5sums text verifies with md5sum -c against the files
    await mkdir(join(dir, 'root/usr/bin'), { recursive: true });
    await writeFile(join(dir, 'root/usr/bin/a'), 'a');
    const files = statusDFiles({
      control: zlib,
      md5sums: new Map([['usr/bin/a', '0cc175b9c0f1b6a831c399e269772661']]),
    });
    await writeFile(join(dir, 'sums'), files[1]!.content);
    execFileSync('md5sum', ['-c', join(dir, 'sums')], { cwd: join(dir, 'root'), stdio: 'pipe' });
  });
});
