import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type SlsaProvenance, STATEMENT_MEDIA_TYPE, type Statement } from '../../src/attest/index.js';
import { type AttestOptions, checkAttest } from '../../src/build/attest.js';
import { isDistillError } from '../../src/errors.js';
import { openArtifact } from '../../src/media/index.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import type { AppPlan } from '../../src/plan/app.js';
import { formatLockfile } from '../../src/plan/lockfile.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { buildOffline, HELLO_OFFLINE, offlineReady, useOfflineWorld } from '../helpers/app-fixture.js';
import { requireComponents, startRegistry } from '../helpers/components.js';
import { readAll } from '../helpers/registry-images.js';
import { assertValidCycloneDx, assertValidSpdx } from '../sbom/helpers.js';

/**
 * `--attest provenance` on buildApp, offline (test/helpers/app-fixture.ts): the statement comes
 * from the plan and what the build verified, is the same for two builds with empty stores, and is
 * attached to every output that holds referrers without changing the image.
 */
const ATTEST: AttestOptions = {
  provenance: true,
  request: { command: 'build', flags: { attest: 'provenance' } },
};
const BOTH: AttestOptions = { ...ATTEST, sbom: true };

async function provenanceOf(
  ref: string,
  subject: string,
): Promise<{ bytes: Buffer; statement: Statement<SlsaProvenance> }> {
  const found = (await listReferrers(parseImageRef(ref), subject as never)).filter(
    (d) => d.artifactType === STATEMENT_MEDIA_TYPE,
  );
  assert.equal(found.length, 1, `one statement about ${subject} in ${ref}`);
  assert.equal(found[0]!.artifactType, STATEMENT_MEDIA_TYPE);
  assert.equal(found[0]!.annotations?.['in-toto.io/predicate-type'], 'https://slsa.dev/provenance/v1');
  const r = await openReferrer(parseImageRef(ref), found[0]!);
  assert.equal(r.manifest.value.subject?.digest, subject);
  const layer = r.blobs.find((b) => b.descriptor.mediaType === STATEMENT_MEDIA_TYPE)!;
  const bytes = await readAll(await layer.open());
  return { bytes, statement: JSON.parse(bytes.toString()) as Statement<SlsaProvenance> };
}

