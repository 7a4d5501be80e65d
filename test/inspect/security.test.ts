import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commandCompare, commandInspect, type InspectContext } from '../../src/cli/inspect.js';
import { Paragraph } from '../../src/debian/deb822.js';
import { BinaryPackage } from '../../src/debian/resolver.js';
import { isDistillError } from '../../src/errors.js';
import { checkDeny, parseDenyRules } from '../../src/inspect/deny.js';
import {
  checkSecurity,
  FACTS_JSON_SCHEMA,
  type Facts,
  inspectImage,
  type SecurityIndex,
  securitySource,
  withSecurity,
} from '../../src/inspect/index.js';
import { compareRows } from '../../src/inspect/rows.js';
import { writeArtifact } from '../../src/media/index.js';
import type { Image } from '../../src/oci/image.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import { type AptRepo, type FakePackage, generateTestKey, makeAptRepo } from '../helpers/aptrepo.js';
import { freePort, requireComponents, tempDir, which } from '../helpers/components.js';
import { dir, file, imageOf, schemaProblems } from './helpers.js';
import { shellImage } from './samples.js';

const TOOLS = ['dpkg-deb', 'apt-ftparchive', 'gpg', 'xz'] as const;
const SUITE = 'trixie-security';

/** The security suite: what each package tests is in its comment. */
const SECURITY_PACKAGES: FakePackage[] = [
  // newer than installed 3.5.1-1: listed
  { name: 'libssl3t64', version: '3.5.1-1+deb13u1' },
  // the same as installed: not listed
  { name: 'zlib1g', version: '1:1.3.dfsg+really1.3.1-1+b1' },
  // older than installed 2.41-12+deb13u1: not listed
  { name: 'libc6', version: '2.41-12' },
  // epoch 1 beats installed 2.0-1 (epoch 0): listed
  { name: 'libepoch1', version: '1:1.0-1' },
  // 1.0~rc1 sorts before installed 1.0: not listed
  { name: 'libtilde1', version: '1.0~rc1-1' },
  // 2.0 sorts after installed 2.0~rc2: listed
  { name: 'librc1', version: '2.0-1' },
  // arch:all, newer than installed: listed (found in binary-amd64)
  { name: 'tzdata', version: '2025b-0+deb13u1', arch: 'all' },
  // newer, but only for arm64 while the image is amd64: not listed
  { name: 'libarm1', version: '9.0-1', arch: 'arm64' },
];

const EXPECTED = [
  { name: 'libepoch1', architecture: 'amd64', installed: '2.0-1', available: '1:1.0-1', suite: SUITE },
  { name: 'librc1', architecture: 'amd64', installed: '2.0~rc2-1', available: '2.0-1', suite: SUITE },
  {
    name: 'libssl3t64',
    architecture: 'amd64',
    installed: '3.5.1-1',
    available: '3.5.1-1+deb13u1',
    suite: SUITE,
  },
  {
    name: 'tzdata',
    architecture: 'all',
    installed: '2025a-0+deb13u1',
    available: '2025b-0+deb13u1',
    suite: SUITE,
  },
];

function statusD(name: string, version: string, arch = 'amd64'): ReturnType<typeof file> {
  return file(
    `var/lib/dpkg/status.d/${name}`,
    `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\n`,
  );
}

/** A distroless-like trixie image (status.d, VERSION_CODENAME) with the packages above installed. */
function trixieImage(): Promise<Image> {
  return imageOf({
    layers: [
      [
        file(
          'etc/os-release',
          'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_ID="13"\nVERSION_CODENAME=trixie\nID=debian\n',
        ),
        dir('var/lib/dpkg/status.d/'),
        statusD('libssl3t64', '3.5.1-1'),
        statusD('zlib1g', '1:1.3.dfsg+really1.3.1-1+b1'),
        statusD('libc6', '2.41-12+deb13u1'),
        statusD('libepoch1', '2.0-1'),
        statusD('libtilde1', '1.0-1'),
        statusD('librc1', '2.0~rc2-1'),
        statusD('tzdata', '2025a-0+deb13u1', 'all'),
        statusD('libarm1', '1.0-1'),
        statusD('base-files', '13.8+deb13u1'),
        file(
          'var/lib/dpkg/status.d/broken',
          'Package: broken\nVersion: not a version!\nArchitecture: amd64\n',
        ),
      ],
    ],
  });
}

