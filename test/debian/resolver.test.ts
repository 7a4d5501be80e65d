import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Paragraph, parseDeb822 } from '../../src/debian/deb822.js';
import { DependencyError, type PackageIndex, packageIndex, resolve } from '../../src/debian/resolver.js';
import { isDistillError } from '../../src/errors.js';
import { IN_CI, realPackagesIndex } from './helpers.js';

type Stanza = Record<string, string>;

function index(suite: string, stanzas: Stanza[]): PackageIndex {
  return packageIndex(
    suite,
    stanzas.map((s) =>
      Paragraph.from(
        Object.entries({ Architecture: 'amd64', Version: '1.0-1', ...s }).map(([k, v]) => [k, v] as const),
      ),
    ),
  );
}

function names(r: ReturnType<typeof resolve>): string[] {
  return r.packages.map((p) => `${p.name}=${p.version}`);
}

function expectUnsat(fn: () => unknown, chain: string[], message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDistillError(err, 'DEPENDENCY_UNSATISFIABLE'), String(err));
    assert.ok(err instanceof DependencyError);
    assert.deepEqual(err.chain, chain);
    assert.match(err.message, message);
    return true;
  });
}

const TRIXIE = index('trixie', [
  { Package: 'nodejs', Version: '20.19.2+dfsg-1', Depends: 'libnode115 (= 20.19.2+dfsg-1), libc6 (>= 2.34)' },
  {
    Package: 'libnode115',
    Version: '20.19.2+dfsg-1',
    Depends: 'libc6 (>= 2.38), libssl3t64 (>= 3.0.0) | libssl3',
  },
  { Package: 'libc6', Version: '2.41-12', Depends: 'libgcc-s1', 'Multi-Arch': 'same' },
  { Package: 'libc6', Version: '2.40-1', Depends: 'libgcc-s1' },
  { Package: 'libc6', Version: '2.36-9', Depends: 'libgcc-s1' },
  { Package: 'libgcc-s1', Version: '14.2.0-19', Depends: 'gcc-14-base (= 14.2.0-19), libc6 (>= 2.35)' },
  { Package: 'gcc-14-base', Version: '14.2.0-19', Architecture: 'amd64' },
  { Package: 'libssl3t64', Version: '3.5.1-1', Depends: 'libc6 (>= 2.34)', Provides: 'libssl3 (= 3.5.1-1)' },
  { Package: 'libc6', Version: '2.41-12', Architecture: 'arm64' },
  { Package: 'armonly', Version: '1', Architecture: 'arm64' },
  { Package: 'tzdata', Version: '2025b-4', Architecture: 'all', Depends: 'debconf (>= 0.5) | debconf-2.0' },
  { Package: 'cdebconf', Version: '0.280', Provides: 'debconf-2.0' },
  { Package: 'another-debconf', Version: '1.0', Provides: 'debconf-2.0' },
  { Package: 'recommender', Version: '1', Recommends: 'nodejs', Suggests: 'tzdata' },
  { Package: 'python3', Version: '3.13.3-1', 'Multi-Arch': 'allowed' },
  { Package: 'perl', Version: '5.40.1-3' },
  { Package: 'needs-python', Version: '1', Depends: 'python3:any (>= 3.11)' },
  { Package: 'needs-perl-any', Version: '1', Depends: 'perl:any' },
  { Package: 'nodejs-extra', Version: '1', Depends: 'libfoo (>= 2)' },
  { Package: 'libfoo', Version: '1.4-2' },
  { Package: 'cycle-a', Version: '1', Depends: 'cycle-b' },
  { Package: 'cycle-b', Version: '1', 'Pre-Depends': 'cycle-a' },
  { Package: 'archdep', Version: '1', Architecture: 'all', Depends: 'armonly [arm64], libc6 [amd64]' },
  { Package: 'vprov-user', Version: '1', Depends: 'vfoo (>= 2)' },
  { Package: 'vfoo-old', Version: '1', Provides: 'vfoo (= 1)' },
  { Package: 'vfoo-new', Version: '1', Provides: 'vfoo (= 2.5)' },
  { Package: 'unversioned-provider', Version: '1', Provides: 'vbar' },
  { Package: 'vbar-user', Version: '1', Depends: 'vbar (>= 1)' },
  { Package: 'conflicter', Version: '1', Conflicts: 'libfoo' },
]);

const UPDATES = index('trixie-updates', [
  { Package: 'libc6', Version: '2.41-12+deb13u1', Depends: 'libgcc-s1' },
  {
    Package: 'tzdata',
    Version: '2025b-4+deb13u1',
    Architecture: 'all',
    Depends: 'debconf (>= 0.5) | debconf-2.0',
  },
]);

