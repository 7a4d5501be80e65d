import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  DEFAULT_PACKAGE_LIMITS,
  parsePackageJson,
  readApkInstalled,
  readDpkg,
} from '../../src/inspect/packages.js';
import { within } from '../layers/helpers.js';

/**
 * Package databases as an image can hold them, hostile: readers keep what they could read, report
 * what they could not in a bounded number of problems, and never throw on content.
 */

const body = (text: string | Buffer, chunk = 64 * 1024) => {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += chunk) parts.push(b.subarray(i, i + chunk));
  return Readable.from(parts);
};

const pkg = (name: string, status = 'install ok installed') =>
  `Package: ${name}\nStatus: ${status}\nVersion: 1.0\nArchitecture: amd64\n\n`;

test('dpkg: 100,000 paragraphs without a Package field make one problem, not 100,000', async () => {
  const text = `${pkg('first')}${'Status: install ok installed\n\n'.repeat(100_000)}${pkg('last')}`;
  const probe = await within(20_000, 'readDpkg', readDpkg(body(text), 'var/lib/dpkg/status', 'required'));
  assert.deepEqual(
    probe.packages.map((p) => p.name),
    ['first', 'last'],
  );
  assert.deepEqual(probe.problems, [
    'var/lib/dpkg/status has a paragraph without a Package field at line 6 (and 99999 more)',
  ]);
});

test('dpkg: a NUL, a field without a colon or binary garbage keeps the packages before it', async () => {
  for (const bad of ['Package: x\0y\n', 'no colon here\n', '\u00ff\u00fe\u0001\u0002:\n']) {
    const probe = await readDpkg(body(`${pkg('kept')}${bad}\n${pkg('lost')}`), 'status', 'required');
    assert.deepEqual(
      probe.packages.map((p) => p.name),
      ['kept'],
      JSON.stringify(bad),
    );
    assert.equal(probe.problems.length, 1);
    assert.match(probe.problems[0]!, /packages after that point are left out$/);
  }
});

test('dpkg: a file past the byte limit or the package limit is read to the limit, with one problem each', async () => {
  const many = pkg('p').repeat(50);
  const limits = { ...DEFAULT_PACKAGE_LIMITS, maxPackages: 10 };
  const probe = await readDpkg(body(many), 'status', 'required', limits);
  assert.equal(probe.packages.length, 10);
  assert.deepEqual(probe.problems, ['status lists more than 10 packages; the rest are left out']);
  const bytes = { ...DEFAULT_PACKAGE_LIMITS, maxDatabaseBytes: 1000 };
  const cut = await readDpkg(body(many, 7), 'status', 'required', bytes);
  assert.ok(cut.packages.length > 0 && cut.packages.length < 50);
  assert.match(cut.problems.join('\n'), /larger than 1000 bytes; only its start was read/);
});

test('dpkg: a 20 MiB line is cut, not held whole; the packages around it are read', async () => {
  const text = `${pkg('a')}Package: b\nDescription: ${'x'.repeat(20 * 1024 * 1024)}\n\n${pkg('c')}`;
  const probe = await within(20_000, 'readDpkg', readDpkg(body(text), 'status', 'optional'));
  assert.deepEqual(probe.packages[0]?.name, 'a');
  assert.ok(probe.packages.length >= 1);
});

test('apk: binary garbage, NULs, records without a name: counted, the good records kept', async () => {
  const garbage = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256));
  const text = Buffer.concat([
    Buffer.from('P:musl\nV:1.2.5-r0\n\n'),
    garbage,
    Buffer.from('\n\nV:9\n\nP:a\0b\nV:1\n\nP:busybox\nV:1.36\n'),
  ]);
  const probe = await within(
    10_000,
    'readApkInstalled',
    readApkInstalled(body(text, 1000), 'lib/apk/db/installed'),
  );
  assert.deepEqual(
    probe.packages.map((p) => [p.name, p.version]),
    [
      ['musl', '1.2.5-r0'],
      ['busybox', '1.36'],
    ],
  );
  assert.equal(probe.problems.length, 2);
  assert.match(probe.problems[0]!, /lines that are not apk database fields/);
  assert.match(probe.problems[1]!, /2 records without a P: \(name\) line/);
});

test('package.json: deep nesting, huge names, non-objects and cut files give no record, never a throw', () => {
  const cases: [string, boolean][] = [
    [`${'['.repeat(30_000)}${']'.repeat(30_000)}`, false],
    [JSON.stringify({ name: 'n'.repeat(215), version: '1' }), false],
    ['"just a string"', false],
    ['null', false],
    ['{"name": "ok", "version": 1}', false],
    ['{"name": "ok", "version": "1.0.0"', true],
  ];
  for (const [text, truncated] of cases) {
    const probe = parsePackageJson(Buffer.from(text), truncated);
    assert.equal(probe.kind, 'npm');
    if (text.startsWith('{"name": "ok", "version": 1}'))
      assert.deepEqual(probe.record, { name: 'ok', version: null });
    else assert.equal(probe.record, undefined, text.slice(0, 40));
  }
});
