import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { type Lockfile, validateLockfile } from '../../src/plan/lockfile.js';

/** distill.lock.json validation: what a build from a lockfile relies on is checked first. */
function lockfile(): Lockfile {
  return {
    lockfileVersion: 1,
    request: { variant: 'static', packages: [], debug: false },
    suites: [
      {
        name: 'trixie',
        codename: 'trixie',
        date: 'Sat, 14 Nov 2026 09:00:00 UTC',
        mirror: 'http://deb.debian.org/debian',
      },
      {
        name: 'trixie-security',
        codename: 'trixie-security',
        date: 'Sat, 14 Nov 2026 09:00:00 UTC',
        mirror: 'http://deb.debian.org/debian-security',
      },
    ],
    architectures: {
      amd64: [
        {
          name: 'libssl3t64',
          version: '3.5.10-1~deb13u1',
          architecture: 'amd64',
          size: 2_000_000,
          sha256: 'a'.repeat(64),
          filename: 'pool/updates/main/o/openssl/libssl3t64_3.5.10-1~deb13u1_amd64.deb',
          suite: 'trixie-security',
          role: 'base',
        },
      ],
    },
  };
}

const invalid = (field: RegExp) => (e: unknown) => {
  assert.ok(isDistillError(e, 'LOCKFILE_INVALID'), String(e));
  assert.match((e as Error).message, field);
  assert.match((e as Error).message, /^x\.lock\.json: /);
  return true;
};

test('a lockfile with a mirror per suite is valid as written', () => {
  const l = lockfile();
  assert.equal(
    validateLockfile(JSON.parse(JSON.stringify(l)), 'x.lock.json').suites[1]!.mirror,
    l.suites[1]!.mirror,
  );
});

test("a package whose suite is not one of the lockfile's suites is refused (it chooses the mirror)", () => {
  const l = lockfile();
  l.architectures.amd64![0]!.suite = 'bookworm-security';
  assert.throws(
    () => validateLockfile(l, 'x.lock.json'),
    invalid(
      /"architectures\.amd64\[0\]\.suite" is "bookworm-security", not one of the lockfile's suites \(trixie, trixie-security\)/,
    ),
  );
});

test('a suite mirror that is not an http(s) URL is refused, naming the field', () => {
  for (const [mirror, problem] of [
    ['deb.debian.org/debian', /is not a URL/],
    ['ftp://deb.debian.org/debian', /use http: or https:/],
    ['http://deb.debian.org/debian?x=1', /query/],
  ] as const) {
    const l = lockfile();
    l.suites[1]!.mirror = mirror;
    assert.throws(() => validateLockfile(l, 'x.lock.json'), invalid(/"suites\[1\]\.mirror"/), mirror);
    assert.throws(() => validateLockfile(l, 'x.lock.json'), invalid(problem), mirror);
  }
  const l = lockfile();
  delete (l.suites[0] as Partial<Lockfile['suites'][0]>).mirror;
  assert.throws(() => validateLockfile(l, 'x.lock.json'), invalid(/"suites\[0\]\.mirror" must be a string/));
});

test("a suite's InRelease digest is optional (older locks) and, when there, 64 hex digits", () => {
  const l = lockfile();
  assert.equal(
    validateLockfile(JSON.parse(JSON.stringify(l)), 'x.lock.json').suites[0]!.inReleaseSha256,
    undefined,
  );
  l.suites[0]!.inReleaseSha256 = 'b'.repeat(64);
  assert.equal(
    validateLockfile(JSON.parse(JSON.stringify(l)), 'x.lock.json').suites[0]!.inReleaseSha256,
    'b'.repeat(64),
  );
  l.suites[1]!.inReleaseSha256 = 'sha256:abc';
  assert.throws(
    () => validateLockfile(JSON.parse(JSON.stringify(l)), 'x.lock.json'),
    invalid(/suites\[1\]\.inReleaseSha256/),
  );
});