test('resolver: closure over Depends with newest version across suites, sorted, with reasons', () => {
  const r = resolve({ indexes: [TRIXIE, UPDATES], arch: 'amd64', requests: ['nodejs'] });
  assert.deepEqual(names(r), [
    'gcc-14-base=14.2.0-19',
    'libc6=2.41-12+deb13u1',
    'libgcc-s1=14.2.0-19',
    'libnode115=20.19.2+dfsg-1',
    'libssl3t64=3.5.1-1',
    'nodejs=20.19.2+dfsg-1',
  ]);
  const byName = new Map(r.packages.map((p) => [p.name, p]));
  assert.equal(byName.get('libc6')!.suite, 'trixie-updates');
  assert.equal(byName.get('libc6')!.architecture, 'amd64');
  assert.deepEqual(byName.get('nodejs')!.chain, ['nodejs']);
  assert.equal(byName.get('nodejs')!.reason, 'requested');
  assert.deepEqual(byName.get('libc6')!.chain, ['nodejs', 'libc6']);
  assert.deepEqual(byName.get('gcc-14-base')!.chain, ['nodejs', 'libc6', 'libgcc-s1', 'gcc-14-base']);
  assert.equal(byName.get('libssl3t64')!.reason, 'libnode115 Depends: libssl3t64 (>= 3.0.0) | libssl3');
  assert.equal(byName.get('nodejs')!.package.filename, undefined);
  assert.deepEqual(r.warnings, []);
});

test('resolver: pinned requests: name=version and name (op version)', () => {
  const r = resolve({ indexes: [TRIXIE, UPDATES], arch: 'amd64', requests: ['libc6=2.40-1'] });
  assert.deepEqual(names(r), ['gcc-14-base=14.2.0-19', 'libc6=2.40-1', 'libgcc-s1=14.2.0-19']);
  const r2 = resolve({ indexes: [TRIXIE, UPDATES], arch: 'amd64', requests: ['libc6 (<< 2.41)'] });
  assert.equal(r2.packages.find((p) => p.name === 'libc6')!.version, '2.40-1');
  // a dependency needing a newer libc6 than the pinned one cannot pick a second version
  expectUnsat(
    () => resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['libc6=2.36-9', 'nodejs'] }),
    ['nodejs', 'libnode115', 'libc6 (>= 2.38)'],
    /-> none in trixie \(libc6 2\.36-9 is already selected \(requested\)\)$/,
  );
});

test('resolver: unsatisfiable version explains the chain with the available versions', () => {
  expectUnsat(
    () => resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['nodejs-extra'] }),
    ['nodejs-extra', 'libfoo (>= 2)'],
    /^nodejs-extra -> libfoo \(>= 2\) -> none in trixie \(available: 1\.4-2\)$/,
  );
  expectUnsat(
    () => resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['no-such-package'] }),
    ['no-such-package'],
    /none in trixie \(no package or provider of that name\)/,
  );
  expectUnsat(
    () => resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['armonly'] }),
    ['armonly'],
    /not built for amd64; only for arm64/,
  );
});

test('resolver: Recommends and Suggests are not followed', () => {
  const r = resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['recommender'] });
  assert.deepEqual(names(r), ['recommender=1']);
});

test('resolver: virtual packages: first alternative, real before providers, providers in name order', () => {
  // debconf does not exist: debconf-2.0 is provided by another-debconf and cdebconf -> name order
  const r = resolve({ indexes: [TRIXIE, UPDATES], arch: 'amd64', requests: ['tzdata'] });
  assert.deepEqual(names(r), ['another-debconf=1.0', 'tzdata=2025b-4+deb13u1']);
  // an already selected provider is preferred
  const r2 = resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['cdebconf', 'tzdata'] });
  assert.deepEqual(names(r2), ['cdebconf=0.280', 'tzdata=2025b-4']);
  // requesting a virtual name picks a provider
  const r3 = resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['debconf-2.0'] });
  assert.deepEqual(names(r3), ['another-debconf=1.0']);
});

test('resolver: versioned dependencies on virtual names need a versioned Provides that satisfies', () => {
  const r = resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['vprov-user'] });
  assert.deepEqual(names(r), ['vfoo-new=1', 'vprov-user=1']);
  expectUnsat(
    () => resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['vbar-user'] }),
    ['vbar-user', 'vbar (>= 1)'],
    /virtual; providers: unversioned-provider/,
  );
  // libssl3 (= 3.5.1-1) from libssl3t64 satisfies a versioned libssl3 request
  assert.deepEqual(names(resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['libssl3 (>= 3)'] })), [
    'gcc-14-base=14.2.0-19',
    'libc6=2.41-12',
    'libgcc-s1=14.2.0-19',
    'libssl3t64=3.5.1-1',
  ]);
});

test('resolver: :any needs Multi-Arch: allowed', () => {
  assert.deepEqual(names(resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['needs-python'] })), [
    'needs-python=1',
    'python3=3.13.3-1',
  ]);
  expectUnsat(
    () => resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['needs-perl-any'] }),
    ['needs-perl-any', 'perl:any'],
    /perl:any needs Multi-Arch: allowed/,
  );
});

