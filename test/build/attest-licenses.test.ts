import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildBase } from '../../src/build/base/index.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import type { Digest } from '../../src/oci/digest.js';
import { defaultBaseConfig } from '../../src/plan/base.js';
import { planBase } from '../../src/plan/base-plan.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import {
  APP_BASE_PACKAGES,
  buildOffline,
  HELLO_OFFLINE,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';
import { type FakePackage, makeAptRepo } from '../helpers/aptrepo.js';
import { PACKAGES as BASE_PACKAGES, REPO_TOOLS, repoSources } from '../helpers/base-fixture.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { readAll } from '../helpers/registry-images.js';
import { assertValidCycloneDx, assertValidSpdx, purlOf } from '../sbom/helpers.js';

/**
 * The licences of the Debian packages in a build's SBOM (issue 16): what each package's
 * `usr/share/doc/PKG/copyright` declares when it is machine-readable (DEP-5), NOASSERTION when it
 * is not, read from the verified .debs when the base is built and kept in the base-os record, so
 * that a warm build, which downloads and reads no .deb, attaches the same SBOM. The copyright
 * files are shaped as Debian 12's are (free-form for libc6, DEP-5 for tzdata, netbase and
 * ca-certificates, libgcc-s1's doc directory a link to gcc's).
 */
const DEP5 = 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n';
const COPYRIGHTS: Record<string, string> = {
  libc6:
    'This is the Debian prepackaged version of the GNU C Library version 2.41.\n\nIt is licensed under the LGPL 2.1 or later.\n',
  tzdata: `${DEP5}Source: https://www.iana.org/time-zones\n\nFiles: *\nCopyright: Unknown\nLicense: public-domain\n This database is in the public domain.\n`,
  netbase: `${DEP5}Comment:\n This package was created by Peter Tobias.\n\nFiles: *\nCopyright: 1994-1998 Peter Tobias\nLicense: GPL-2\n`,
  'ca-certificates': `${DEP5}Source: http://ftp.debian.org/debian/pool/main/c/ca-certificates/\n\nFiles: debian/*\nCopyright: 2003 Fumitoshi UKAI\n 2009 Philipp Kern\nLicense: GPL-2+\n This program is free software.\n\nFiles: mozilla/certdata.txt\nCopyright: Mozilla\nLicense: MPL-2.0\n Mozilla Public License.\n`,
  'gcc-14-base': `${DEP5}\nFiles: *\nCopyright: Free Software Foundation\nLicense: GPL-3.0-or-later WITH GCC-exception-3.1\n`,
};

/** What the SPDX documents must say of each package (licenseDeclared). */
const EXPECTED: Record<string, string> = {
  libc6: 'NOASSERTION',
  tzdata: 'LicenseRef-public-domain',
  netbase: 'LicenseRef-GPL-2',
  'ca-certificates': 'LicenseRef-GPL-2-plus AND MPL-2.0',
  'gcc-14-base': 'GPL-3.0-or-later WITH GCC-exception-3.1',
  'libgcc-s1': 'GPL-3.0-or-later WITH GCC-exception-3.1',
  // No copyright file at all.
  libatomic1: 'NOASSERTION',
};

const PACKAGES: FakePackage[] = APP_BASE_PACKAGES.map((p) => {
  const text = COPYRIGHTS[p.name];
  if (text !== undefined) return { ...p, files: { ...p.files, [`usr/share/doc/${p.name}/copyright`]: text } };
  if (p.name === 'libgcc-s1') return { ...p, symlinks: { 'usr/share/doc/libgcc-s1': 'gcc-14-base' } };
  return p;
});

type Json = Record<string, unknown>;

async function attached(layout: string, subject: string, type: string): Promise<Buffer> {
  const ref = parseImageRef(`oci:${layout}:latest`);
  const found = (await listReferrers(ref, subject as Digest)).filter((d) => d.artifactType === type);
  assert.equal(found.length, 1, `one ${type} about ${subject}`);
  const r = await openReferrer(ref, found[0]!);
  return readAll(await r.blobs.find((b) => b.descriptor.mediaType === type)!.open());
}

const SPDX = 'application/spdx+json';
const CDX = 'application/vnd.cyclonedx+json';

