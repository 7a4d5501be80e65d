import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseDeb822 } from '../../src/debian/deb822.js';
import {
  compareVersions,
  isValidVersion,
  parseVersion,
  satisfies,
  sortVersions,
  type VersionOperator,
} from '../../src/debian/version.js';
import { isDistillError } from '../../src/errors.js';
import { dpkgCompareBatch, IN_CI, realPackagesIndex, requireComponents } from './helpers.js';

test('version: parse epoch, upstream, revision', () => {
  assert.deepEqual(parseVersion('1:2.36-9+deb12u4'), {
    text: '1:2.36-9+deb12u4',
    epoch: 1,
    upstream: '2.36',
    revision: '9+deb12u4',
  });
  assert.deepEqual(parseVersion(' 1.0 '), { text: '1.0', epoch: 0, upstream: '1.0', revision: '' });
  // the revision is after the last hyphen
  assert.deepEqual(parseVersion('1.2-beta-3'), {
    text: '1.2-beta-3',
    epoch: 0,
    upstream: '1.2-beta',
    revision: '3',
  });
});

test('version: invalid versions are VERSION_INVALID with the reason', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['1.0 beta', /whitespace/],
    [':1.0', /epoch before ":" is empty/],
    ['a:1.0', /epoch is not a number/],
    ['1:', /nothing after/],
    ['99999999999:1', /epoch is too big/],
    ['1.0-', /revision after "-" is empty/],
    ['-1', /upstream version is empty/],
    ['abc', /must start with a digit/],
    ['1.0_1', /upstream version may contain only/],
    ['1:2:3', /upstream version may contain only/],
    ['1.0-a_b', /revision may contain only/],
    ['1.0-1:2', /epoch is not a number/],
    ['1.0-1~b_p', /revision may contain only/],
  ];
  for (const [v, re] of cases) {
    assert.throws(
      () => parseVersion(v),
      (err: unknown) => isDistillError(err, 'VERSION_INVALID') && re.test(err.message),
      v,
    );
    assert.equal(isValidVersion(v), false, v);
  }
});

test('version: dpkg ordering of known cases', () => {
  const lt: [string, string][] = [
    ['1.0~rc1', '1.0'],
    ['1.0~~', '1.0~'],
    ['1.0~', '1.0'],
    ['1.0', '1.0a'],
    ['1.0a', '1.0+'],
    ['1.0+', '1.0.1'],
    ['1.0', '1.0-1'],
    ['1.0-1', '1.0-1+b1'],
    ['2.0', '10.0'],
    ['1:0.1', '2:0.0'],
    ['9.9', '1:0'],
    ['1.0-9', '1.0-10'],
    ['1.2.3', '1.2.3.0~'],
    ['99999999999999999999', '100000000000000000000'],
    ['1.18446744073709551615', '1.18446744073709551616'],
    ['1.0-1~bpo1', '1.0-1'],
    ['1.a', '1.b'],
    ['1.Z', '1.a'],
  ];
  for (const [a, b] of lt) {
    assert.equal(compareVersions(a, b), -1, `${a} < ${b}`);
    assert.equal(compareVersions(b, a), 1, `${b} > ${a}`);
  }
  const eq: [string, string][] = [
    ['1.0', '1.00'],
    ['0:1.0', '1.0'],
    ['1.0', '1.0-0'],
    ['1.001', '1.1'],
    ['00000000000000000000001', '1'],
  ];
  for (const [a, b] of eq) assert.equal(compareVersions(a, b), 0, `${a} = ${b}`);
});

test('version: satisfies with every operator, including the legacy < and >', () => {
  const table: [string, VersionOperator, string, boolean][] = [
    ['1.0', '<<', '1.1', true],
    ['1.1', '<<', '1.1', false],
    ['1.1', '<=', '1.1', true],
    ['1.2', '<=', '1.1', false],
    ['1.1', '=', '1.1-0', true],
    ['1.1', '=', '1.1-1', false],
    ['1.1', '>=', '1.1', true],
    ['1.0', '>=', '1.1', false],
    ['1.2', '>>', '1.1', true],
    ['1.1', '>>', '1.1', false],
    ['1.1', '<', '1.1', true],
    ['1.0', '<', '1.1', true],
    ['1.1', '>', '1.1', true],
    ['1.0', '>', '1.1', false],
  ];
  for (const [v, op, ref, want] of table) assert.equal(satisfies(v, op, ref), want, `${v} ${op} ${ref}`);
  assert.deepEqual(sortVersions(['1.0', '1.0~rc1', '1:0.1', '1.0-1']), ['1.0~rc1', '1.0', '1.0-1', '1:0.1']);
});