/** A classic Debian image: /var/lib/dpkg/status without Architecture, os-release without a codename. */
function classicImage(): Promise<Image> {
  const para = (name: string, version: string) =>
    `Package: ${name}\nStatus: install ok installed\nVersion: ${version}\n`;
  return imageOf({
    layers: [
      [
        file('etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_ID="13"\nID=debian\n'),
        file(
          'var/lib/dpkg/status',
          [
            para('libssl3t64', '3.5.1-1'),
            para('libc6', '2.41-12+deb13u1'),
            para('tzdata', '2025a-0+deb13u1'),
          ].join('\n'),
        ),
      ],
    ],
  });
}

/** A source that must not be asked. */
const UNUSED: SecurityIndex = {
  packagesNamed: () => Promise.reject(new Error('the security archive was asked')),
};

test('an image that is not Debian is not checked, with the reason, and the archive is not asked', async () => {
  const facts = await withSecurity(await inspectImage(await shellImage()), UNUSED);
  assert.equal(facts.security?.checked, false);
  assert.match(facts.security?.reason ?? '', /not Debian \(os-release ID "alpine"\)/);
  assert.equal(facts.security?.suite, undefined);
  assert.deepEqual(facts.securityUpdates, []);
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, facts), []);
  const row = compareRows([facts]).find((r) => r.key === 'securityUpdates');
  assert.match(row?.values[0] ?? '', /^not checked: the image is not Debian/);
  // --deny security-updates fails closed
  const v = checkDeny(facts, parseDenyRules('security-updates'), 'alpine');
  assert.equal(v.length, 1);
  assert.match(v[0]!.what[0]!, /was not checked: the image is not Debian/);
});

test('a Debian image whose release cannot be told is not checked', async () => {
  const image = await imageOf({
    layers: [[file('etc/os-release', 'ID=debian\nPRETTY_NAME="Debian"\n'), statusD('libc6', '2.41-12')]],
  });
  const check = await checkSecurity(await inspectImage(image), UNUSED);
  assert.equal(check.security.checked, false);
  assert.match(check.security.reason ?? '', /Debian release is unknown .*add VERSION_CODENAME/);
  const old = await imageOf({
    layers: [
      [
        file('etc/os-release', 'ID=debian\nVERSION_ID="10"\nVERSION_CODENAME=buster\n'),
        statusD('libc6', '2.28-10'),
      ],
    ],
  });
  const oldCheck = await checkSecurity(await inspectImage(old), UNUSED);
  assert.equal(oldCheck.security.checked, false);
  assert.match(oldCheck.security.reason ?? '', /buster is end-of-life/);
});

/** A SecurityIndex holding `stanzas` ("name version arch"), recording the architectures asked. */
function fakeIndex(stanzas: string[], asked: string[]): SecurityIndex {
  return {
    async packagesNamed(suite, arch, names) {
      asked.push(`${suite} ${arch}`);
      const packages = stanzas
        .map((s) => s.split(' ') as [string, string, string])
        .filter(([name, , a]) => names.has(name) && (a === arch || a === 'all'))
        .map(
          ([name, version, a]) =>
            new BinaryPackage(
              new Paragraph([
                { name: 'Package', value: name, line: 0 },
                { name: 'Version', value: version, line: 0 },
                { name: 'Architecture', value: a, line: 0 },
              ]),
              suite,
            ),
        );
      return { suite, packages };
    },
  };
}

