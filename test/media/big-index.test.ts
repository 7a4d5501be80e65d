import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { copyImage } from '../../src/media/copy.js';
import { openArtifact } from '../../src/media/index.js';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';

/**
 * Issue 13, finding 10 (last part): an index of 200,000 entries took 71 s to copy, because every
 * entry's image was loaded again (its manifest and config read, verified and parsed) only to find
 * that its blobs had all gone out already. An entry whose manifest has gone out is now skipped
 * before it is opened. The test makes such an index (three images, 200,000 entries naming them
 * with distinct platforms) and checks what the copies hold, not how long they took (bench/ and
 * the commit message carry the figures).
 */
const ENTRIES = 200_000;

test('finding 10c: a 200,000-entry index copies whole to oci: and oci-archive:', async (t) => {
  const dir = await tempDir('distill-big-index-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  const images: Awaited<ReturnType<typeof memoryImage>>[] = [];
  for (const seed of [1, 2, 3]) {
    const image = await memoryImage({ layers: 1, layerSize: 200, seed });
    await writeLayoutDir(src, `img${seed}`, image);
    images.push(image);
  }
  const manifests = Array.from({ length: ENTRIES }, (_, i) => {
    const m = images[i % images.length]!.manifest;
    return {
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.bytes.length,
      platform: { os: 'linux', architecture: 'amd64', variant: `v${i}` },
    };
  });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }));
  const hex = createHash('sha256').update(index).digest('hex');
  await writeFile(join(src, 'blobs', 'sha256', hex), index);
  await writeFile(
    join(src, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: MediaType.OciIndex,
          digest: `sha256:${hex}`,
          size: index.length,
          annotations: { 'org.opencontainers.image.ref.name': 'big' },
        },
      ],
    }),
  );

  const out = join(dir, 'out');
  const r = await copyImage(parseImageRef(`oci:${src}:big`), parseImageRef(`oci:${out}:big`));
  assert.equal(r.destination.digest, `sha256:${hex}`);
  assert.equal(r.platforms.length, ENTRIES);
  // The index, and each image's manifest, config and layer: 1 + 3 * 3 blobs, nothing else.
  const blobs = await readdir(join(out, 'blobs', 'sha256'));
  assert.equal(blobs.length, 10);
  assert.deepEqual(await readFile(join(out, 'blobs', 'sha256', hex)), index);
  const back = await openArtifact(parseImageRef(`oci:${out}:big`));
  assert.equal(back.kind, 'index');
  if (back.kind === 'index') {
    assert.equal(back.manifest.value.manifests.length, ENTRIES);
    const last = await back.child(back.manifest.value.manifests[ENTRIES - 1]!);
    assert.equal(last.manifest.digest, images[(ENTRIES - 1) % 3]!.manifest.digest);
  }

  const archive = join(dir, 'big.tar');
  const a = await copyImage(parseImageRef(`oci:${out}:big`), parseImageRef(`oci-archive:${archive}`));
  assert.equal(a.destination.digest, `sha256:${hex}`);
  const fromArchive = await openArtifact(parseImageRef(`oci-archive:${archive}`));
  assert.equal(fromArchive.manifest.digest, `sha256:${hex}`);
});