// Small alphabets make near-equal pairs likely, which is where the ordering rules matter.
const digits = fc.constantFrom('0', '1', '9', '00', '01', '10', '99', '12345678901234567890');
const nonDigit = fc.constantFrom('.', '+', '~', 'a', 'b', 'Z', '~~');
const part = fc.array(fc.oneof(digits, nonDigit), { minLength: 0, maxLength: 5 }).map((xs) => xs.join(''));
const upstream = fc
  .tuple(digits, part, fc.constantFrom('', '-', '-1'))
  .map(([d, p, h]) => d + p + (h ? `${h}` : ''));
const revision = fc
  .array(fc.oneof(digits, fc.constantFrom('.', '+', '~', 'a', 'deb', 'b')), { minLength: 1, maxLength: 4 })
  .map((xs) => xs.join(''));
const version = fc
  .tuple(fc.constantFrom('', '0:', '1:', '2:', '10:'), upstream, fc.option(revision, { nil: undefined }))
  .map(([e, u, r]) => {
    // an upstream with a hyphen needs a revision
    if (r === undefined && u.includes('-')) return `${e}${u}-0`;
    return r === undefined ? `${e}${u}` : `${e}${u}-${r}`;
  })
  .filter((v) => isValidVersion(v));
const pair = fc.oneof(
  fc.tuple(version, version),
  // a version and a small edit of it
  fc
    .tuple(version, fc.oneof(digits, nonDigit), fc.nat())
    .map(([v, ins, at]): [string, string] => {
      const i = at % (v.length + 1);
      const w = v.slice(0, i) + ins + v.slice(i);
      return [v, isValidVersion(w) ? w : `${v}${ins === '~' ? '~' : '.0'}`];
    })
    .filter(([, w]) => isValidVersion(w)),
);

test('version: comparison is a total order (antisymmetric, transitive; property)', () => {
  fc.assert(
    fc.property(version, version, version, (a, b, c) => {
      assert.equal(compareVersions(a, b), -compareVersions(b, a) || 0);
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0);
      assert.equal(compareVersions(a, a), 0);
    }),
    { numRuns: 5000 },
  );
});

test('version: 2000 generated pairs ordered exactly like dpkg --compare-versions', async (t) => {
  if (!requireComponents(t, 'dpkg')) return;
  const pairs = fc.sample(pair, { numRuns: 2000, seed: 20261123 }) as [string, string][];
  const t0 = Date.now();
  const want = await dpkgCompareBatch(pairs);
  t.diagnostic(`dpkg compared ${pairs.length} pairs in ${Date.now() - t0} ms`);
  let equal = 0;
  const mismatches: string[] = [];
  pairs.forEach(([a, b], i) => {
    const got = compareVersions(a, b);
    if (got === 0) equal++;
    if (got !== want[i]) mismatches.push(`${a} vs ${b}: ours ${got}, dpkg ${want[i]}`);
  });
  assert.deepEqual(mismatches, []);
  // the generator must exercise all three outcomes
  t.diagnostic(`${equal} equal pairs`);
  assert.ok(equal > 20, `only ${equal} equal pairs`);
  assert.ok(want.filter((x) => x < 0).length > 200 && want.filter((x) => x > 0).length > 200);
});

test('version: a real Packages index sorted by compareVersions agrees with dpkg on adjacent pairs', async (t) => {
  if (!requireComponents(t, 'dpkg')) return;
  const idx = realPackagesIndex();
  if ('reason' in idx) {
    if (IN_CI) throw new Error(idx.reason);
    t.skip(idx.reason);
    return;
  }
  const versions = new Set<string>();
  for (const p of parseDeb822(idx.text)) versions.add(p.require('Version'));
  const sorted = sortVersions([...versions]);
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(compareVersions(sorted[i - 1]!, sorted[i]!) <= 0);
  }
  // evenly spaced sample of adjacent pairs
  const n = Math.min(2000, sorted.length - 1);
  const step = (sorted.length - 1) / n;
  const pairs: [string, string][] = [];
  for (let k = 0; k < n; k++) {
    const i = Math.floor(k * step);
    pairs.push([sorted[i]!, sorted[i + 1]!]);
  }
  const want = await dpkgCompareBatch(pairs);
  const mismatches = pairs
    .map(([a, b], i) => ({ a, b, ours: compareVersions(a, b), dpkg: want[i] }))
    .filter((r) => r.ours !== r.dpkg);
  t.diagnostic(
    `${versions.size} distinct versions from ${idx.file}; ${pairs.length} adjacent pairs checked with dpkg`,
  );
  assert.deepEqual(mismatches, []);
});
