import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspectRootfs } from '../../src/inspect/index.js';
import { parseRpmHeader } from '../../src/inspect/rpm.js';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { assertValidCycloneDx, assertValidSpdx, purlOf } from './helpers.js';
import { exec, imageFromDirs } from './images.js';

type Json = Record<string, unknown>;

const SPECS = [
  { name: 'distill-sbom-a', epoch: '2', version: '1.2.3', release: '4.test', license: 'MIT' },
  { name: 'distill-sbom-b', version: '0.9', release: '1', license: 'GPLv2+ and BSD' },
  { name: 'distill-sbom-c', version: '7.0.1', release: '3.fc40', license: 'Apache-2.0 OR MIT' },
];

/** A spec file rpmbuild makes a noarch package without files from. */
function specFile(s: (typeof SPECS)[number]): string {
  return [
    `Name: ${s.name}`,
    `Version: ${s.version}`,
    `Release: ${s.release}`,
    ...(s.epoch !== undefined ? [`Epoch: ${s.epoch}`] : []),
    'Summary: a package distill sbom tests read back',
    `License: ${s.license}`,
    'BuildArch: noarch',
    '%description',
    'A package distill sbom tests read back.',
    '%files',
    '',
  ].join('\n');
}

test('sbom of an rpm SQLite database made by rpm itself lists what rpm -qa lists', async (t) => {
  if (!requireComponents(t, 'rpm', 'rpmbuild')) return;
  const dir = await tempDir('distill-sbom-rpm-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(
    (await exec('rpm', ['--eval', '%_db_backend'])).stdout.trim(),
    'sqlite',
    "this rpm's database is SQLite",
  );
  const db = join(dir, 'root/var/lib/rpm');
  await exec('rpm', ['--initdb', '--dbpath', db]);
  for (const s of SPECS) {
    const spec = join(dir, `${s.name}.spec`);
    await writeFile(spec, specFile(s));
    await exec('rpmbuild', [
      '-bb',
      '--define',
      `_topdir ${join(dir, 'top')}`,
      '--define',
      `_rpmdir ${join(dir, 'rpms')}`,
      spec,
    ]);
    const rpm = join(dir, 'rpms/noarch', `${s.name}-${s.version}-${s.release}.noarch.rpm`);
    await exec('rpm', ['-i', '--dbpath', db, '--nodeps', '--justdb', rpm]);
  }
  // The journal files rpm leaves beside the database are not part of what is read.
  await rm(join(db, 'rpmdb.sqlite-shm'), { force: true });
  await rm(join(db, 'rpmdb.sqlite-wal'), { force: true });
  await rm(join(db, '.rpm.lock'), { force: true });
  await mkdir(join(dir, 'root/etc'), { recursive: true });
  await writeFile(join(dir, 'root/etc/os-release'), 'ID=fedora\nVERSION_ID=40\n');
  const qa = await exec('rpm', [
    '-qa',
    '--dbpath',
    db,
    '--qf',
    '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH} %{LICENSE}\\n',
  ]);
  const want = qa.stdout.trim().split('\n').sort();
  assert.equal(want.length, SPECS.length);

  const image = await imageFromDirs(join(dir, 'out'), join(dir, 'cache'), [{ dir: join(dir, 'root') }]);
  const spdx = await distill(['sbom', image.ref, '--quiet'], { DISTILL_CACHE: join(dir, 'c') });
  assert.equal(spdx.code, 0, spdx.stderr);
  const doc = await assertValidSpdx(spdx.stdout);
  const rpms = (doc.packages as Json[]).filter((p) => purlOf(p)?.type === 'rpm');
  const got = rpms.map((p) => {
    const purl = purlOf(p)!;
    const [version, release] = [
      purl.version!.slice(0, purl.version!.lastIndexOf('-')),
      purl.version!.slice(purl.version!.lastIndexOf('-') + 1),
    ];
    const declared = (doc.hasExtractedLicensingInfos as Json[] | undefined) ?? [];
    // LicenseRefs back to the names they stand for, to compare with what rpm prints.
    let license = String(p.licenseDeclared);
    for (const l of declared) license = license.replaceAll(String(l.licenseId), String(l.name));
    return `${p.name} ${purl.qualifiers?.epoch ?? '0'}:${version}-${release} ${purl.qualifiers?.arch} ${license.replace(' AND ', ' and ')}`;
  });
  assert.deepEqual(got.sort(), want);
  assert.equal(
    purlOf(rpms.find((p) => p.name === 'distill-sbom-a')!)!.toString(),
    'pkg:rpm/fedora/distill-sbom-a@1.2.3-4.test?arch=noarch&distro=fedora-40&epoch=2',
  );
  assert.match(
    String(rpms[0]!.sourceInfo),
    /built from source package distill-sbom-a-1\.2\.3-4\.test\.src\.rpm/,
  );

  const cdx = await distill(['sbom', image.ref, '--format', 'cyclonedx-json', '--quiet'], {
    DISTILL_CACHE: join(dir, 'c'),
  });
  await assertValidCycloneDx(cdx.stdout);

  // inspect counts them too now.
  const facts = await inspectRootfs(join(dir, 'root'));
  assert.deepEqual(facts.packageDatabases, [
    { type: 'rpm', path: '/var/lib/rpm/rpmdb.sqlite', count: SPECS.length },
  ]);

  // A damaged database: what can be read is listed, the rest is a warning, never a crash.
  const bytes = await readFile(join(db, 'rpmdb.sqlite'));
  await writeFile(join(db, 'rpmdb.sqlite'), bytes.subarray(0, 100));
  const damaged = await inspectRootfs(join(dir, 'root'));
  assert.deepEqual(damaged.packageDatabases, [
    { type: 'rpm', path: '/var/lib/rpm/rpmdb.sqlite', count: null },
  ]);
  assert.match(damaged.warnings.join('\n'), /rpmdb\.sqlite/);
});

test('rpm headers: the tags an SBOM needs, and a header pointing outside itself refused', () => {
  // il=2 dl=12: NAME (string) at 0, EPOCH (int32) at 8.
  const h = Buffer.alloc(8 + 32 + 12);
  h.writeUInt32BE(2, 0);
  h.writeUInt32BE(12, 4);
  [
    [1000, 6, 0, 1],
    [1003, 4, 8, 1],
  ].forEach(([tag, type, offset, count], i) => {
    for (const [j, v] of [tag, type, offset, count].entries()) h.writeUInt32BE(v!, 8 + i * 16 + j * 4);
  });
  h.write('bash\0', 40);
  h.writeUInt32BE(1, 48);
  assert.deepEqual(parseRpmHeader(h), { name: 'bash', epoch: 1 });
  const bad = Buffer.from(h);
  bad.writeUInt32BE(4096, 8 + 8);
  assert.throws(() => parseRpmHeader(bad), /points past the data/);
  assert.throws(() => parseRpmHeader(h.subarray(0, 20)), /exceeds the blob/);
});