async function sbomOf(ref: string, subject: string, type = 'application/spdx+json'): Promise<Buffer> {
  const found = (await listReferrers(parseImageRef(ref), subject as never)).filter(
    (d) => d.artifactType === type,
  );
  assert.equal(found.length, 1, `one ${type} SBOM of ${subject} in ${ref}`);
  const r = await openReferrer(parseImageRef(ref), found[0]!);
  return readAll(await r.blobs.find((b) => b.descriptor.mediaType === type)!.open());
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('provenance of an app build', () => {
  const fx = useOfflineWorld('distill-attest-');

  test('deterministic across two builds, what the build verified, the image unchanged', async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const plain = await buildOffline(world, HELLO_OFFLINE, join(fx.dir, 'plain'));
    const a = await buildOffline(world, HELLO_OFFLINE, join(fx.dir, 'a'), {}, {}, { attest: BOTH });
    const b = await buildOffline(world, HELLO_OFFLINE, join(fx.dir, 'b'), {}, {}, { attest: BOTH });
    assert.equal(a.digest, plain.digest, 'attesting does not change the image');
    assert.equal(b.digest, a.digest);
    const pa = await provenanceOf(`oci:${a.layout}:latest`, a.digest);
    const pb = await provenanceOf(`oci:${b.layout}:latest`, b.digest);
    assert.deepEqual(pa.bytes, pb.bytes, 'the same statement, byte for byte');
    // The SBOM (SPDX 2.3, the SBOM library's) of the image, attached beside it, the same twice.
    const sa = await sbomOf(`oci:${a.layout}:latest`, a.digest);
    assert.deepEqual(await sbomOf(`oci:${b.layout}:latest`, b.digest), sa);
    const spdx = JSON.parse(sa.toString()) as { spdxVersion: string; packages: { name: string }[] };
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    assert.ok(spdx.packages.some((p) => p.name === 'hello-dep'));
    assert.ok(spdx.packages.some((p) => p.name === 'node'));
    await assertValidSpdx(sa.toString());
    // And as CycloneDX 1.6 beside it, valid by the library's validator, the same twice.
    const CDX = 'application/vnd.cyclonedx+json';
    const ca = await sbomOf(`oci:${a.layout}:latest`, a.digest, CDX);
    assert.deepEqual(await sbomOf(`oci:${b.layout}:latest`, b.digest, CDX), ca);
    await assertValidCycloneDx(ca.toString());
    const cdx = JSON.parse(ca.toString()) as { components: { name: string }[] };
    assert.deepEqual(
      cdx.components.map((c) => c.name).sort(),
      spdx.packages
        .map((p) => p.name)
        .filter((n) => n !== a.plan.app.name)
        .sort(),
      'the same components, the app the root of both',
    );

    const s = pa.statement;
    assert.equal(s._type, 'https://in-toto.io/Statement/v1');
    assert.equal(s.predicateType, 'https://slsa.dev/provenance/v1');
    assert.deepEqual(s.subject, [
      { name: `${a.plan.image.name}:${a.plan.image.tag}`, digest: { sha256: a.digest.slice(7) } },
    ]);
    const def = s.predicate.buildDefinition;
    assert.equal(def.buildType, 'https://distill.dev/buildtypes/app/v1');
    assert.deepEqual(def.externalParameters, ATTEST.request);
    assert.match(String(def.internalParameters.planDigest), /^sha256:[0-9a-f]{64}$/);
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    // distill's own package: in-process from the sources, the module running (test/attest/builder.test.ts
    // covers the packed package installed).
    const self = await readFile(new URL('../../src/attest/builder.ts', import.meta.url));
    assert.deepEqual(s.predicate.runDetails, {
      builder: {
        id: 'https://distill.dev/builder/cli',
        version: { distill: pkg.version },
        builderDependencies: [
          {
            uri: `pkg:npm/distill@${pkg.version}`,
            name: 'src/attest/builder.ts',
            digest: { sha256: sha256(self) },
            annotations: { integritySource: 'running-file' },
          },
        ],
      },
    });
    assert.equal(JSON.stringify(s).includes(fx.dir), false, 'no path of this machine');

    // Every .deb of the base's lock, with the SHA256 the lock pinned.
    const deps = def.resolvedDependencies;
    const plan: AppPlan = a.plan;
    assert.equal(plan.base.kind, 'debian');
    if (plan.base.kind !== 'debian') return;
    const debs = plan.base.lock.architectures.amd64!;
    assert.ok(debs.length > 0);
    for (const p of debs) {
      const d = deps.find((x) => x.uri?.endsWith(`/${p.filename}`));
      assert.deepEqual(d?.digest, { sha256: p.sha256 }, p.name);
    }
    const inRelease = deps.find(
      (d) =>
        d.uri ===
        `${plan.base.kind === 'debian' && plan.base.lock.suites[0]!.mirror}/dists/${world.repo.suite}/InRelease`,
    );
    // The InRelease whose signature was verified, by the digest the lock kept.
    const served = await (await fetch(`${world.repo.url}/dists/${world.repo.suite}/InRelease`)).arrayBuffer();
    assert.deepEqual(inRelease?.digest, { sha256: sha256(new Uint8Array(served)) });
    const lock = deps.find((d) => d.name === 'distill.lock.json');
    assert.deepEqual(lock?.digest, { sha256: sha256(Buffer.from(formatLockfile(plan.base.lock))) });
    // The app's lockfile, by its bytes.
    const appLock = await readFile(join(HELLO_OFFLINE, 'package-lock.json'));
    assert.deepEqual(deps.find((d) => d.name === 'package-lock.json')?.digest, { sha256: sha256(appLock) });
    // The Node tarball, with the integrity the registry gave (SRI sha512 as hex).
    const node = deps.find((d) => d.name?.startsWith('node@'));
    assert.ok(node?.uri?.startsWith(world.registry.url), node?.uri);
    assert.match(node!.digest!.sha512!, /^[0-9a-f]{128}$/);
    // The package manager, with the registry's integrity of its tarball (the one served here).
    const pmTgz = world.registry.routes.get(`/npm/-/npm-${world.npmVersion}.tgz`) as Buffer;
    assert.deepEqual(deps.find((d) => d.uri === `pkg:npm/npm@${world.npmVersion}`)?.digest, {
      sha512: createHash('sha512').update(pmTgz).digest('hex'),
    });
    // A warm build (the same store: the plan's resolutions remembered, nothing asked of the
    // registry's packuments) attests the same bytes, the package manager's integrity included.
    const asked = world.registry.requests.length;
    const warm = await buildOffline(world, HELLO_OFFLINE, join(fx.dir, 'a'), {}, {}, { attest: BOTH });
    assert.equal(warm.digest, a.digest);
    assert.deepEqual(world.registry.requests.slice(asked), [], 'nothing asked of the registry');
    assert.deepEqual((await provenanceOf(`oci:${warm.layout}:latest`, warm.digest)).bytes, pa.bytes);
  });

  test('timestamps when asked; a medium without referrers warns; an SBOM needs a lockfile it reads', async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const warnings: string[] = [];
    const startedOn = '2026-12-07T10:00:00.000Z';
    const out = join(fx.dir, 'ts');
    const r = await buildOffline(
      world,
      HELLO_OFFLINE,
      out,
      { outputs: [`oci:${join(out, 'out')}:latest`, `docker-archive:${join(out, 'd.tar')}`] },
      {},
      { attest: { ...ATTEST, startedOn }, warn: (m) => warnings.push(m) },
    );
    const p = await provenanceOf(`oci:${r.layout}:latest`, r.digest);
    assert.equal(p.statement.predicate.runDetails.metadata?.startedOn, startedOn);
    assert.ok(
      warnings.some((w) => w.includes('docker-archive:') && w.includes('cannot hold attestations')),
      warnings.join('\n'),
    );
    // An app whose lockfile the build's SBOM cannot read is refused before anything is built;
    // npm's, pnpm's and yarn's are read (test/sbom/tree.test.ts).
    assert.throws(
      () => checkAttest({ sbom: true }, 'bun.lock'),
      (err) => isDistillError(err, 'ATTEST_UNSUPPORTED'),
    );
    for (const lockfile of ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock']) {
      checkAttest({ sbom: true }, lockfile);
    }
  });

  test('pushed to docker-registry: listed there, the same statement as in the layout', async (t) => {
    if (!offlineReady(t) || !requireComponents(t, 'docker-registry')) return;
    const world = await fx.world();
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const out = join(fx.dir, 'reg');
    const ref = `docker://${reg.host}/acme/hello:1`;
    const r = await buildOffline(
      world,
      HELLO_OFFLINE,
      out,
      { outputs: [`oci:${join(out, 'out')}:latest`, ref] },
      {},
      { attest: ATTEST },
    );
    const inLayout = await provenanceOf(`oci:${r.layout}:latest`, r.digest);
    const inRegistry = await provenanceOf(ref, r.digest);
    assert.deepEqual(inRegistry.bytes, inLayout.bytes);
    assert.equal((await openArtifact(parseImageRef(ref))).manifest.digest, r.digest);
  });
});
