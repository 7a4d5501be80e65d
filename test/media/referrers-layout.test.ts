import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { copy } from '../../src/media/copy.js';
import { openArtifact, writeArtifact } from '../../src/media/index.js';
import { pruneLayout } from '../../src/media/layout/write.js';
import type { Referrer } from '../../src/media/referrer.js';
import { listReferrers, openReferrer, subjectsOf, walkReferrers } from '../../src/media/referrers.js';
import { digestOf } from '../../src/oci/digest.js';
import type { Image } from '../../src/oci/image.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import {
  ArtifactType,
  artifactManifest,
  blobDescriptor,
  EMPTY_DESCRIPTOR,
  mergeReferrers,
  referrersTag,
} from '../../src/oci/referrers.js';
import type { Descriptor, IndexJson } from '../../src/oci/types.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { requireComponents, tempDir, which } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';
import { docAttachment, subjectOf } from '../helpers/referrers.js';
import { makeImage, makeIndex, randomLayer, readAll } from '../helpers/registry-images.js';

test('an artifact manifest is the image spec 1.1 shape, same inputs same bytes', () => {
  const subject: Descriptor = {
    mediaType: MediaType.OciManifest,
    digest: digestOf(Buffer.from('x')),
    size: 1,
  };
  const doc = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
  const req = {
    subject,
    artifactType: ArtifactType.Spdx,
    blobs: [{ descriptor: blobDescriptor(doc, ArtifactType.Spdx), bytes: doc }],
  };
  const m = artifactManifest(req);
  assert.equal(m.value.artifactType, 'application/spdx+json');
  assert.deepEqual(m.value.config, {
    mediaType: 'application/vnd.oci.empty.v1+json',
    digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    size: 2,
  });
  assert.deepEqual(m.value.subject, subject);
  assert.equal(m.value.layers.length, 1);
  assert.equal(m.value.layers[0]!.digest, digestOf(doc));
  assert.equal(m.digest, artifactManifest(req).digest);
  // No document: the empty descriptor is the one layer (image spec, "Guidelines for Artifact Usage").
  assert.deepEqual(artifactManifest({ ...req, blobs: [] }).value.layers, [EMPTY_DESCRIPTOR]);
});

test('the referrers tag and a merged list keep what others wrote', () => {
  const hex = 'a'.repeat(64);
  assert.equal(referrersTag(`sha256:${hex}` as never), `sha256-${hex}`);
  const d = (n: string): Descriptor => ({
    mediaType: MediaType.OciManifest,
    digest: digestOf(Buffer.from(n)),
    size: 1,
  });
  const merged = mergeReferrers([d('theirs'), d('mine')], [d('mine'), d('new')]);
  assert.deepEqual(
    merged.map((x) => x.digest),
    [d('theirs'), d('mine'), d('new')].map((x) => x.digest),
  );
});

