import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspect } from '../../src/inspect/api.js';
import { defaultBaseConfig } from '../../src/plan/base.js';
import { planBase } from '../../src/plan/base-plan.js';
import { validateLockfile } from '../../src/plan/lockfile.js';
import { baseLayerDigests, sbomForBase, sbomFromFacts } from '../../src/sbom/index.js';
import { formatSbom } from '../../src/sbom/write.js';
import { makeAptRepo } from '../helpers/aptrepo.js';
import { lockStatic, PACKAGES, staticDigest } from '../helpers/base-fixture.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { assertLibraryCycloneDx, assertValidCycloneDx, assertValidSpdx, purlOf } from './helpers.js';

type Json = Record<string, unknown>;

const DEP5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: base-files

Files: *
Copyright: Debian
License: GPL-2+
 This program is free software; you can redistribute it ...

Files: debian/*
Copyright: Debian
License: MIT
`;

test("sbomForBase: a base image's SBOM from its lock, the same Debian packages as the image's own", {
  timeout: 5 * 60_000,
}, async (t) => {
  if (!requireComponents(t, 'dpkg-deb', 'apt-ftparchive', 'gpg', 'xz')) return;
  const dir = await tempDir('distill-sbom-base-');
  // base-files with a machine-readable copyright file, as Debian's has.
  const packages = PACKAGES.map((p) =>
    p.name === 'base-files' ? { ...p, files: { ...p.files, 'usr/share/doc/base-files/copyright': DEP5 } } : p,
  );
  const repo = await makeAptRepo({ packages });
  t.after(async () => {
    await repo.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const keyring = join(dir, 'key.asc');
  await writeFile(keyring, repo.publicKey);
  const lockFile = join(dir, 'lock.json');
  await lockStatic(repo, keyring, lockFile, join(dir, 'lock-cache'));
  const digest = await staticDigest(repo, keyring, lockFile, dir);
  const ref = `oci:${join(dir, 'out')}:x`;

  const lockfile = validateLockfile(JSON.parse(await readFile(lockFile, 'utf8')), lockFile);
  const plan = await planBase(
    {
      config: { ...defaultBaseConfig('static'), archs: ['amd64'], suites: [repo.suite] },
      lock: { lockfile, file: lockFile },
    },
    { lockBase: () => Promise.reject(new Error('a lockfile is given: nothing is resolved')) },
  );
  // The image's layers and its copyright files, as the build has them.
  const facts = await inspect(ref, { packageDetails: true });
  const layers = baseLayerDigests(
    plan,
    'amd64',
    facts.layers.map((l) => l.digest!),
  );
  assert.ok(layers.os !== undefined, 'the os layer is found');
  const copyrights = new Map(Object.entries(facts.packageFiles!.copyrights));
  const sbom = sbomForBase(plan, {
    image: { name: 'distill-static', digest },
    arch: 'amd64',
    layers,
    copyrights,
    tool: { name: 'distill', version: '0.1.0' },
  });
  const spdx = await assertValidSpdx(formatSbom(sbom, 'spdx-json'));
  await assertValidCycloneDx(formatSbom(sbom, 'cyclonedx-json'));
  assertLibraryCycloneDx(sbom);
  const debs = (spdx.packages as Json[]).filter((p) => purlOf(p)?.type === 'deb');
  const locked = lockfile.architectures.amd64!;
  assert.deepEqual(
    debs.map((p) => `${p.name} ${p.versionInfo} ${(p.checksums as Json[])[0]!.checksumValue}`).sort(),
    locked.map((p) => `${p.name} ${p.version} ${p.sha256}`).sort(),
  );
  const baseFiles = debs.find((p) => p.name === 'base-files')!;
  assert.equal(baseFiles.licenseDeclared, 'LicenseRef-GPL-2-plus AND MIT');
  assert.match(String(baseFiles.sourceInfo), new RegExp(`in layer ${layers.os}`));
  for (const p of debs.filter((d) => d.name !== 'base-files')) assert.equal(p.licenseDeclared, 'NOASSERTION');

  // What the image says (status.d) agrees with what the build knew, but for the package of role
  // `ca`: the build makes the CA bundle of its certificates, and status.d does not list it.
  const fromImage = (
    JSON.parse(formatSbom(sbomFromFacts(facts, { name: ref, tool: sbom.tool }), 'spdx-json'))
      .packages as Json[]
  )
    .filter((p) => purlOf(p)?.type === 'deb')
    .map((p) => `${p.name} ${p.versionInfo} ${purlOf(p)?.qualifiers?.arch}`)
    .sort();
  const ca = new Set(locked.filter((p) => p.role === 'ca').map((p) => p.name));
  assert.deepEqual([...ca], ['ca-certificates']);
  assert.deepEqual(
    fromImage,
    debs
      .filter((p) => !ca.has(String(p.name)))
      .map((p) => `${p.name} ${p.versionInfo} ${purlOf(p)?.qualifiers?.arch}`)
      .sort(),
  );
});
