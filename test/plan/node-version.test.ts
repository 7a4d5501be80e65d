import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import {
  chooseNodeVersion,
  type NodeSpecs,
  type NodeVersionChoice,
  normalizeNodeSpec,
} from '../../src/plan/node-version.js';

const LIST = [
  '26.12.1',
  '25.9.0',
  '24.22.3',
  '24.1.0',
  '22.23.5',
  '22.1.0',
  '20.20.2',
  '20.11.0',
  '18.20.8',
  '18.14.0',
  '18.0.0',
];
const NOW = new Date('2026-06-01T00:00:00Z'); // active LTS 24; 18, 20 and 25 are past their end of life

function choose(specs: NodeSpecs, now = NOW): NodeVersionChoice {
  return chooseNodeVersion(specs, LIST, { now });
}

function errorOf(specs: NodeSpecs): Error & { code: string } {
  try {
    choose(specs);
  } catch (err) {
    assert.ok(isDistillError(err), String(err));
    return err;
  }
  assert.fail(`${JSON.stringify(specs)} was chosen`);
}

describe('chooseNodeVersion', () => {
  test('nothing stated: the active LTS, no warning', () => {
    const c = choose({ '.nvmrc': '\n  \n', 'engines.node': '  ' });
    assert.equal(c.version, '24.22.3');
    assert.equal(c.source, 'default');
    assert.equal(c.spec, 'lts');
    assert.deepEqual(c.stated, []);
    assert.deepEqual(c.warnings, []);
  });

  test('one source: its newest release, no warning', () => {
    const c = choose({ 'engines.node': '>=20 <25' });
    assert.deepEqual(
      [c.version, c.source, c.from],
      ['24.22.3', 'engines.node', 'engines.node in package.json'],
    );
    assert.deepEqual(c.warnings, []);
  });

  test('.node-version 18.14.0 within engines >=18: the pin wins, with a warning naming each source', () => {
    const c = choose({ 'engines.node': '>=18.0.0', '.node-version': '18.14.0\n' });
    assert.equal(c.version, '18.14.0');
    assert.equal(c.source, '.node-version');
    assert.equal(c.spec, '18.14.0');
    assert.deepEqual(c.stated, [
      { source: 'engines.node', spec: '>=18.0.0', alone: '26.12.1' },
      { source: '.node-version', spec: '18.14.0', alone: '18.14.0' },
    ]);
    assert.equal(c.warnings.length, 2, c.warnings.join('\n'));
    assert.match(c.warnings[0]!, /engines\.node in package\.json ">=18\.0\.0" alone gives 26\.12\.1/);
    assert.match(c.warnings[0]!, /\.node-version "18\.14\.0" alone gives 18\.14\.0/);
    assert.match(
      c.warnings[0]!,
      /Node 18\.14\.0 is the newest release all of them allow, decided by \.node-version/,
    );
    // 18 ended on 2025-04-30: the second warning says so, with the source.
    assert.match(
      c.warnings[1]!,
      /Node 18\.14\.0 is past its end of life: the 18\.x line ended on 2025-04-30/,
    );
    assert.match(c.warnings[1]!, /from \.node-version "18\.14\.0"/);
    assert.deepEqual(c.endOfLife, { line: '18', end: '2025-04-30' });
  });

  test('the most specific source decides, and the version satisfies every other', () => {
    // .nvmrc "20" matches 2 releases, engines 4, volta 1: volta decides.
    const c = choose({ 'engines.node': '^20 || ^22', '.nvmrc': 'v20', 'volta.node': '20.11.0' });
    assert.deepEqual([c.version, c.source], ['20.11.0', 'volta.node']);
    // A range narrower than a pin's major: the newest release both allow, which neither alone picks.
    const d = choose({ '.nvmrc': '18', 'engines.node': '>=18.1 <18.20' });
    assert.equal(d.version, '18.14.0');
    assert.equal(d.source, 'engines.node'); // 1 release (18.14.0) against the 3 of "18"
    assert.match(d.warnings[0]!, /\.nvmrc "18" alone gives 18\.20\.8/);
    // A tie keeps the README's order: engines.node before .nvmrc.
    const e = choose({ '.nvmrc': '22.1.0', 'engines.node': '22.1.0' });
    assert.deepEqual([e.version, e.source, e.warnings], ['22.1.0', 'engines.node', []]);
  });

  test('sources that agree on a release give no warning', () => {
    const c = choose({ 'engines.node': '>=22 <25', '.nvmrc': 'lts/*', '.node-version': '24' });
    assert.deepEqual([c.version, c.warnings], ['24.22.3', []]);
  });

  test('.nvmrc with comments and blank lines, as nvm reads it', () => {
    assert.equal(normalizeNodeSpec('# pinned for CI\n\n  lts/jod  # the LTS\nignored\n'), 'lts/jod');
    assert.equal(normalizeNodeSpec('\r\n22\r\n'), '22');
    assert.equal(normalizeNodeSpec('# only a comment\n'), undefined);
    assert.equal(normalizeNodeSpec(undefined), undefined);
    assert.equal(choose({ '.nvmrc': '# pinned\nlts/jod\n' }).version, '22.23.5');
  });

  test('a pin outside engines.node is NODE_VERSION_CONFLICT naming both', () => {
    const err = errorOf({ 'engines.node': '>=20', '.nvmrc': '18.14.0' });
    assert.equal(err.code, 'NODE_VERSION_CONFLICT');
    assert.match(
      err.message,
      /engines\.node in package\.json ">=20" \(newest 26\.12\.1\) and \.nvmrc "18\.14\.0" \(newest 18\.14\.0\) have no release in common/,
    );
    assert.match(err.message, /--node/);
  });

  test('two pins that disagree are NODE_VERSION_CONFLICT naming both', () => {
    const err = errorOf({ '.nvmrc': '20', '.node-version': '22.1.0', 'volta.node': '22.1.0' });
    assert.equal(err.code, 'NODE_VERSION_CONFLICT');
    assert.match(err.message, /\.nvmrc "20" \(newest 20\.20\.2\) and \.node-version "22\.1\.0"/);
    assert.match(
      err.message,
      /\.nvmrc "20" \(newest 20\.20\.2\) and volta\.node in package\.json "22\.1\.0"/,
    );
    assert.doesNotMatch(err.message, /\.node-version "22\.1\.0" \(newest 22\.1\.0\) and volta/);
  });

  test('three sources that overlap pairwise but not all at once', () => {
    const err = errorOf({ 'engines.node': '18 || 20', '.nvmrc': '20 || 22', '.node-version': '18 || 22' });
    assert.equal(err.code, 'NODE_VERSION_CONFLICT');
    assert.match(
      err.message,
      /no release satisfies all of engines\.node in package\.json "18 \|\| 20", \.nvmrc/,
    );
  });

  test('--node overrides everything, with a warning for each source it does not satisfy', () => {
    const c = choose({ '--node': '22', 'engines.node': '>=24', '.nvmrc': '22.1.0', 'volta.node': '20' });
    assert.deepEqual([c.version, c.source, c.from, c.spec], ['22.23.5', '--node', '--node', '22']);
    assert.equal(c.warnings.length, 3, c.warnings.join('\n'));
    assert.match(
      c.warnings[0]!,
      /--node "22" gives Node 22\.23\.5, outside engines\.node in package\.json ">=24": the app declares it needs that/,
    );
    assert.match(c.warnings[1]!, /outside \.nvmrc "22\.1\.0", which alone gives 22\.1\.0/);
    assert.match(c.warnings[2]!, /outside volta\.node in package\.json "20", which alone gives 20\.20\.2/);
    const quiet = choose({ '--node': '24.1', 'engines.node': '>=22' });
    assert.deepEqual([quiet.version, quiet.warnings], ['24.1.0', []]);
  });

  test('--node past a source that matches no release: a warning, not an error', () => {
    const c = choose({ '--node': '24', 'engines.node': '>=30' });
    assert.equal(c.version, '24.22.3');
    assert.match(c.warnings[0]!, /outside engines\.node in package\.json ">=30"/);
    assert.equal(errorOf({ 'engines.node': '>=30' }).code, 'NODE_VERSION_UNKNOWN');
  });

  test('a spec that matches nothing names its source and the nearest releases', () => {
    const err = errorOf({ '.node-version': '19.2', 'engines.node': '>=18' });
    assert.equal(err.code, 'NODE_VERSION_UNKNOWN');
    assert.match(err.message, /"19\.2" \(from \.node-version\)/);
    assert.match(
      err.message,
      /nearest releases are 18\.20\.8 \(below\) and 20\.11\.0 \(above\); there is no 19\.x release/,
    );
    assert.equal(errorOf({ '--node': '27' }).code, 'NODE_VERSION_UNKNOWN');
  });

  test('a malformed spec is VERSION_INVALID naming its source', () => {
    const err = errorOf({ 'volta.node': 'twenty', 'engines.node': '>=18' });
    assert.equal(err.code, 'VERSION_INVALID');
    assert.match(err.message, /"twenty" \(from volta\.node in package\.json\)/);
  });

  test('an end-of-life line gets a warning with its date; a supported one does not', () => {
    const odd = choose({ '--node': '25' });
    assert.deepEqual(odd.endOfLife, { line: '25', end: '2026-06-01' });
    assert.match(
      odd.warnings[0]!,
      /Node 25\.9\.0 is past its end of life: the 25\.x line ended on 2026-06-01 .*from --node "25"/,
    );
    const before = choose({ 'engines.node': '20' }, new Date('2026-04-29T12:00:00Z'));
    assert.deepEqual([before.version, before.warnings, before.endOfLife], ['20.20.2', [], undefined]);
    const after = choose({ 'engines.node': '20' }, new Date('2026-04-30T00:00:00Z'));
    assert.match(after.warnings[0]!, /the 20\.x line ended on 2026-04-30/);
    assert.deepEqual(choose({ '.nvmrc': 'lts/*' }).warnings, []);
  });
});