describe('referrers in an OCI layout and an oci-archive', () => {
  let dir = '';
  let image: Image;
  let sbom: Referrer;
  let prov: Referrer;
  before(async () => {
    dir = await tempDir();
    image = await memoryImage({ layers: 2, layerSize: 3000 });
    sbom = docAttachment(subjectOf(image), ArtifactType.Spdx, 'sbom');
    prov = docAttachment(subjectOf(image), ArtifactType.InToto, 'provenance');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('index.json lists them with their subject; list and open read them back', async () => {
    const ref = parseImageRef(`oci:${join(dir, 'layout')}:v1`);
    await writeArtifact(ref, image, { referrers: [sbom, prov] });
    const index = JSON.parse(await readFile(join(dir, 'layout', 'index.json'), 'utf8')) as IndexJson;
    assert.equal(index.manifests.length, 3);
    const listed = index.manifests.filter((m) => m.artifactType !== undefined);
    assert.deepEqual(
      listed.map((m) => m.artifactType).sort(),
      [ArtifactType.InToto, ArtifactType.Spdx].sort(),
    );
    for (const m of listed) assert.equal(m.annotations?.['org.opencontainers.image.ref.name'], undefined);

    const found = await listReferrers(ref, image.manifest.digest);
    assert.deepEqual(found.map((d) => d.digest).sort(), [sbom.manifest.digest, prov.manifest.digest].sort());
    const one = found.find((d) => d.artifactType === ArtifactType.Spdx)!;
    assert.equal(one.annotations?.['org.example.note'], 'sbom');
    const opened = await openReferrer(ref, one);
    assert.deepEqual(Buffer.from(opened.manifest.bytes), Buffer.from(sbom.manifest.bytes));
    for (const [i, b] of opened.blobs.entries()) {
      assert.deepEqual(await readAll(await b.open()), await readAll(await sbom.blobs[i]!.open()));
    }
    // The image is still what an untagged read picks: artifacts are not images.
    const again = await openArtifact(parseImageRef(`oci:${join(dir, 'layout')}`));
    assert.equal(again.manifest.digest, image.manifest.digest);
    // Writing again lists each referrer once.
    await writeArtifact(ref, image, { referrers: [sbom] });
    const index2 = JSON.parse(await readFile(join(dir, 'layout', 'index.json'), 'utf8')) as IndexJson;
    assert.equal(index2.manifests.length, 3);
  });

  test('umoci and skopeo still read a layout holding referrers', async (t) => {
    if (!requireComponents(t, 'skopeo', 'umoci')) return;
    const layout = join(dir, 'layout');
    const out = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', `oci:${layout}:v1`], { encoding: 'utf8' }),
    );
    assert.equal(out.config.digest, image.manifest.value.config.digest);
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, join(dir, 'bundle')]);
    assert.ok((await readdir(join(dir, 'bundle', 'rootfs'))).length > 0);
  });

  test('oci-archive: the same listing', async () => {
    const ref = parseImageRef(`oci-archive:${join(dir, 'a.tar')}:v1`);
    await writeArtifact(ref, image, { referrers: [sbom, prov] });
    const found = await listReferrers(ref, image.manifest.digest);
    assert.equal(found.length, 2);
    const opened = await openReferrer(ref, found[0]!);
    for (const b of opened.blobs) await readAll(await b.open());
    if (which('skopeo')) execFileSync('skopeo', ['inspect', `oci-archive:${join(dir, 'a.tar')}:v1`]);
  });

  test('prune keeps referrers of a kept image and drops those of a gone one', async () => {
    const layout = join(dir, 'prune');
    const ref = parseImageRef(`oci:${layout}:v1`);
    await writeArtifact(ref, image, { referrers: [sbom] });
    await pruneLayout(layout);
    assert.equal((await listReferrers(ref, image.manifest.digest)).length, 1);
    const other = await memoryImage({ layers: 1, layerSize: 100 });
    await writeArtifact(ref, other); // the tag now names another image
    const removed = await pruneLayout(layout);
    assert.ok(removed >= 3, `removed ${removed}`);
    assert.deepEqual(await listReferrers(ref, image.manifest.digest), []);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as IndexJson;
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [other.manifest.digest],
    );
  });

  test('docker-archive: cannot hold referrers and says so', async () => {
    await assert.rejects(
      writeArtifact(parseImageRef(`docker-archive:${join(dir, 'd.tar')}`), image, { referrers: [sbom] }),
      (err) => isDistillError(err, 'REFERRERS_UNSUPPORTED'),
    );
  });
});

test('an index: referrers of the index and of each platform image are listed and carried by copy', async (t) => {
  const dir = await tempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const amd = makeImage([randomLayer(300)]);
  const arm = makeImage([randomLayer(200)], { architecture: 'arm64', os: 'linux' });
  const index = makeIndex([amd, arm]);
  const subjects = await subjectsOf(index);
  assert.deepEqual(
    subjects.map((s) => s.digest),
    [index.manifest.digest, amd.manifest.digest, arm.manifest.digest],
  );
  const refs = subjects.map((s, i) => docAttachment(s, ArtifactType.Spdx, `sbom ${i}`));
  const src = `oci:${join(dir, 'src')}:multi`;
  await writeArtifact(parseImageRef(src), index, { referrers: refs });
  const walked = await walkReferrers(parseImageRef(src), subjects);
  assert.deepEqual(
    walked.map((w) => [w.subject.digest, w.referrer.digest]),
    subjects.map((s, i) => [s.digest, refs[i]!.manifest.digest]),
  );
  assert.deepEqual(walked[2]!.subject.platform, { architecture: 'arm64', os: 'linux' });
  const copied = await copy(src, `oci-archive:${join(dir, 'multi.tar')}:multi`);
  assert.equal(copied.referrers.length, 3);
  const again = await walkReferrers(parseImageRef(`oci-archive:${join(dir, 'multi.tar')}`), subjects);
  assert.deepEqual(again, walked);
  // One platform picked: only that image's referrers go along (the index is not copied).
  const one = await copy(src, `oci:${join(dir, 'one')}`, {
    platform: { architecture: 'arm64', os: 'linux' },
  });
  assert.deepEqual(
    one.referrers.map((d) => d.digest),
    [refs[2]!.manifest.digest],
  );
});
