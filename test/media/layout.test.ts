import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { blobPath } from '../../src/media/blobs.js';
import { openArtifact } from '../../src/media/index.js';
import { pruneLayout, writeLayoutDir } from '../../src/media/layout/write.js';
import type { Image } from '../../src/oci/image.js';
import { buildIndex } from '../../src/oci/mutate.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { tempDir, which } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';

async function readAllLayers(image: Image): Promise<number> {
  let n = 0;
  for (const l of image.layers) for await (const c of await l.open()) n += (c as Buffer).length;
  return n;
}

describe('OCI layout, oci-archive and docker-archive', () => {
  let dir = '';
  let image: Image;
  before(async () => {
    dir = await tempDir();
    image = await memoryImage({ layers: 3, layerSize: 5000 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('several tags in one index.json; retagging replaces only that tag', async () => {
    const layout = join(dir, 'tags');
    const other = await memoryImage({ layers: 1, seed: 7 });
    await writeLayoutDir(layout, 'a', image);
    await writeLayoutDir(layout, 'b', other);
    await writeLayoutDir(layout, 'c', image);
    let index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    assert.deepEqual(
      index.manifests.map(
        (m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'],
      ),
      ['a', 'b', 'c'],
    );
    await writeLayoutDir(layout, 'b', image);
    index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    assert.equal(index.manifests.length, 3);
    for (const tag of ['a', 'b', 'c']) {
      const a = await openArtifact(parseImageRef(`oci:${layout}:${tag}`));
      assert.equal(a.manifest.digest, image.manifest.digest);
    }
    await assert.rejects(
      openArtifact(parseImageRef(`oci:${layout}`)),
      (e) => isDistillError(e, 'TAG_AMBIGUOUS') && /a, c, b/.test((e as Error).message),
    );
    await assert.rejects(openArtifact(parseImageRef(`oci:${layout}:zzz`)), (e) =>
      isDistillError(e, 'TAG_NOT_FOUND'),
    );
  });

  test('pruning keeps what the tags reach and removes what only a replaced image used', async () => {
    const layout = join(dir, 'prune');
    const old = await memoryImage({ layers: 2, seed: 11 });
    const other = await memoryImage({ layers: 1, seed: 12 });
    const platforms = buildIndex([await memoryImage({ layers: 1, seed: 13, architecture: 'arm64' })]);
    await writeLayoutDir(layout, 'app', old);
    await writeLayoutDir(layout, 'other', other);
    await writeLayoutDir(layout, 'multi', platforms);
    await writeLayoutDir(layout, 'app', image);
    const blobs = async () => new Set(await readdir(join(layout, 'blobs', 'sha256')));
    const hex = (d: string) => d.slice('sha256:'.length);
    const before = await blobs();
    // old's manifest, config and two layers are there but no longer tagged
    for (const d of [old.manifest.digest, old.config.digest, ...old.layers.map((l) => l.descriptor.digest)])
      assert.ok(before.has(hex(d)));
    await writeFile(join(layout, 'blobs', 'sha256', 'upload.tmp'), 'another writer');
    assert.equal(await pruneLayout(layout), 4);
    const left = await blobs();
    for (const d of [old.manifest.digest, old.config.digest, ...old.layers.map((l) => l.descriptor.digest)])
      assert.ok(!left.has(hex(d)), `${d} of the replaced image is gone`);
    assert.ok(left.has('upload.tmp'), 'a file that is not a finished blob is left alone');
    for (const tag of ['app', 'other', 'multi']) {
      const a = await openArtifact(parseImageRef(`oci:${layout}:${tag}`));
      if (a.kind === 'image') assert.ok((await readAllLayers(a)) > 0);
      else for (const c of a.manifest.value.manifests) assert.ok(left.has(hex(c.digest)));
    }
    assert.equal(await pruneLayout(layout), 0);
    // a layout whose tagged image lacks a blob is left as it was
    await rm(join(layout, blobPath(image.config)));
    await assert.rejects(pruneLayout(layout), (e) => isDistillError(e, 'BLOB_MISSING'));
    assert.ok((await blobs()).has(hex(other.manifest.digest)));
  });

  test('every medium round-trips the manifest digest and the bytes', async () => {
    const layout = join(dir, 'rt');
    await writeLayoutDir(layout, 'v1', image);
    const trips = [
      `oci-archive:${join(dir, 'rt.oci.tar')}:v1`,
      `docker-archive:${join(dir, 'rt.docker.tar')}:example/rt:v1`,
      `oci:${join(dir, 'rt2')}:v2`,
    ];
    let from = `oci:${layout}:v1`;
    const total = image.layers.reduce((n, l) => n + l.descriptor.size, 0);
    for (const to of trips) {
      const r = await distill(['copy', '-q', from, to]);
      assert.equal(r.code, 0, r.stderr);
      const back = await openArtifact(parseImageRef(to));
      assert.equal(back.manifest.digest, image.manifest.digest, to);
      assert.equal(back.kind, 'image');
      if (back.kind === 'image') assert.equal(await readAllLayers(back), total);
      from = to;
    }
    if (which('skopeo')) {
      const out = execFileSync('skopeo', ['inspect', `oci-archive:${join(dir, 'rt.oci.tar')}:v1`], {
        encoding: 'utf8',
      });
      assert.equal(JSON.parse(out).Digest, image.manifest.digest);
      const out2 = execFileSync('skopeo', ['inspect', `docker-archive:${join(dir, 'rt.docker.tar')}`], {
        encoding: 'utf8',
      });
      assert.equal(JSON.parse(out2).Layers.length, 3);
    }
  });

  test('an index keeps both platforms in a layout and an oci-archive', async () => {
    const arm = await memoryImage({ layers: 1, seed: 3, architecture: 'arm64' });
    const index = buildIndex([image, arm]);
    const layout = join(dir, 'idx');
    await writeLayoutDir(layout, 'multi', index);
    const archive = join(dir, 'idx.tar');
    const r = await distill([
      'copy',
      '-q',
      `oci:${layout}:multi`,
      `oci-archive:${archive}`,
      '--format',
      'json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).platforms, ['linux/amd64', 'linux/arm64/v8']);
    const back = await openArtifact(parseImageRef(`oci-archive:${archive}`));
    assert.equal(back.manifest.digest, index.manifest.digest);
    // a docker-archive holds one image: the platform must be chosen, and is honoured
    const bad = await distill([
      'copy',
      '-q',
      `oci:${layout}:multi`,
      `docker-archive:${join(dir, 'x.tar')}`,
      '--platform',
      'all',
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--platform/);
    const armTar = join(dir, 'arm.tar');
    const ok = await distill([
      'copy',
      '-q',
      `oci:${layout}:multi`,
      `docker-archive:${armTar}`,
      '--platform',
      'linux/arm64',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(
      (await openArtifact(parseImageRef(`docker-archive:${armTar}`))).manifest.digest,
      arm.manifest.digest,
    );
    const none = await distill([
      'copy',
      '-q',
      `oci:${layout}:multi`,
      `oci:${join(dir, 's390x')}`,
      '--platform',
      'linux/s390x',
    ]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no image for linux\/s390x; it has linux\/amd64, linux\/arm64\/v8/);
  });

  test('fault: a truncated archive is ARCHIVE_TRUNCATED and the destination is untouched', async () => {
    const archive = join(dir, 'trunc.tar');
    let r = await distill(['copy', '-q', `oci:${join(dir, 'rt')}:v1`, `oci-archive:${archive}`]);
    assert.equal(r.code, 0, r.stderr);
    const { size } = await stat(archive);
    await truncate(archive, Math.floor(size / 2) + 100);
    const dest = join(dir, 'trunc-dest');
    r = await distill(['copy', '-q', `oci-archive:${archive}`, `oci:${dest}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /truncated/);
    await assert.rejects(stat(join(dest, 'index.json')));
  });

  test('fault: a manifest naming a missing blob is BLOB_MISSING, and a failed copy leaves no blobs behind', async () => {
    const layout = join(dir, 'missing');
    await writeLayoutDir(layout, 'v1', image);
    await rm(join(layout, blobPath(image.layers[1]!.descriptor)));
    const dest = join(dir, 'missing-dest');
    const r = await distill(['copy', '-q', `oci:${layout}:v1`, `oci:${dest}:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no file blobs\/sha256\//);
    const left = await readdir(join(dest, 'blobs', 'sha256')).catch(() => []);
    assert.deepEqual(left, []);
    await assert.rejects(stat(join(dest, 'index.json')));
  });

  test('fault: a blob of the wrong size or content is rejected (SIZE_MISMATCH / DIGEST_MISMATCH)', async () => {
    const layout = join(dir, 'wrong');
    await writeLayoutDir(layout, 'v1', image);
    const p = join(layout, blobPath(image.layers[0]!.descriptor));
    const bytes = await readFile(p);
    await writeFile(p, Buffer.concat([bytes, Buffer.from('extra')]));
    let r = await distill(['copy', '-q', `oci:${layout}:v1`, `oci:${join(dir, 'wrong-dest')}:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /declares/);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(p, bytes);
    r = await distill(['copy', '-q', `oci:${layout}:v1`, `oci:${join(dir, 'wrong-dest')}:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not match its digest/);
    await assert.rejects(stat(join(dir, 'wrong-dest', 'index.json')));
  });

  test('usage errors exit 2 with one sentence and no stack', async () => {
    const cases = [
      ['copy', 'dir:/x', 'oci:/y'],
      ['copy', 'oci:x'],
      ['copy', '--bogus', 'a', 'b'],
      ['frobnicate'],
      ['copy', 'oci:x', 'oci:y', '--platform', 'linux'],
    ];
    for (const args of cases) {
      const r = await distill(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^distill( copy)?: /);
      assert.doesNotMatch(r.stderr, /\.ts:\d+/, 'no stack for a usage error');
    }
  });

  test('a non-layout, non-empty directory is refused as an oci: destination', async () => {
    const d = join(dir, 'notlayout');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'important.txt'), 'keep me');
    const r = await distill(['copy', '-q', `oci:${join(dir, 'rt')}:v1`, `oci:${d}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not an OCI layout/);
    assert.equal(await readFile(join(d, 'important.txt'), 'utf8'), 'keep me');
  });
});

describe('manifest formats', () => {
  test('--manifest-format docker writes Docker schema 2 media types, and oci converts back to the same digest', async (t) => {
    const dir = await tempDir();
    t.after(() => rm(dir, { recursive: true, force: true }));
    const image = await memoryImage({ layers: 2 });
    await writeLayoutDir(join(dir, 'oci'), 'v1', image);
    let r = await distill([
      'copy',
      '-q',
      `oci:${join(dir, 'oci')}:v1`,
      `oci:${join(dir, 'docker')}:v1`,
      '--manifest-format',
      'docker',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const docker = await openArtifact(parseImageRef(`oci:${join(dir, 'docker')}:v1`));
    assert.equal(docker.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(docker.kind, 'image');
    if (docker.kind !== 'image') return;
    assert.equal(docker.manifest.value.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.deepEqual(
      docker.manifest.value.layers.map((l) => l.mediaType),
      ['application/vnd.docker.image.rootfs.diff.tar', 'application/vnd.docker.image.rootfs.diff.tar'],
    );
    assert.notEqual(docker.manifest.digest, image.manifest.digest);
    r = await distill([
      'copy',
      '-q',
      `oci:${join(dir, 'docker')}:v1`,
      `oci:${join(dir, 'back')}:v1`,
      '--manifest-format',
      'oci',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const back = await openArtifact(parseImageRef(`oci:${join(dir, 'back')}:v1`));
    assert.equal(back.manifest.digest, image.manifest.digest);
  });
});

describe('layers from the cache', () => {
  test('are hard-linked into an oci: layout after a check, and a rotten cache file is refused', async (t) => {
    const dir = await tempDir();
    t.after(() => rm(dir, { recursive: true, force: true }));
    const { Store } = await import('../../src/store/store.js');
    const { cachedLayer, bytesEntry } = await import('../../src/build/layercache.js');
    const { appendLayers, emptyImage } = await import('../../src/oci/mutate.js');
    const store = new Store(join(dir, 'cache'));
    const layer = await cachedLayer(
      store,
      [bytesEntry('/hello.txt', Buffer.from('hello from the cache\n'))],
      {
        sourceDateEpoch: 0,
      },
    );
    assert.ok(layer.file?.startsWith(store.root));
    const image = appendLayers(emptyImage({ os: 'linux', architecture: 'amd64' }), { layer });
    await writeLayoutDir(join(dir, 'linked'), 'v1', image);
    const linked = await stat(join(dir, 'linked', blobPath(layer.descriptor)));
    assert.equal(linked.nlink, 2, 'hard link to the cache file');
    assert.equal(linked.ino, (await stat(layer.file!)).ino);
    const back = await openArtifact(parseImageRef(`oci:${join(dir, 'linked')}:v1`));
    assert.equal(back.manifest.digest, image.manifest.digest);

    const bytes = await readFile(layer.file!);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    await rm(layer.file!);
    await writeFile(layer.file!, bytes);
    await assert.rejects(writeLayoutDir(join(dir, 'rotten'), 'v1', image), (e) =>
      isDistillError(e, 'DIGEST_MISMATCH'),
    );
    await assert.rejects(stat(join(dir, 'rotten', blobPath(layer.descriptor))));
  });
});
