import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { declaredLicense, dep5Licenses, npmLicense } from '../../src/sbom/license.js';
import type { Sbom, SbomComponent } from '../../src/sbom/model.js';
import { debPurl, npmPurl, rpmPurl } from '../../src/sbom/purl.js';
import { spdxDownloadLocation } from '../../src/sbom/spdx.js';
import { formatSbom, parseSbomFormat, sbomPieces } from '../../src/sbom/write.js';
import { assertValidCycloneDx, assertValidSpdx } from './helpers.js';
import { component, sample } from './samples.js';

test('sbom purls: deb keeps the epoch in the version, npm scopes are encoded, rpm epoch is a qualifier', () => {
  assert.equal(
    debPurl('Bsdutils', '1:2.41-5', { arch: 'amd64', distro: 'debian-13' }),
    'pkg:deb/debian/bsdutils@1:2.41-5?arch=amd64&distro=debian-13',
  );
  assert.equal(npmPurl('@types/node', '24.0.0'), 'pkg:npm/%40types/node@24.0.0');
  assert.equal(
    rpmPurl('bash', { epoch: '1', version: '5.1', release: '2.el9' }, { arch: 'x86_64', vendor: 'redhat' }),
    'pkg:rpm/redhat/bash@5.1-2.el9?arch=x86_64&epoch=1',
  );
});