test('multiarch: each architecture is looked up in its own index; no platform: the most common one', async () => {
  const image = await imageOf({
    architecture: 'arm64',
    layers: [
      [
        file('etc/os-release', 'ID=debian\nVERSION_ID="12"\n'),
        statusD('libc6', '2.36-9+deb12u9', 'arm64'),
        file(
          'var/lib/dpkg/status.d/libc6-armhf',
          'Package: libc6\nVersion: 2.36-9+deb12u8\nArchitecture: armhf\n',
        ),
        statusD('bash', '5.2.15-2+b7', 'arm64'),
      ],
    ],
  });
  const facts = await inspectImage(image);
  const stanzas = ['libc6 2.36-9+deb12u10 arm64', 'libc6 2.36-9+deb12u10 armhf', 'bash 5.2.15-2+b8 amd64'];
  const asked: string[] = [];
  const check = await checkSecurity(facts, fakeIndex(stanzas, asked));
  assert.deepEqual(asked.sort(), ['bookworm-security arm64', 'bookworm-security armhf']);
  assert.deepEqual(
    check.securityUpdates.map((u) => `${u.name}:${u.architecture} ${u.installed} ${u.available}`),
    ['libc6:arm64 2.36-9+deb12u9 2.36-9+deb12u10', 'libc6:armhf 2.36-9+deb12u8 2.36-9+deb12u10'],
  );
  // a root filesystem has no platform: the architecture most packages list is the image's
  const rootfs: Facts = { ...facts, source: { ...facts.source, platform: null } };
  const asked2: string[] = [];
  await checkSecurity(rootfs, fakeIndex(stanzas, asked2));
  assert.deepEqual(asked2.sort(), ['bookworm-security arm64', 'bookworm-security armhf']);
  const none: Facts = {
    ...rootfs,
    packages: rootfs.packages.map(({ architecture: _a, ...p }) => p),
  };
  const unknown = await checkSecurity(none, UNUSED);
  assert.match(unknown.security.reason ?? '', /architecture is unknown/);
});

test('facts without security are "not checked" and --deny security-updates asks for --security', async () => {
  const facts = await inspectImage(await trixieImage());
  assert.equal(facts.security, undefined);
  assert.equal(facts.os.codename, 'trixie');
  assert.equal(facts.packages.find((p) => p.name === 'tzdata')?.architecture, 'all');
  assert.equal(compareRows([facts]).find((r) => r.key === 'securityUpdates')?.values[0], 'not checked');
  const v = checkDeny(facts, parseDenyRules('security-updates'), 'img');
  assert.match(v[0]?.what[0] ?? '', /run with --security/);
});

