import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import type { Referrer } from '../../src/media/referrer.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import type { Image } from '../../src/oci/image.js';
import { ArtifactType, artifactManifest, blobDescriptor } from '../../src/oci/referrers.js';
import type { Descriptor, IndexJson } from '../../src/oci/types.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { tempDir, which } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';
import { docAttachment, subjectOf } from '../helpers/referrers.js';
import { makeImage, makeIndex, randomLayer, readAll } from '../helpers/registry-images.js';

/**
 * A build that replaces a tag in an oci: layout takes the referrers of the image the tag named
 * before with it (decision 0037): index.json does not grow build after build, and referrers of
 * anything still in the layout stay, whoever wrote them.
 */

async function indexOf(layout: string): Promise<IndexJson> {
  return JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as IndexJson;
}

const blobFile = (layout: string, digest: string) => join(layout, 'blobs', ...digest.split(':'));

async function has(layout: string, digest: string): Promise<boolean> {
  return stat(blobFile(layout, digest)).then(
    () => true,
    () => false,
  );
}

/** What a build attaches: an SPDX and a provenance referrer of the image, and a signature of the SPDX one. */
function attestations(image: Image, text: string): Referrer[] {
  const sbom = docAttachment(subjectOf(image), ArtifactType.Spdx, `sbom ${text}`);
  const prov = docAttachment(subjectOf(image), ArtifactType.InToto, `provenance ${text}`);
  const sbomSubject: Descriptor = {
    mediaType: sbom.manifest.mediaType,
    digest: sbom.manifest.digest,
    size: sbom.manifest.bytes.length,
  };
  return [sbom, prov, docAttachment(sbomSubject, 'application/vnd.dev.sigstore.bundle.v0.3+json', text)];
}

/**
 * A referrer as another tool (oras attach --oci-layout) leaves it: its blobs written by hand and
 * an index entry without artifactType or annotations, so only its manifest says what it is about.
 */
async function foreignReferrer(layout: string, subject: Descriptor, text: string): Promise<Descriptor> {
  const bytes = Buffer.from(text);
  const manifest = artifactManifest({
    subject,
    artifactType: 'application/vnd.example.note',
    blobs: [{ descriptor: blobDescriptor(bytes, 'text/plain'), bytes }],
  });
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, data] of [
    [manifest.value.layers[0]!.digest, bytes],
    [manifest.value.config.digest, Buffer.from('{}')],
    [manifest.digest, Buffer.from(manifest.bytes)],
  ] as const) {
    await writeFile(blobFile(layout, digest), data);
  }
  const d: Descriptor = {
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.bytes.length,
  };
  const index = await indexOf(layout);
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({ ...index, manifests: [...index.manifests, d] }),
  );
  return d;
}

test('two builds to the same tag leave only the second build’s referrers, and none of the first’s blobs', async (t) => {
  const dir = await tempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const layout = join(dir, 'layout');
  const first = await memoryImage({ layers: 1, seed: 1 });
  const second = await memoryImage({ layers: 1, seed: 2 });
  const before = attestations(first, 'one');
  const now = attestations(second, 'two');
  await writeLayoutDir(layout, 'latest', first, {}, before);
  assert.equal((await indexOf(layout)).manifests.length, 4);
  await writeLayoutDir(layout, 'latest', second, {}, now);

  const index = await indexOf(layout);
  assert.deepEqual(
    index.manifests.map((m) => m.digest),
    [second.manifest.digest, ...now.map((r) => r.manifest.digest)],
  );
  for (const r of before) {
    assert.equal(await has(layout, r.manifest.digest), false, 'a dropped referrer’s manifest');
    assert.equal(await has(layout, r.manifest.value.layers[0]!.digest), false, 'its document');
  }
  // The empty config `{}` is the kept referrers' too; the first image's own blobs are the user's.
  assert.equal(await has(layout, before[0]!.manifest.value.config.digest), true);
  assert.equal(await has(layout, first.manifest.digest), true);
  const ref = parseImageRef(`oci:${layout}:latest`);
  assert.deepEqual(await listReferrers(ref, first.manifest.digest), []);
  const listed = await listReferrers(ref, second.manifest.digest);
  assert.deepEqual(
    listed.map((d) => d.digest).sort(),
    [now[0]!, now[1]!].map((r) => r.manifest.digest).sort(),
  );
  const signatures = await listReferrers(ref, now[0]!.manifest.digest);
  assert.deepEqual(
    signatures.map((d) => d.digest),
    [now[2]!.manifest.digest],
  );
  for (const d of [...listed, ...signatures]) {
    for (const b of (await openReferrer(ref, d)).blobs) await readAll(await b.open());
  }
  // A third build: still one image and its three referrers.
  await writeLayoutDir(layout, 'latest', first, {}, attestations(first, 'three'));
  assert.equal((await indexOf(layout)).manifests.length, 4);
  if (which('skopeo')) execFileSync('skopeo', ['inspect', `oci:${layout}:latest`]);
});

