import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { attachedSbom, attestOptions } from '../../src/cli/attest.js';
import { BASE_OPTIONS } from '../../src/cli/specs/base.js';
import { BUILD_OPTIONS } from '../../src/cli/specs/build.js';
import { isDistillError } from '../../src/errors.js';
import { copy } from '../../src/media/copy.js';
import { writeArtifact } from '../../src/media/index.js';
import type { Referrer } from '../../src/media/referrer.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import { ArtifactType } from '../../src/oci/referrers.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';
import { docAttachment, subjectOf } from '../helpers/referrers.js';
import { readAll } from '../helpers/registry-images.js';

interface Listed {
  digest: string;
  referrers: {
    subject: { digest: string };
    artifactType: string;
    digest: string;
    size: number;
    annotations: Record<string, string>;
  }[];
}

async function assertUnchanged(ref: string, subject: string, want: readonly Referrer[]): Promise<void> {
  const found = await listReferrers(parseImageRef(ref), subject as never);
  assert.deepEqual(found.map((d) => d.digest).sort(), want.map((r) => r.manifest.digest).sort(), ref);
  for (const r of want) {
    const got = await openReferrer(parseImageRef(ref), found.find((d) => d.digest === r.manifest.digest)!);
    assert.deepEqual(Buffer.from(got.manifest.bytes), Buffer.from(r.manifest.bytes));
    for (const [i, b] of got.blobs.entries()) {
      assert.equal(b.descriptor.digest, r.blobs[i]!.descriptor.digest);
      assert.deepEqual(await readAll(await b.open()), await readAll(await r.blobs[i]!.open()));
    }
  }
}

test('attached on docker-registry, listed by distill attestations, carried by distill copy', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const [a, b] = await Promise.all([startRegistry(), startRegistry()]);
  const dir = await tempDir();
  t.after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await rm(dir, { recursive: true, force: true });
  });
  const image = await memoryImage({ layers: 2, layerSize: 4000 });
  const sbom = docAttachment(subjectOf(image), ArtifactType.Spdx, 'sbom');
  const prov = docAttachment(subjectOf(image), ArtifactType.InToto, 'provenance');
  // A signature on the SBOM: a referrer of a referrer goes along too.
  const sig = docAttachment(
    { mediaType: sbom.manifest.mediaType, digest: sbom.manifest.digest, size: sbom.manifest.bytes.length },
    'application/vnd.example.signature',
    'sig',
  );
  const src = `docker://${a.host}/acme/app:1`;
  await writeArtifact(parseImageRef(src), image, { referrers: [sbom, prov, sig] });

  const listed = await distill(['attestations', src, '--format', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  const json = JSON.parse(listed.stdout) as Listed;
  assert.equal(json.digest, image.manifest.digest);
  assert.deepEqual(
    json.referrers.map((r) => [r.subject.digest, r.artifactType, r.digest]),
    [
      [image.manifest.digest, ArtifactType.Spdx, sbom.manifest.digest],
      [image.manifest.digest, ArtifactType.InToto, prov.manifest.digest],
      [sbom.manifest.digest, 'application/vnd.example.signature', sig.manifest.digest],
    ],
  );
  assert.equal(json.referrers[0]!.annotations['org.example.note'], 'sbom');
  assert.equal(json.referrers[0]!.size, sbom.manifest.bytes.length);
  const text = await distill(['attestations', src]);
  assert.match(text.stdout, /application\/spdx\+json {2}sha256:[0-9a-f]{64}/);
  assert.match(text.stdout, /org\.example\.note=provenance/);

  const layout = `oci:${join(dir, 'layout')}:1`;
  const toLayout = await distill(['copy', src, layout, '--format', 'json']);
  assert.equal(toLayout.code, 0, toLayout.stderr);
  assert.equal((JSON.parse(toLayout.stdout) as { referrers: unknown[] }).referrers.length, 3);
  await assertUnchanged(layout, image.manifest.digest, [sbom, prov]);
  await assertUnchanged(layout, sbom.manifest.digest, [sig]);

  // From the layout to a second registry: same manifests, same blobs.
  const dst = `docker://${b.host}/other/app:1`;
  const toRegistry = await distill(['copy', layout, dst]);
  assert.equal(toRegistry.code, 0, toRegistry.stderr);
  assert.match(toRegistry.stdout, /with 3 referrers/);
  await assertUnchanged(dst, image.manifest.digest, [sbom, prov]);
  await assertUnchanged(dst, sbom.manifest.digest, [sig]);
  const again = JSON.parse((await distill(['attestations', dst, '--format', 'json'])).stdout) as Listed;
  assert.deepEqual(again.referrers, json.referrers);
});

