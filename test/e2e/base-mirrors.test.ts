import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Lockfile } from '../../src/plan/lockfile.js';
import { type AptRepo, makeAptRepo } from '../helpers/aptrepo.js';
import { PACKAGES } from '../helpers/base-fixture.js';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir, which } from '../helpers/components.js';

/**
 * A base whose suites live on two mirrors, the way Debian's do (deb.debian.org/debian and
 * deb.debian.org/debian-security): the local signed test packages split over two origins on two
 * loopback ports, `testing` on the first and `testing-security` (with base-files and tzdata)
 * only on the second, each signed by its own key. A lockfile made there rebuilds with an empty
 * cache from the mirrors it records, to the golden digest; `lock --check` says 0, 1 or 2.
 */
const GOLDEN = fileURLToPath(new URL('../golden/base-local.json', import.meta.url));
const ON_SECURITY = new Set(['base-files', 'tzdata']);
const SECURITY = 'testing-security';

describe('distill base and lock with a mirror per suite', { concurrency: false }, () => {
  let dir = '';
  let main: AptRepo | undefined;
  let security: AptRepo | undefined;
  let keys: string[] = [];
  let lockFile = '';
  let caches = 0;
  const have = () => ['dpkg-deb', 'apt-ftparchive', 'gpg', 'xz'].every((c) => which(c));
  const needs = (t: Parameters<typeof requireComponents>[0]) =>
    requireComponents(t, 'dpkg-deb', 'apt-ftparchive', 'gpg', 'xz');
  /** A DISTILL_CACHE nobody has used: what a clean runner has. */
  const emptyCache = () => ({ DISTILL_CACHE: join(dir, `cache-${++caches}`), SOURCE_DATE_EPOCH: '' });
  const keyArgs = () => keys.flatMap((k) => ['--keyring', k]);
  const check = (...more: string[]) =>
    distill(['lock', '--check', '-q', '--lock', lockFile, ...keyArgs(), ...more], emptyCache());
  /** `base static --lock FILE` into oci:DIR/OUT with an empty cache, digest in JSON on stdout. */
  const buildFromLock = (file: string, out: string, ...more: string[]) =>
    distill(
      ['base', 'static', '-q', '--lock', file, '--arch', 'amd64', ...keyArgs(), ...more, ...output(out)],
      emptyCache(),
    );
  const output = (out: string) => ['-o', `oci:${join(dir, out)}:x`, '--format', 'json'];

  before(async () => {
    dir = await tempDir('distill-base-mirrors-');
    if (!have()) return;
    main = await makeAptRepo({
      suite: 'testing',
      packages: PACKAGES.filter((p) => !ON_SECURITY.has(p.name)),
    });
    security = await makeAptRepo({
      suite: SECURITY,
      packages: PACKAGES.filter((p) => ON_SECURITY.has(p.name)),
    });
    keys = [join(dir, 'main.asc'), join(dir, 'security.asc')];
    await writeFile(keys[0]!, main.publicKey);
    await writeFile(keys[1]!, security.publicKey);
    lockFile = join(dir, 'distill.lock.json');
  });
  after(async () => {
    await main?.stop();
    await security?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('lock records each suite with its mirror; lock --check and base --lock with empty caches succeed, to the golden digest', async (t) => {
    if (!needs(t)) return;
    let r = await distill(
      [
        'lock',
        'static',
        '-q',
        '--suite',
        'testing',
        '--suite',
        SECURITY,
        '--mirror',
        main!.url,
        '--mirror',
        `${SECURITY}=${security!.url}/`,
        '--arch',
        'amd64',
        ...keyArgs(),
        '-o',
        lockFile,
      ],
      emptyCache(),
    );
    assert.equal(r.code, 0, r.stderr);
    const lock = JSON.parse(await readFile(lockFile, 'utf8')) as Lockfile;
    assert.deepEqual(
      lock.suites.map((s) => [s.name, s.mirror]),
      [
        ['testing', main!.url],
        [SECURITY, security!.url],
      ],
    );
    const suiteOf = Object.fromEntries(lock.architectures.amd64!.map((p) => [p.name, p.suite]));
    assert.equal(suiteOf['base-files'], SECURITY);
    assert.equal(suiteOf.tzdata, SECURITY);
    assert.equal(suiteOf.netbase, 'testing');

    r = await check();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /every locked package is current/);

    const mainSeen = main!.log.length;
    const securitySeen = security!.log.length;
    r = await buildFromLock(lockFile, 'golden');
    assert.equal(r.code, 0, r.stderr);
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { static: string };
    assert.equal(
      JSON.parse(r.stdout).digest,
      golden.static,
      'the same packages as test/golden/base-local.json, from two mirrors',
    );
    // every .deb from the mirror of its suite, and only from there
    const fromMain = main!.log.slice(mainSeen).map((e) => e.url);
    const fromSecurity = security!.log.slice(securitySeen).map((e) => e.url);
    for (const p of lock.architectures.amd64!) {
      const [here, there] = p.suite === SECURITY ? [fromSecurity, fromMain] : [fromMain, fromSecurity];
      assert.ok(here.includes(`/${p.filename}`), `${p.name} from its suite's mirror: ${here.join(' ')}`);
      assert.ok(!there.includes(`/${p.filename}`), `${p.name} not from the other mirror`);
    }
    assert.ok(
      main!.log.every((e) => !e.url.includes(SECURITY)),
      'the first origin was never asked for the security suite',
    );
  });

  test('a lockfile that records the wrong mirror for a suite: exit 2 naming it; --mirror SUITE=URL fixes check and build', async (t) => {
    if (!needs(t)) return;
    // what distill wrote before mirrors were per suite: every suite on the first suite's mirror
    const lock = JSON.parse(await readFile(lockFile, 'utf8')) as Lockfile;
    const stale = join(dir, 'stale.lock.json');
    await writeFile(
      stale,
      JSON.stringify({ ...lock, suites: lock.suites.map((s) => ({ ...s, mirror: main!.url })) }),
    );
    let r = await distill(['lock', '--check', '-q', '--lock', stale, ...keyArgs()], emptyCache());
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`${SECURITY} from ${main!.url}: .*/dists/${SECURITY}/InRelease answered 404`),
    );
    assert.match(r.stderr, new RegExp(`--mirror ${SECURITY}=URL`));
    assert.equal(r.stdout, '', 'no list on stdout when it could not check');

    r = await buildFromLock(stale, 'stale');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${SECURITY} from ${main!.url}: .*/pool/main/.*answered 404`));

    const fix = ['--mirror', `${SECURITY}=${security!.url}`];
    r = await distill(['lock', '--check', '-q', '--lock', stale, ...keyArgs(), ...fix], emptyCache());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    r = await buildFromLock(stale, 'fixed', ...fix);
    assert.equal(r.code, 0, r.stderr);
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { static: string };
    assert.equal(JSON.parse(r.stdout).digest, golden.static);
  });

  test('a --mirror for a suite the build does not have, or a bad URL, is a usage error (exit 2) naming it', async (t) => {
    if (!needs(t)) return;
    for (const [args, message] of [
      [
        ['lock', '--check', '--lock', lockFile, '--mirror', 'trixie=http://x.example'],
        /suite trixie, which this build does not use \(its suites: testing, testing-security\)/,
      ],
      [
        ['base', 'static', '--lock', lockFile, '--mirror', 'bookworm=http://x.example'],
        /suite bookworm, which .*\(its suites: testing, testing-security\)/,
      ],
      [
        ['lock', 'static', '--suite', 'testing', '--mirror', `${SECURITY}=${security!.url}`],
        /suite testing-security, which .*\(its suites: testing\)/,
      ],
      [
        ['base', 'static', '--mirror', 'deb.debian.org/debian'],
        /--mirror: "deb\.debian\.org\/debian" is not a URL/,
      ],
      [
        ['lock', '--check', '--lock', lockFile, '--mirror', `${SECURITY}=ftp://x`],
        /--mirror testing-security=URL: "ftp:\/\/x" uses ftp:/,
      ],
      [['build', dir, '--mirror', 'http://a', '--mirror', 'http://b'], /two mirrors for every suite/],
    ] as const) {
      const r = await distill([...args, '-q', ...keyArgs()], emptyCache());
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  test('lock --check cannot check: a bad lockfile or a signature by an unknown key is exit 2, never 1', async (t) => {
    if (!needs(t)) return;
    const broken = join(dir, 'broken.lock.json');
    await writeFile(broken, '{"lockfileVersion": 1,');
    let r = await distill(['lock', '--check', '-q', '--lock', broken, ...keyArgs()], emptyCache());
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /broken\.lock\.json is not valid JSON/);
    r = await distill(['lock', '--check', '-q', '--lock', join(dir, 'missing.lock.json')], emptyCache());
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot read the lockfile .*missing\.lock\.json/);
    // only the first origin's key: the second suite's InRelease does not verify
    r = await distill(['lock', '--check', '-q', '--lock', lockFile, '--keyring', keys[0]!], emptyCache());
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`dists/${SECURITY}/InRelease`));
    assert.match(r.stderr, /signature/i);
  });

  test('mirror: in base.yaml as a map of suite to URL builds the same image; a bad one names its line', async (t) => {
    if (!needs(t)) return;
    const file = join(dir, 'base.yaml');
    await writeFile(
      file,
      `variant: static\nsuites: [testing, ${SECURITY}]\narch: amd64\nmirror:\n  testing: ${main!.url}\n  ${SECURITY}: ${security!.url}\n`,
    );
    let r = await distill(['base', '-f', file, '-q', ...keyArgs(), ...output('yaml')], emptyCache());
    assert.equal(r.code, 0, r.stderr);
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { static: string };
    assert.equal(JSON.parse(r.stdout).digest, golden.static, 'a fresh resolve gives what the lockfile gives');

    await writeFile(file, `variant: static\nsuites: [testing]\nmirror:\n  testing: not-a-url\n`);
    r = await distill(['base', '-f', file, '-q'], emptyCache());
    assert.equal(r.code, 1);
    assert.match(r.stderr, /base\.yaml:4: mirror\.testing "not-a-url" is not a URL/);
    await writeFile(file, `variant: static\nsuites: [testing]\nmirror:\n  ${SECURITY}: ${security!.url}\n`);
    r = await distill(['base', '-f', file, '-q', ...keyArgs()], emptyCache());
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /base\.yaml names the suite testing-security, which this build does not use \(its suites: testing\)/,
    );
  });

  test('a newer package on the second mirror: lock --check exits 1 listing it, in text and in JSON', async (t) => {
    if (!needs(t)) return;
    await security!.addPackage({
      name: 'tzdata',
      version: '2026b-1',
      arch: 'all',
      files: { 'usr/share/zoneinfo/UTC': 'TZif-new\n' },
    });
    let r = await check();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /1 locked packages have newer versions:\n {2}tzdata \(amd64\): 2026a-1 -> 2026b-1 in testing-security\n/,
    );
    r = await check('--format', 'json');
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      lockfile: lockFile,
      outdated: [{ arch: 'amd64', name: 'tzdata', locked: '2026a-1', available: '2026b-1', suite: SECURITY }],
    });
  });

  test('the second mirror stopped: lock --check exits 2 and base --lock fails, both naming it', async (t) => {
    if (!needs(t)) return;
    const url = security!.url;
    await security!.stop();
    const named = new RegExp(
      `${SECURITY} from ${url.replace(/[.]/g, '\\.')}: could not download ${url.replace(/[.]/g, '\\.')}/`,
    );
    let r = await check();
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, named);
    assert.match(r.stderr, /ECONNREFUSED/);
    r = await check('--format', 'json');
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    r = await buildFromLock(lockFile, 'down');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, named);
    assert.match(r.stderr, new RegExp(`--mirror ${SECURITY}=URL`));
  });
});