test('referrers of images still in the layout stay, whoever wrote them; those of the replaced image go', async (t) => {
  const dir = await tempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const layout = join(dir, 'layout');
  const kept = await memoryImage({ layers: 1, seed: 3 });
  const old = await memoryImage({ layers: 1, seed: 4 });
  const amd = makeImage([randomLayer(300)]);
  const arm = makeImage([randomLayer(200)], { architecture: 'arm64', os: 'linux' });
  await writeLayoutDir(layout, 'kept', kept);
  await writeLayoutDir(layout, 'multi', makeIndex([amd, arm]));
  await writeLayoutDir(layout, 'app', old, {}, attestations(old, 'old'));
  const ofKept = await foreignReferrer(layout, subjectOf(kept), 'a note on kept');
  const ofChild = await foreignReferrer(layout, subjectOf(arm), 'a note on the arm64 image of multi');
  const ofOld = await foreignReferrer(layout, subjectOf(old), 'a note on the old app');
  // The same document attached to the old image by distill and to a kept one by another tool.
  const shared = attestations(old, 'old')[0]!.manifest.value.layers[0]!;
  const sharedText = await readFile(blobFile(layout, shared.digest), 'utf8');
  const ofKeptShared = await foreignReferrer(layout, subjectOf(kept), sharedText);

  const fresh = await memoryImage({ layers: 1, seed: 5 });
  const now = attestations(fresh, 'new');
  await writeLayoutDir(layout, 'app', fresh, {}, now);

  const digests = (await indexOf(layout)).manifests.map((m) => m.digest);
  for (const d of [ofKept, ofChild, ofKeptShared]) assert.ok(digests.includes(d.digest), 'a live subject’s');
  assert.ok(!digests.includes(ofOld.digest), 'the replaced image’s foreign referrer');
  for (const r of attestations(old, 'old')) assert.ok(!digests.includes(r.manifest.digest));
  for (const r of now) assert.ok(digests.includes(r.manifest.digest));
  assert.equal(digests.length, 3 + 3 + 3);
  assert.equal(await has(layout, shared.digest), true, 'a document a kept referrer uses too');
  assert.equal(await has(layout, ofOld.digest), false);
  const keptRef = parseImageRef(`oci:${layout}:kept`);
  const listed = await listReferrers(keptRef, kept.manifest.digest);
  assert.equal(listed.length, 2);
  for (const d of listed) {
    for (const b of (await openReferrer(keptRef, d)).blobs) await readAll(await b.open());
  }
});

test('when another entry of the layout cannot be read, nothing is dropped and the write goes on', async (t) => {
  const dir = await tempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const layout = join(dir, 'layout');
  const broken = await memoryImage({ layers: 1, seed: 6 });
  const old = await memoryImage({ layers: 1, seed: 7 });
  await writeLayoutDir(layout, 'broken', broken);
  await writeLayoutDir(layout, 'app', old, {}, attestations(old, 'old'));
  await rm(blobFile(layout, broken.config.digest));
  const fresh = await memoryImage({ layers: 1, seed: 8 });
  await writeLayoutDir(layout, 'app', fresh, {}, attestations(fresh, 'new'));
  const digests = (await indexOf(layout)).manifests.map((m) => m.digest);
  assert.equal(digests.length, 2 + 3 + 3);
  for (const r of attestations(old, 'old')) assert.equal(await has(layout, r.manifest.digest), true);
});
