import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SlsaProvenance, Statement } from '../../src/attest/index.js';
import { buildBase } from '../../src/build/base/index.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import { defaultBaseConfig } from '../../src/plan/base.js';
import { planBase } from '../../src/plan/base-plan.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { makeAptRepo } from '../helpers/aptrepo.js';
import { PACKAGES, REPO_TOOLS, repoSources } from '../helpers/base-fixture.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { readAll } from '../helpers/registry-images.js';

/** `distill base --attest provenance` as a library: the lock's packages, the same bytes twice, the golden image kept. */
test('base provenance: every locked .deb, deterministic, the image as without it', async (t) => {
  if (!requireComponents(t, ...REPO_TOOLS)) return;
  const repo = await makeAptRepo({ packages: PACKAGES });
  const dir = await tempDir('distill-attest-base-');
  t.after(async () => {
    await repo.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const build = async (name: string, attest: boolean) => {
    const { store, sources } = repoSources(repo, join(dir, name, 'store'));
    const out = `oci:${join(dir, name, 'out')}:x`;
    const plan = await planBase(
      { config: { ...defaultBaseConfig('static'), suites: [repo.suite], archs: ['amd64'] }, outputs: [out] },
      sources,
    );
    const built = await buildBase(plan, {
      store,
      sources,
      ...(attest && {
        attest: {
          provenance: true,
          sbom: true,
          request: { command: 'base', flags: { attest: 'sbom,provenance' } },
        },
      }),
    });
    return { plan, built, out };
  };
  const plain = await build('plain', false);
  const a = await build('a', true);
  const b = await build('b', true);
  const digest = a.built.artifact.manifest.digest;
  assert.equal(digest, plain.built.artifact.manifest.digest);
  assert.deepEqual(plain.built.outputs[0]!.referrers, []);
  const attached = a.built.outputs[0]!.referrers;
  assert.deepEqual(attached.map((d) => d.artifactType).sort(), [
    'application/spdx+json',
    'application/vnd.cyclonedx+json',
    'application/vnd.in-toto+json',
  ]);
  assert.deepEqual(b.built.outputs[0]!.referrers, attached, 'the same referrer manifest digest');

  const found = await listReferrers(parseImageRef(a.out), digest);
  assert.deepEqual(found.map((d) => d.digest).sort(), attached.map((d) => d.digest).sort());
  const sbom = await openReferrer(
    parseImageRef(a.out),
    found.find((d) => d.artifactType === 'application/spdx+json')!,
  );
  const spdx = JSON.parse((await readAll(await sbom.blobs[1]!.open())).toString()) as {
    packages: { name: string }[];
  };
  for (const p of a.plan.lock.architectures.amd64!)
    assert.ok(
      spdx.packages.some((x) => x.name === p.name),
      p.name,
    );
  const r = await openReferrer(
    parseImageRef(a.out),
    found.find((d) => d.artifactType === 'application/vnd.in-toto+json')!,
  );
  const s = JSON.parse((await readAll(await r.blobs[1]!.open())).toString()) as Statement<SlsaProvenance>;
  assert.equal(s.predicate.buildDefinition.buildType, 'https://distill.dev/buildtypes/base/v1');
  assert.deepEqual(s.subject, [{ name: 'distill-base-static', digest: { sha256: digest.slice(7) } }]);
  const debs = a.plan.lock.architectures.amd64!;
  const deps = s.predicate.buildDefinition.resolvedDependencies;
  assert.deepEqual(
    deps.filter((d) => d.name?.startsWith('pkg:deb/')).map((d) => d.digest?.sha256),
    debs.map((p) => p.sha256),
  );
  assert.ok(deps.some((d) => d.uri === `${repo.url}/dists/${repo.suite}/InRelease`));
});