describe("Debian's security archive, served by a signed test repository", { concurrency: false }, () => {
  let repo: AptRepo;
  let available = true;
  const dirs: string[] = [];
  const newStore = async () => {
    const d = await tempDir('distill-security-');
    dirs.push(d);
    return new Store(d);
  };

  before(async () => {
    available = TOOLS.every((t) => which(t) !== undefined);
    if (available) repo = await makeAptRepo({ suite: SUITE, packages: SECURITY_PACKAGES });
  });
  after(async () => {
    await repo?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const source = async (extra: { keys?: string[] } = {}) =>
    securitySource({
      store: await newStore(),
      mirror: repo.url,
      keys: [repo.publicKey],
      retries: 0,
      ...extra,
    });

  test('lists the packages the suite has newer (epoch, tilde, arch:all), not the equal or older ones', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const facts: Facts = await withSecurity(await inspectImage(await trixieImage()), await source());
    assert.deepEqual(facts.security, { checked: true, suite: SUITE });
    assert.deepEqual(facts.securityUpdates, EXPECTED);
    assert.ok(
      facts.warnings.some((w) => /1 deb packages have no valid version \(broken\).*trixie-security/.test(w)),
      facts.warnings.join('\n'),
    );
    assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, facts), []);
    // only the image's own architecture was read, and fields follow the schema's order
    const indexes = repo.log.filter((l) => l.url.includes('/binary-')).map((l) => l.url);
    assert.ok(indexes.length > 0 && indexes.every((u) => u.includes('/binary-amd64/')), indexes.join('\n'));
    assert.deepEqual(Object.keys(facts).slice(-3), ['security', 'securityUpdates', 'warnings']);
    assert.equal(compareRows([facts]).find((r) => r.key === 'securityUpdates')?.values[0], '4');
    const v = checkDeny(facts, parseDenyRules('security-updates'), 'img');
    assert.deepEqual(v[0]?.what, [
      'libepoch1:amd64 2.0-1 < 1:1.0-1 (trixie-security)',
      'librc1:amd64 2.0~rc2-1 < 2.0-1 (trixie-security)',
      'libssl3t64:amd64 3.5.1-1 < 3.5.1-1+deb13u1 (trixie-security)',
      'tzdata:all 2025a-0+deb13u1 < 2025b-0+deb13u1 (trixie-security)',
    ]);
  });

  test('a dpkg status without Architecture and an os-release without VERSION_CODENAME (VERSION_ID 13)', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const facts = await withSecurity(await inspectImage(await classicImage()), await source());
    assert.deepEqual(facts.security, { checked: true, suite: SUITE });
    // the image's platform (linux/amd64) gives the architecture; tzdata is found as arch:all
    assert.deepEqual(
      facts.securityUpdates?.map((u) => `${u.name} ${u.architecture} ${u.available}`),
      ['libssl3t64 amd64 3.5.1-1+deb13u1', 'tzdata all 2025b-0+deb13u1'],
    );
  });

  test('a suite signed by a key that is not trusted: not checked, the verification error as reason', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const facts = await withSecurity(
      await inspectImage(await trixieImage()),
      await source({ keys: [await generateTestKey()] }),
    );
    assert.equal(facts.security?.checked, false);
    assert.equal(facts.security?.suite, SUITE);
    assert.match(
      facts.security?.reason ?? '',
      /^trixie-security could not be read: .*no signature by a trusted key/,
    );
    assert.deepEqual(facts.securityUpdates, []);
    assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, facts), []);
  });

  test('an archive that cannot be reached: not checked, the network error as reason', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const port = await freePort();
    const src = await securitySource({
      store: await newStore(),
      mirror: `http://127.0.0.1:${port}`,
      keys: [repo.publicKey],
      retries: 0,
    });
    const check = await checkSecurity(await inspectImage(await trixieImage()), src);
    assert.equal(check.security.checked, false);
    assert.match(
      check.security.reason ?? '',
      /could not download http:\/\/127\.0\.0\.1:\d+\/dists\/trixie-security\/InRelease/,
    );
  });

  test('distill inspect --security and --deny security-updates', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const d = await newStore();
    const ref = `oci:${join(d.root, 'img')}`;
    await writeArtifact(parseImageRef(ref), await trixieImage());
    const steps: string[] = [];
    const ctx: InspectContext = {
      store: new Store(join(d.root, 'cache')),
      reporter: { step: (m) => steps.push(m), done() {} },
      security: { keys: [repo.publicKey], retries: 0 },
    };
    const json = await commandInspect(
      [ref],
      { format: 'json', security: true, securityMirror: repo.url },
      ctx,
    );
    assert.equal(json.exitCode, 0);
    const facts = JSON.parse(json.text);
    assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, facts), []);
    assert.deepEqual(facts.securityUpdates, EXPECTED);
    assert.ok(steps.some((s) => /security archive/.test(s)));
    const text = await commandInspect([ref], { security: true, securityMirror: repo.url }, ctx);
    assert.match(text.text, /Packages with security updates +4/);
    assert.match(text.text, /Security updates:\n.*\n +libepoch1 +amd64 +2\.0-1 +1:1\.0-1 +trixie-security/);
    // --deny security-updates implies the check
    const denied = await commandInspect([ref], { deny: 'security-updates', securityMirror: repo.url }, ctx);
    assert.equal(denied.exitCode, 3);
    assert.match(denied.denied, /breaks --deny security-updates:\n {2}libepoch1:amd64/);
    const both = await commandCompare([ref, ref], { security: true, securityMirror: repo.url }, ctx);
    assert.match(both.text, /Packages with security updates +4 +4/);
    await assert.rejects(
      commandInspect([ref], { securityMirror: repo.url }, ctx),
      (err) => isDistillError(err, 'USAGE') && /add --security/.test(err.message),
    );
    await assert.rejects(
      commandInspect([ref], { security: true, securityMirror: 'deb.debian.org' }, ctx),
      (err) => isDistillError(err, 'USAGE') && /http or https URL/.test(err.message),
    );
    await assert.rejects(
      commandInspect([ref], { security: true, files: '/' }, ctx),
      (err) => isDistillError(err, 'USAGE') && /run them separately/.test(err.message),
    );
  });

  // Last: it changes the repository for good.
  test('an InRelease whose signed text was changed: not checked, the bad signature as reason', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    await repo.tamperInRelease();
    const check = await checkSecurity(await inspectImage(await trixieImage()), await source());
    assert.equal(check.security.checked, false);
    assert.match(check.security.reason ?? '', /^trixie-security could not be read: .*bad signature/);
    assert.deepEqual(check.securityUpdates, []);
  });
});
