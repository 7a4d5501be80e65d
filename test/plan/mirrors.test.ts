import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import {
  chooseMirrors,
  type MirrorLayer,
  mirrorUrlProblem,
  parseMirrorArgs,
} from '../../src/plan/mirrors.js';

const usage = (re: RegExp) => (e: unknown) => {
  assert.ok(isDistillError(e, 'USAGE'), String(e));
  assert.match((e as Error).message, re);
  return true;
};

describe('parseMirrorArgs: --mirror URL and --mirror SUITE=URL', () => {
  test('nothing given is no choice', () => {
    assert.deepEqual(parseMirrorArgs([]), { suites: {} });
  });

  test('a plain URL serves every suite; SUITE=URL one suite; trailing slashes go', () => {
    assert.deepEqual(
      parseMirrorArgs([
        'http://mirror.example/debian/',
        'trixie-security=https://sec.example/debian-security',
        'trixie=http://127.0.0.1:8080',
      ]),
      {
        all: 'http://mirror.example/debian',
        suites: { 'trixie-security': 'https://sec.example/debian-security', trixie: 'http://127.0.0.1:8080' },
      },
    );
  });

  test('a URL is told from SUITE=URL by its scheme, so a suite needs no quoting', () => {
    assert.deepEqual(parseMirrorArgs(['stable/updates=http://x/debian']), {
      suites: { 'stable/updates': 'http://x/debian' },
    });
    // "=" later in a URL does not make it SUITE=URL; the query is refused as a URL problem
    assert.throws(() => parseMirrorArgs(['http://x/debian?a=b']), usage(/query/));
  });

  test('bad URLs are usage errors naming the value', () => {
    assert.throws(
      () => parseMirrorArgs(['deb.debian.org/debian']),
      usage(/"deb\.debian\.org\/debian" is not a URL/),
    );
    assert.throws(() => parseMirrorArgs(['ftp://x/debian']), usage(/ftp: \(use http: or https:\)/));
    assert.throws(() => parseMirrorArgs(['file:///srv/debian']), usage(/file:/));
    assert.throws(() => parseMirrorArgs(['http://user:pw@x/debian']), usage(/credentials/));
    assert.throws(() => parseMirrorArgs(['trixie=']), usage(/--mirror trixie=URL: "" is not a URL/));
    assert.throws(() => parseMirrorArgs(['trixie=deb.debian.org']), usage(/trixie=URL/));
    assert.throws(() => parseMirrorArgs(['http://[::1']), usage(/not a valid URL/));
  });

  test('bad suite names, two plain URLs and a suite given twice are usage errors', () => {
    assert.throws(() => parseMirrorArgs(['=http://x']), usage(/"" is not a suite name/));
    assert.throws(() => parseMirrorArgs(['../x=http://x']), usage(/"\.\.\/x" is not a suite name/));
    assert.throws(() => parseMirrorArgs(['a b=http://x']), usage(/not a suite name/));
    assert.throws(() => parseMirrorArgs(['http://a', 'http://b']), usage(/two mirrors for every suite/));
    assert.throws(() => parseMirrorArgs(['t=http://a', 't=http://b']), usage(/two mirrors for t\b/));
  });

  test('the flag name given is the one in messages', () => {
    assert.throws(() => parseMirrorArgs(['nope'], '--other'), usage(/^--other: "nope"/));
  });

  test('mirrorUrlProblem accepts http and https archive roots', () => {
    for (const ok of ['http://deb.debian.org/debian', 'https://a.example:8443/x/y/', 'http://127.0.0.1:1']) {
      assert.equal(mirrorUrlProblem(ok), undefined, ok);
    }
  });
});

describe('chooseMirrors: per suite, first layer wins, Debian defaults left to the apt source', () => {
  const SUITES = ['trixie', 'trixie-updates', 'trixie-security'];
  const layer = (choice: MirrorLayer['choice'], from = '--mirror'): MirrorLayer => ({
    choice,
    from,
    code: 'USAGE',
  });

  test('no choice at all leaves every suite to the defaults', () => {
    assert.deepEqual(chooseMirrors(SUITES, [layer({ suites: {} })]), {});
  });

  test('a plain URL serves every suite; SUITE=URL wins over it for its suite', () => {
    assert.deepEqual(
      chooseMirrors(SUITES, [layer({ all: 'http://m', suites: { 'trixie-security': 'http://s' } })]),
      { trixie: 'http://m', 'trixie-updates': 'http://m', 'trixie-security': 'http://s' },
    );
  });

  test('the command line wins over the config file, which wins over the lockfile', () => {
    const lock: MirrorLayer = {
      choice: {
        suites: {
          trixie: 'http://lock/a',
          'trixie-updates': 'http://lock/b',
          'trixie-security': 'http://lock/c',
        },
      },
      from: 'distill.lock.json',
      code: 'LOCKFILE_INVALID',
    };
    const file: MirrorLayer = {
      choice: { suites: { 'trixie-updates': 'http://file/u' } },
      from: 'base.yaml',
      code: 'CONFIG_FILE_INVALID',
    };
    const cli = layer({ suites: { 'trixie-security': 'http://cli/s' } });
    assert.deepEqual(chooseMirrors(SUITES, [cli, file, lock]), {
      trixie: 'http://lock/a',
      'trixie-updates': 'http://file/u',
      'trixie-security': 'http://cli/s',
    });
    // a plain --mirror URL overrides what the lockfile recorded for every suite
    assert.deepEqual(chooseMirrors(SUITES, [layer({ all: 'http://cli', suites: {} }), file, lock]), {
      trixie: 'http://cli',
      'trixie-updates': 'http://cli',
      'trixie-security': 'http://cli',
    });
    // a plain URL in the file covers the suites the command line leaves
    assert.deepEqual(
      chooseMirrors(SUITES, [cli, { ...file, choice: { all: 'http://file', suites: {} } }, lock]),
      { trixie: 'http://file', 'trixie-updates': 'http://file', 'trixie-security': 'http://cli/s' },
    );
  });

  test('a suite not in the build is an error of the layer, naming it and the suites there are', () => {
    assert.throws(
      () => chooseMirrors(SUITES, [layer({ suites: { bookworm: 'http://x' } })]),
      usage(
        /--mirror names the suite bookworm, which this build does not use \(its suites: trixie, trixie-updates, trixie-security\)/,
      ),
    );
    assert.throws(
      () =>
        chooseMirrors(
          ['testing'],
          [
            layer({ suites: {} }),
            {
              choice: { suites: { 'testing-security': 'http://x' } },
              from: 'base.yaml',
              code: 'CONFIG_FILE_INVALID',
            },
          ],
        ),
      (e) =>
        isDistillError(e, 'CONFIG_FILE_INVALID') &&
        /base\.yaml names the suite testing-security/.test(e.message),
    );
  });
});