describe("Debian licences in an app build's SBOM", () => {
  const fx = useOfflineWorld('distill-attest-licences-', { packages: PACKAGES });

  test('from the copyright files, the same on a warm build with every .deb deleted', async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const app = join(fx.dir, 'app');
    await cp(HELLO_OFFLINE, app, { recursive: true });
    const attest = { sbom: true };
    const cold = await buildOffline(world, app, fx.dir, {}, {}, { attest });
    const spdx = await attached(cold.layout, cold.digest, SPDX);
    const cdx = await attached(cold.layout, cold.digest, CDX);
    const doc = await assertValidSpdx(spdx.toString());
    await assertValidCycloneDx(cdx.toString());
    const debs = new Map(
      (doc.packages as Json[])
        .filter((p) => purlOf(p)?.type === 'deb')
        .map((p) => [String(p.name), String(p.licenseDeclared)]),
    );
    for (const [name, want] of Object.entries(EXPECTED)) assert.equal(debs.get(name), want, name);
    const refs = (doc.hasExtractedLicensingInfos as Json[]).map((r) => `${r.licenseId}=${r.name}`);
    for (const r of ['LicenseRef-public-domain=public-domain', 'LicenseRef-GPL-2-plus=GPL-2+']) {
      assert.ok(refs.includes(r), `${r} in ${refs.join(', ')}`);
    }
    const components = (JSON.parse(cdx.toString()) as { components: Json[] }).components;
    const netbase = components.find((c) => c.name === 'netbase');
    assert.deepEqual(netbase?.licenses, [{ license: { name: 'GPL-2' } }]);

    // Warm: the base-os record answers; no .deb is in the store, none is downloaded or read.
    const plan = cold.plan;
    assert.equal(plan.base.kind, 'debian');
    if (plan.base.kind !== 'debian') return;
    const store = new Store(join(fx.dir, 'store'));
    // The .debs and the packs of their unpacked files: reading a package again would download it.
    for (const p of plan.base.lock.architectures.amd64!) {
      const deb = `sha256:${p.sha256}` as Digest;
      const contents = await store.record('deb-contents').get({ deb });
      for (const e of contents?.entries ?? []) if (e.pack) await rm(store.blobPath(e.pack), { force: true });
      await rm(store.blobPath(deb), { force: true });
    }
    const before = world.repo.log.length;
    const warm = await buildOffline(world, app, fx.dir, {}, {}, { attest });
    assert.equal(warm.digest, cold.digest);
    const debRequests = world.repo.log.slice(before).filter((r) => r.url.endsWith('.deb'));
    assert.deepEqual(debRequests, [], 'no .deb downloaded on a warm build');
    assert.deepEqual(await attached(warm.layout, warm.digest, SPDX), spdx, 'the same SPDX document');
    assert.deepEqual(await attached(warm.layout, warm.digest, CDX), cdx, 'the same CycloneDX document');
  });
});

test("distill base --attest sbom: the packages' licences from their copyright files", async (t) => {
  if (!requireComponents(t, ...REPO_TOOLS)) return;
  const packages = BASE_PACKAGES.map((p) => {
    const text = COPYRIGHTS[p.name];
    return text === undefined
      ? p
      : { ...p, files: { ...p.files, [`usr/share/doc/${p.name}/copyright`]: text } };
  });
  const repo = await makeAptRepo({ packages });
  const dir = await tempDir('distill-attest-base-licences-');
  t.after(async () => {
    await repo.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const { store, sources } = repoSources(repo, join(dir, 'store'));
  const out = join(dir, 'out');
  const plan = await planBase(
    {
      config: { ...defaultBaseConfig('static'), suites: [repo.suite], archs: ['amd64'] },
      outputs: [`oci:${out}:latest`],
    },
    sources,
  );
  const built = await buildBase(plan, { store, sources, attest: { sbom: true } });
  const doc = await assertValidSpdx((await attached(out, built.artifact.manifest.digest, SPDX)).toString());
  const debs = new Map(
    (doc.packages as Json[])
      .filter((p) => purlOf(p)?.type === 'deb')
      .map((p) => [String(p.name), String(p.licenseDeclared)]),
  );
  assert.equal(debs.get('tzdata'), EXPECTED.tzdata);
  assert.equal(debs.get('netbase'), EXPECTED.netbase);
  assert.equal(debs.get('ca-certificates'), EXPECTED['ca-certificates']);
  assert.equal(debs.get('base-files'), 'NOASSERTION', 'no copyright file');
});
