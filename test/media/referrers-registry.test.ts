import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { writeArtifact } from '../../src/media/index.js';
import type { Referrer } from '../../src/media/referrer.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import { ArtifactType, referrerDescriptor, referrersIndex, referrersTag } from '../../src/oci/referrers.js';
import type { Descriptor } from '../../src/oci/types.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { requireComponents, startRegistry } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';
import { docAttachment, subjectOf } from '../helpers/referrers.js';
import { startFakeRegistry } from '../helpers/registry-fake.js';
import { listTags, readAll } from '../helpers/registry-images.js';

async function tagIndex(host: string, repo: string, tag: string): Promise<{ manifests: Descriptor[] }> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: MediaType.OciIndex },
  });
  assert.equal(res.status, 200, `GET ${tag}`);
  return (await res.json()) as { manifests: Descriptor[] };
}

async function assertSameReferrer(got: Referrer, want: Referrer): Promise<void> {
  assert.deepEqual(Buffer.from(got.manifest.bytes), Buffer.from(want.manifest.bytes));
  assert.equal(got.blobs.length, want.blobs.length);
  for (const [i, b] of got.blobs.entries()) {
    assert.deepEqual(await readAll(await b.open()), await readAll(await want.blobs[i]!.open()));
  }
}

test("docker-registry (no referrers API): the fallback tag, keeping another writer's entry", async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const image = await memoryImage({ layers: 1, layerSize: 2000 });
  const tag = referrersTag(image.manifest.digest);
  const ref = parseImageRef(`docker://${reg.host}/refs/app:v1`);
  // Another tool attached something first: its entry must survive distill's update.
  const theirs = docAttachment(subjectOf(image), 'application/vnd.example.other', 'theirs');
  await writeArtifact(ref, image, { referrers: [theirs] });
  assert.deepEqual(
    (await tagIndex(reg.host, 'refs/app', tag)).manifests.map((m) => m.digest),
    [theirs.manifest.digest],
  );

  const sbom = docAttachment(subjectOf(image), ArtifactType.Spdx, 'sbom');
  const prov = docAttachment(subjectOf(image), ArtifactType.InToto, 'provenance');
  await writeArtifact(ref, image, { referrers: [sbom, prov] });
  const listed = (await tagIndex(reg.host, 'refs/app', tag)).manifests;
  assert.deepEqual(
    listed.map((m) => m.digest),
    [theirs.manifest.digest, sbom.manifest.digest, prov.manifest.digest],
  );
  assert.equal(listed[1]!.artifactType, ArtifactType.Spdx);
  assert.equal(listed[1]!.annotations?.['org.example.note'], 'sbom');
  assert.ok((await listTags(reg.host, 'refs/app')).includes(tag));

  const found = await listReferrers(ref, image.manifest.digest);
  assert.deepEqual(found, listed);
  await assertSameReferrer(await openReferrer(ref, found[1]!), sbom);
  // Pushing the same referrers again changes nothing.
  await writeArtifact(ref, image, { referrers: [sbom] });
  assert.equal((await tagIndex(reg.host, 'refs/app', tag)).manifests.length, 3);
});

test('a fallback tag that is not an index is left alone, with its own error', async (t) => {
  const fake = await startFakeRegistry();
  t.after(() => fake.stop());
  const image = await memoryImage({ layers: 1, layerSize: 100 });
  const ref = parseImageRef(`docker://${fake.host}/refs/app:v1`);
  await writeArtifact(ref, image);
  fake.putManifest(
    referrersTag(image.manifest.digest),
    MediaType.OciManifest,
    Buffer.from(image.manifest.bytes),
  );
  await assert.rejects(
    writeArtifact(ref, image, { referrers: [docAttachment(subjectOf(image), ArtifactType.Spdx, 's')] }),
    (err) => isDistillError(err, 'REFERRERS_TAG_INVALID'),
  );
});

test('a registry with the referrers API: OCI-Subject honoured, no fallback tag written', async (t) => {
  const fake = await startFakeRegistry();
  fake.referrersApi = true;
  t.after(() => fake.stop());
  const image = await memoryImage({ layers: 1, layerSize: 500 });
  const ref = parseImageRef(`docker://${fake.host}/refs/api:v1`);
  const sbom = docAttachment(subjectOf(image), ArtifactType.CycloneDx, 'cdx');
  await writeArtifact(ref, image, { referrers: [sbom] });
  const tag = referrersTag(image.manifest.digest);
  assert.ok(
    !fake.log.some((e) => e.url.endsWith(`/manifests/${tag}`)),
    'no request touched the fallback tag',
  );
  const found = await listReferrers(ref, image.manifest.digest);
  assert.ok(fake.log.some((e) => e.url.endsWith(`/referrers/${image.manifest.digest}`) && e.status === 200));
  assert.deepEqual(
    found.map((d) => [d.digest, d.artifactType]),
    [[sbom.manifest.digest, ArtifactType.CycloneDx]],
  );
  await assertSameReferrer(await openReferrer(ref, found[0]!), sbom);

  // An answer in pages (Link: rel="next") is read to its end.
  const more = [1, 2, 3, 4].map((i) => docAttachment(subjectOf(image), ArtifactType.InToto, `p${i}`));
  await writeArtifact(ref, image, { referrers: more });
  fake.referrersPageSize = 2;
  const paged = await listReferrers(ref, image.manifest.digest);
  assert.deepEqual(
    paged.map((d) => d.digest),
    [sbom, ...more].map((r) => r.manifest.digest),
  );
  assert.equal(fake.log.filter((e) => e.url.includes('/referrers/') && e.url.includes('page=')).length, 2);
});

test('the fallback tag changed by another writer meanwhile: read again, both entries kept', async (t) => {
  const fake = await startFakeRegistry();
  t.after(() => fake.stop());
  const image = await memoryImage({ layers: 1, layerSize: 300 });
  const ref = parseImageRef(`docker://${fake.host}/refs/race:v1`);
  await writeArtifact(ref, image);
  const tag = referrersTag(image.manifest.digest);
  const theirs = docAttachment(subjectOf(image), 'application/vnd.example.sig', 'concurrent');
  fake.putManifest(theirs.manifest.digest, theirs.manifest.mediaType, Buffer.from(theirs.manifest.bytes));
  // The other writer moves the tag right after distill first read it (at distill's HEAD check).
  let raced = false;
  fake.onRequest = (method, path) => {
    if (raced || method !== 'HEAD' || !path.endsWith(`/manifests/${tag}`)) return;
    raced = true;
    const index = referrersIndex([referrerDescriptor(theirs.manifest)]);
    fake.putManifest(tag, MediaType.OciIndex, Buffer.from(index.bytes));
  };
  const sbom = docAttachment(subjectOf(image), ArtifactType.Spdx, 'sbom');
  await writeArtifact(ref, image, { referrers: [sbom] });
  assert.ok(raced, 'the other writer ran');
  const listed = await listReferrers(ref, image.manifest.digest);
  assert.deepEqual(
    listed.map((d) => d.digest),
    [theirs.manifest.digest, sbom.manifest.digest],
  );
});