test('resolver: dependency cycles terminate', () => {
  assert.deepEqual(names(resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['cycle-a'] })), [
    'cycle-a=1',
    'cycle-b=1',
  ]);
});

test('resolver: architecture lists in relations and per-arch eligibility', () => {
  assert.deepEqual(names(resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['archdep'] })), [
    'archdep=1',
    'gcc-14-base=14.2.0-19',
    'libc6=2.41-12',
    'libgcc-s1=14.2.0-19',
  ]);
  // on arm64 only the arm64 libc6 and armonly are eligible; arm64 has no libgcc etc. here
  assert.deepEqual(names(resolve({ indexes: [TRIXIE], arch: 'arm64', requests: ['archdep'] })), [
    'archdep=1',
    'armonly=1',
  ]);
  assert.equal(
    resolve({ indexes: [TRIXIE], arch: 'arm64', requests: ['libc6'] }).packages[0]!.architecture,
    'arm64',
  );
});

test('resolver: alreadyInstalled names are skipped and satisfy relations', () => {
  const r = resolve({
    indexes: [TRIXIE, UPDATES],
    arch: 'amd64',
    requests: ['nodejs', 'libc6'],
    alreadyInstalled: ['libc6', 'libgcc-s1', 'gcc-14-base', 'libssl3t64'],
  });
  assert.deepEqual(names(r), ['libnode115=20.19.2+dfsg-1', 'nodejs=20.19.2+dfsg-1']);
  assert.deepEqual(r.skipped, ['libc6']);
  // what an installed package provides counts too
  const r2 = resolve({
    indexes: [TRIXIE],
    arch: 'amd64',
    requests: ['tzdata'],
    alreadyInstalled: ['cdebconf'],
  });
  assert.deepEqual(names(r2), ['tzdata=2025b-4']);
});

test('resolver: Conflicts between selected packages are reported as warnings', () => {
  const r = resolve({ indexes: [TRIXIE], arch: 'amd64', requests: ['conflicter', 'libfoo'] });
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /conflicter 1 Conflicts: libfoo, but libfoo 1\.4-2/);
});

test('resolver: the result does not depend on the order of stanzas within an index', () => {
  const shuffled = index(
    'trixie',
    [...TRIXIE.packages].reverse().map((p) => p.paragraph.toObject()),
  );
  const a = resolve({ indexes: [TRIXIE, UPDATES], arch: 'amd64', requests: ['nodejs', 'tzdata'] });
  const b = resolve({ indexes: [shuffled, UPDATES], arch: 'amd64', requests: ['nodejs', 'tzdata'] });
  assert.deepEqual(names(a), names(b));
});

test('resolver: invalid stanzas are rejected when the index is built', () => {
  assert.throws(
    () => index('x', [{ Package: 'BadName' }]),
    (e: unknown) => isDistillError(e, 'DEB822_INVALID'),
  );
  assert.throws(
    () => index('x', [{ Package: 'ok', Version: 'v1' }]),
    (e: unknown) => isDistillError(e, 'VERSION_INVALID'),
  );
  assert.throws(() => index('x', [{ Package: 'ok', SHA256: 'zz' }]), /SHA256/);
  assert.throws(() => index('x', [{ Package: 'ok', 'Multi-Arch': 'sometimes' }]), /Multi-Arch/);
});

test('resolver: resolves the distroless nodejs package set from a real Packages index', (t) => {
  const idx = realPackagesIndex();
  if ('reason' in idx) {
    if (IN_CI) throw new Error(idx.reason);
    t.skip(idx.reason);
    return;
  }
  const t0 = Date.now();
  const main = packageIndex('bookworm', parseDeb822(idx.text));
  const t1 = Date.now();
  const requests = [
    'base-files',
    'netbase',
    'tzdata',
    'media-types',
    'libc6',
    'libssl3',
    'zlib1g',
    'libstdc++6',
  ];
  const r = resolve({ indexes: [main], arch: 'amd64', requests });
  const t2 = Date.now();
  t.diagnostic(
    `index of ${main.packages.length} packages built in ${t1 - t0} ms; resolved ${r.packages.length} in ${t2 - t1} ms: ${names(r).join(' ')}`,
  );
  const got = new Set(r.packages.map((p) => p.name));
  for (const n of [...requests, 'libgcc-s1', 'gcc-12-base']) assert.ok(got.has(n), `missing ${n}`);
  // tzdata's debconf dependency is satisfied by some debconf provider
  assert.ok(got.has('debconf') || got.has('cdebconf'));
  for (const p of r.packages) {
    assert.ok(p.package.filename?.startsWith('pool/'), p.name);
    assert.match(p.package.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok(p.architecture === 'amd64' || p.architecture === 'all');
  }
  // deterministic
  assert.deepEqual(names(resolve({ indexes: [main], arch: 'amd64', requests })), names(r));
});
