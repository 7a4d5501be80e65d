import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDeb822 } from '../../src/debian/deb822.js';
import {
  archMatches,
  formatRelations,
  parseProvides,
  parseRelation,
  parseRelations,
  relationsForArch,
} from '../../src/debian/relations.js';
import { isDistillError } from '../../src/errors.js';
import { IN_CI, realPackagesIndex } from './helpers.js';

test('relations: alternatives, versions, arch qualifiers, arch lists, profiles', () => {
  const r = parseRelations(
    'libc6 (>= 2.34), default-mta | mail-transport-agent, python3:any (>=3.11~) , libfoo:native,\n foo [amd64 arm64] <!nocheck> <stage1 cross>, bar [!i386]',
  );
  assert.equal(r.length, 6);
  assert.deepEqual(r[0], [{ name: 'libc6', constraint: { op: '>=', version: '2.34' } }]);
  assert.deepEqual(
    r[1]!.map((x) => x.name),
    ['default-mta', 'mail-transport-agent'],
  );
  assert.deepEqual(r[2], [
    { name: 'python3', archQualifier: 'any', constraint: { op: '>=', version: '3.11~' } },
  ]);
  assert.deepEqual(r[3], [{ name: 'libfoo', archQualifier: 'native' }]);
  assert.deepEqual(r[4], [
    {
      name: 'foo',
      archRestriction: { negated: false, arches: ['amd64', 'arm64'] },
      profiles: [['!nocheck'], ['stage1', 'cross']],
    },
  ]);
  assert.deepEqual(r[5], [{ name: 'bar', archRestriction: { negated: true, arches: ['i386'] } }]);
  assert.equal(
    formatRelations(r),
    'libc6 (>= 2.34), default-mta | mail-transport-agent, python3:any (>= 3.11~), libfoo:native, foo [amd64 arm64] <!nocheck> <stage1 cross>, bar [!i386]',
  );
  // empty entries (trailing commas) are tolerated
  assert.equal(parseRelations('a1, , b2,').length, 2);
  assert.deepEqual(parseRelations(''), []);
  // legacy operators parse
  assert.deepEqual(parseRelation('old (< 1.0)').constraint, { op: '<', version: '1.0' });
});

test('relations: architecture lists evaluated per target arch', () => {
  const r = parseRelations(
    'a1 [amd64], b1 [!amd64], c1 [linux-any], d1 [any-arm64] | e1, f1 [arm64] | g1 [i386]',
  );
  const amd = relationsForArch(r, 'amd64');
  assert.equal(formatRelations(amd), 'a1 [amd64], c1 [linux-any], e1');
  const arm = relationsForArch(r, 'arm64');
  assert.equal(formatRelations(arm), 'b1 [!amd64], c1 [linux-any], d1 [any-arm64] | e1, f1 [arm64]');
  assert.ok(archMatches('amd64', 'any'));
  assert.ok(archMatches('hurd-i386', 'hurd-any'));
  assert.ok(!archMatches('hurd-i386', 'linux-any'));
});

test('relations: versioned and plain Provides', () => {
  assert.deepEqual(parseProvides('awk, libfoo-abi-2 (= 2.1-1), x-terminal-emulator'), [
    { name: 'awk' },
    { name: 'libfoo-abi-2', version: '2.1-1' },
    { name: 'x-terminal-emulator' },
  ]);
  assert.throws(() => parseProvides('foo (>= 1)'), /only "=" versions/);
  assert.throws(() => parseProvides('foo | bar'), /alternatives/);
});

test('relations: malformed fields are DEB822_INVALID', () => {
  const bad = [
    'foo (>= )',
    'foo (~ 1.0)',
    'foo (>= 1.0',
    'foo [amd64',
    'foo [amd64 !i386]',
    'Foo',
    'foo bar',
    'foo | | bar',
    'foo (>= abc)',
    'foo <>',
    'foo:',
  ];
  for (const text of bad) {
    assert.throws(
      () => parseRelations(text, 'Depends'),
      (err: unknown) => isDistillError(err, 'DEB822_INVALID') && /^Depends: /.test(err.message),
      text,
    );
  }
});

test('relations: every relationship field of a real Packages index parses', (t) => {
  const idx = realPackagesIndex();
  if ('reason' in idx) {
    if (IN_CI) throw new Error(idx.reason);
    t.skip(idx.reason);
    return;
  }
  let fields = 0;
  let relations = 0;
  for (const p of parseDeb822(idx.text)) {
    for (const f of [
      'Depends',
      'Pre-Depends',
      'Recommends',
      'Suggests',
      'Conflicts',
      'Breaks',
      'Replaces',
      'Enhances',
    ]) {
      const v = p.get(f);
      if (v === undefined) continue;
      fields++;
      const parsed = parseRelations(v, f);
      relations += parsed.flat().length;
      // canonical formatting is stable
      assert.equal(formatRelations(parseRelations(formatRelations(parsed))), formatRelations(parsed));
    }
    const prov = p.get('Provides');
    if (prov !== undefined) parseProvides(prov);
  }
  t.diagnostic(`${fields} fields, ${relations} relations parsed`);
  assert.ok(relations > 100_000);
});