test('copy --no-referrers, and destinations that cannot hold them', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  const dir = await tempDir();
  t.after(async () => {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const image = await memoryImage({ layers: 1, layerSize: 1000 });
  const src = `docker://${reg.host}/acme/app:1`;
  await writeArtifact(parseImageRef(src), image, {
    referrers: [docAttachment(subjectOf(image), ArtifactType.Spdx, 's')],
  });

  const none = `oci:${join(dir, 'none')}`;
  assert.equal((await distill(['copy', '--no-referrers', src, none])).code, 0);
  assert.deepEqual(await listReferrers(parseImageRef(none), image.manifest.digest), []);
  const empty = await distill(['attestations', none]);
  assert.match(empty.stdout, /has nothing attached/);

  // docker-archive: holds no referrers: by default the image alone, asked for: refused, nothing written.
  const archive = join(dir, 'd.tar');
  const plain = await copy(src, `docker-archive:${archive}`);
  assert.deepEqual(plain.referrers, []);
  await assert.rejects(copy(src, `docker-archive:${join(dir, 'e.tar')}`, { referrers: true }), (err) =>
    isDistillError(err, 'REFERRERS_UNSUPPORTED'),
  );
  const refused = await distill(['copy', '--referrers', src, `docker-archive:${join(dir, 'f.tar')}`]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /docker-archive: holds no referrers/);
  const both = await distill(['copy', '--referrers', '--no-referrers', src, none]);
  assert.equal(both.code, 2);
  // Converting the manifests changes the digests the referrers name: not carried, and refused if asked.
  const converted = await copy(src, `oci:${join(dir, 'conv')}`, { format: 'docker' });
  assert.deepEqual(converted.referrers, []);
  await assert.rejects(copy(src, `oci:${join(dir, 'conv2')}`, { format: 'docker', referrers: true }), (err) =>
    isDistillError(err, 'USAGE'),
  );
});

test('--attest, --sbom and --attest-timestamps as build options; the flags a provenance records', async () => {
  assert.equal(attestOptions({}, 'build'), undefined);
  const o = attestOptions(
    { attest: 'provenance', platform: 'linux/amd64', creds: 'u:secret', output: ['oci:x'], node: '24' },
    'build',
  );
  assert.deepEqual(o, {
    provenance: true,
    sbom: false,
    request: { command: 'build', flags: { attest: 'provenance', node: '24', platform: 'linux/amd64' } },
  });
  // The recorded flags keep the order localeCompare gives every option of build and base.
  for (const options of [BUILD_OPTIONS, BASE_OPTIONS]) {
    const names = options.map((opt) => opt.name);
    const every = attestOptions({ ...Object.fromEntries(names.map((n) => [n, n])), attest: 'sbom' }, 'build');
    const recorded = Object.keys(every?.request?.flags ?? {});
    assert.ok(recorded.length > 10, `${recorded.length} flags`);
    assert.deepEqual(
      recorded,
      [...recorded].sort((a, b) => a.localeCompare(b)),
    );
  }
  assert.deepEqual(attestOptions({ sbom: true }, 'base')?.sbom, true);
  assert.match(
    attestOptions({ attest: 'provenance', 'attest-timestamps': true }, 'build')?.startedOn ?? '',
    /^\d{4}-/,
  );
  assert.throws(
    () => attestOptions({ attest: 'slsa' }, 'build'),
    (err) => isDistillError(err, 'USAGE'),
  );
  assert.throws(
    () => attestOptions({ 'attest-timestamps': true }, 'build'),
    (err) => isDistillError(err, 'USAGE'),
  );
  const bad = await distill(['build', '--attest', 'slsa', '.']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--attest takes sbom and provenance/);
});

test('distill sbom REF --attached: the attached SBOM, byte for byte; none attached is its own error', async (t) => {
  const dir = await tempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const image = await memoryImage({ layers: 1, layerSize: 500 });
  const sbom = docAttachment(subjectOf(image), ArtifactType.Spdx, 'the sbom');
  const ref = `oci:${join(dir, 'layout')}:1`;
  await writeArtifact(parseImageRef(ref), image, {
    referrers: [sbom, docAttachment(subjectOf(image), ArtifactType.InToto, 'prov')],
  });
  const want = await readAll(await sbom.blobs[1]!.open());
  const out = await distill(['sbom', ref, '--attached']);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, `${want.toString()}\n`);
  const file = join(dir, 'sbom.spdx.json');
  assert.equal((await distill(['sbom', ref, '--attached', '-o', file, '-q'])).code, 0);
  assert.deepEqual(await readFile(file), want);
  const cdx = await distill(['sbom', ref, '--attached', '--format', 'cyclonedx-json']);
  assert.equal(cdx.code, 1);
  assert.match(cdx.stderr, /has no cyclonedx-json SBOM attached/);
  await assert.rejects(attachedSbom(ref, undefined, 'cyclonedx-json', {}), (err) =>
    isDistillError(err, 'ATTESTATION_NOT_FOUND'),
  );
});