test('sbom licences: SPDX expressions as declared, other names as LicenseRefs, never mapped', () => {
  assert.deepEqual(declaredLicense('(MIT OR Apache-2.0)'), {
    expression: '(MIT OR Apache-2.0)',
    declared: '(MIT OR Apache-2.0)',
    refs: {},
  });
  const gpl = declaredLicense('GPL-2+ or Artistic');
  assert.equal(gpl?.expression, 'LicenseRef-GPL-2-plus OR LicenseRef-Artistic');
  assert.deepEqual(gpl?.refs, { 'LicenseRef-GPL-2-plus': 'GPL-2+', 'LicenseRef-Artistic': 'Artistic' });
  assert.equal(declaredLicense(''), null);
  assert.equal(npmLicense({ license: 'UNLICENSED' }), null);
  assert.equal(
    npmLicense({ licenses: [{ type: 'MIT' }, { type: 'Apache-2.0' }] })?.expression,
    'MIT OR Apache-2.0',
  );
  const dep5 = dep5Licenses(
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: x\nLicense: GPL-2+\n\nFiles: lib/*\nCopyright: y\nLicense: MIT\n Permission is granted...\n',
  );
  assert.equal(dep5?.expression, 'LicenseRef-GPL-2-plus AND MIT');
  assert.equal(
    dep5Licenses('This is the Debian prepackaged version of foo.\n\nCopyright: me\n'),
    null,
    'not machine-readable: nothing guessed',
  );
});

test('sbom writers: SPDX 2.3 and CycloneDX 1.6 documents, byte-identical for the same content', async () => {
  const a = sample();
  const b = sample();
  b.components.reverse();
  for (const format of ['spdx-json', 'cyclonedx-json'] as const) {
    assert.equal(
      formatSbom(a, format),
      formatSbom(b, format),
      `${format}: the order components were found in does not matter`,
    );
  }
  const cdx = formatSbom(a, 'cyclonedx-json');
  await assertValidCycloneDx(cdx);
  const c = JSON.parse(cdx);
  assert.equal(c.specVersion, '1.6');
  assert.match(
    c.serialNumber,
    /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.equal(c.metadata.component.name, 'hello');
  assert.equal(c.metadata.timestamp, undefined);
  assert.deepEqual(c.dependencies.find((d: { ref: string }) => d.ref === 'pkg:npm/hello@1.0.0').dependsOn, [
    'pkg:npm/%40scope/express@5.1.0',
  ]);

  const spdx = JSON.parse(formatSbom(a, 'spdx-json'));
  assert.equal(spdx.spdxVersion, 'SPDX-2.3');
  assert.equal(spdx.creationInfo.created, '1970-01-01T00:00:00Z');
  const libc = spdx.packages.find((p: { name: string }) => p.name === 'libc6');
  assert.equal(libc.licenseDeclared, '(LGPL-2.1+ OR MIT) AND LicenseRef-GPL-2-plus');
  assert.deepEqual(libc.checksums, [{ algorithm: 'SHA256', checksumValue: 'a'.repeat(64) }]);
  assert.deepEqual(
    spdx.hasExtractedLicensingInfos.map((l: { licenseId: string }) => l.licenseId),
    ['LicenseRef-GPL-2-plus'],
  );
  const ids = new Set(spdx.packages.map((p: { SPDXID: string }) => p.SPDXID));
  for (const r of spdx.relationships) {
    assert.ok(r.spdxElementId === 'SPDXRef-DOCUMENT' || ids.has(r.spdxElementId), r.spdxElementId);
    assert.ok(ids.has(r.relatedSpdxElement), r.relatedSpdxElement);
  }
  const c2 = sample();
  c2.components[0]!.version = '2.41-13';
  assert.notEqual(JSON.parse(formatSbom(c2, 'spdx-json')).documentNamespace, spdx.documentNamespace);
});

test('sbom format names: spdx-json and cyclonedx-json, anything else a USAGE error', () => {
  assert.equal(parseSbomFormat('spdx'), 'spdx-json');
  assert.equal(parseSbomFormat('CycloneDX-JSON'), 'cyclonedx-json');
  assert.throws(
    () => parseSbomFormat('syft'),
    (e) => isDistillError(e, 'USAGE'),
  );
});

test('sbom SPDX pieces: the text JSON.stringify(document, null, 2) gives, in bounded pieces', async () => {
  // A large SBOM: thousands of npm packages, each depending on the next.
  const s = sample();
  for (const c of s.components) c.hashes = []; // the sample's SRI is short, not a real SHA-512
  const npm: SbomComponent[] = [];
  for (let i = 0; i < 3000; i++) {
    npm.push(
      component({
        kind: 'npm',
        name: `pkg-${i}`,
        version: '1.0.0',
        purl: npmPurl(`pkg-${i}`, '1.0.0'),
        path: `/app/node_modules/pkg-${i}`,
        license: npmLicense({ license: i % 2 ? 'MIT' : 'Custom-Thing' }),
      }),
    );
  }
  npm.forEach((c, i) => {
    if (i > 0) npm[i - 1]!.dependsOn.push(c.id);
  });
  s.components.push(...npm);
  const pieces = [...sbomPieces(s, 'spdx-json')];
  assert.ok(pieces.length > 10, `written in ${pieces.length} pieces`);
  for (const p of pieces) assert.ok(p.length < 80 * 1024, `a piece of ${p.length} characters`);
  const text = pieces.join('');
  assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  const doc = await assertValidSpdx(text);
  assert.equal((doc.packages as unknown[]).length, 3003);
  assert.equal(text, formatSbom(s, 'spdx-json'));
  // An SBOM with no extracted licence and one package: the lists' edges.
  const small: Sbom = { ...sample(), components: [sample().components[2]!] };
  small.components[0]!.dependsOn = [];
  const one = formatSbom(small, 'spdx-json');
  assert.equal(one, `${JSON.stringify(JSON.parse(one), null, 2)}\n`);
  assert.equal(JSON.parse(one).hasExtractedLicensingInfos, undefined);
});

test('sbom SPDX download locations: a host name as SPDX reads URLs, else NOASSERTION with the URL kept', async () => {
  const taken = [
    'http://deb.debian.org/debian/pool/main/b/base-files/base-files_13.8_amd64.deb',
    'https://registry.npmjs.org/@scope/x/-/x-1.0.0.tgz',
    'https://user@mirror.example.com:8443/debian/x.deb',
    'git+https://github.com/org/repo.git',
  ];
  const refused = [
    'http://127.0.0.1:4873/x/-/x-1.0.0.tgz',
    'http://aptcache:3142/debian/x.deb',
    'https://[::1]/x.tgz',
    'http://mirror.corp.internal/x.deb',
  ];
  for (const u of taken) assert.equal(spdxDownloadLocation(u), true, u);
  for (const u of refused) assert.equal(spdxDownloadLocation(u), false, u);

  const s = sample();
  const npm = s.components.find((c) => c.kind === 'npm')!;
  npm.download = refused[0];
  const doc = await assertValidSpdx(formatSbom(s, 'spdx-json'));
  const p = (doc.packages as Record<string, unknown>[]).find((x) => x.name === npm.name)!;
  assert.equal(p.downloadLocation, 'NOASSERTION');
  assert.match(String(p.sourceInfo), /; downloaded from http:\/\/127\.0\.0\.1:4873\/x\/-\/x-1\.0\.0\.tgz$/);
  npm.download = taken[1];
  const kept = await assertValidSpdx(formatSbom(s, 'spdx-json'));
  const q = (kept.packages as Record<string, unknown>[]).find((x) => x.name === npm.name)!;
  assert.equal(q.downloadLocation, taken[1]);
  assert.doesNotMatch(String(q.sourceInfo), /downloaded from/);
});
