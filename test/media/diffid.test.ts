import assert from 'node:assert/strict';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isDistillError } from '../../src/errors.js';
import { inspectImage } from '../../src/inspect/index.js';
import { copyImage } from '../../src/media/copy.js';
import { openArtifact } from '../../src/media/index.js';
import { openRegistry, pushToRegistry } from '../../src/media/registry/index.js';
import type { Digest } from '../../src/oci/digest.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import {
  blobFile,
  mediaChild,
  type RawLayer,
  rawLayer,
  snapshot,
  writeRawLayout,
} from '../helpers/hostile.js';

/**
 * Issue 13, finding 4: a config whose rootfs.diff_ids do not describe its layers. inspect inflates
 * every layer anyway and checks it there; every writer checks it on the way (inflating a
 * compressed layer beside the copy), so such an image is never written anywhere.
 */

const WRONG = `sha256:${'0'.repeat(64)}` as Digest;

function open(ref: string) {
  return openArtifact(parseImageRef(ref));
}

describe('issue 13 finding 4: rootfs.diff_ids are checked wherever layer bytes pass', () => {
  let dir = '';
  const layouts: Record<'gzip' | 'plain', string> = { gzip: '', plain: '' };
  let goodGzip = '';
  before(async () => {
    dir = await tempDir('distill-diffid-');
    for (const kind of ['gzip', 'plain'] as const) {
      const ok = await rawLayer(6000, 31, kind === 'gzip');
      const bad = await rawLayer(9000, 32, kind === 'gzip');
      layouts[kind] = join(dir, `wrong-${kind}`);
      await writeRawLayout(layouts[kind], 'v1', [ok, { ...bad, diffId: WRONG }]);
    }
    goodGzip = join(dir, 'good-gzip');
    await writeRawLayout(goodGzip, 'v1', [await rawLayer(6000, 33, true), await rawLayer(9000, 34, true)]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const kind of ['gzip', 'plain'] as const) {
    test(`finding 4 (${kind}): inspect refuses a layer its config's diff_id does not describe`, async () => {
      const image = await open(`oci:${layouts[kind]}:v1`);
      assert.equal(image.kind, 'image');
      if (image.kind !== 'image') return;
      await assert.rejects(inspectImage(image), (e) => {
        assert.ok(isDistillError(e, 'DIFF_ID_MISMATCH'), String(e));
        assert.match((e as Error).message, /layer 1 .*rootfs\.diff_ids says sha256:0{64}/);
        return true;
      });
      const r = await distill(['inspect', `oci:${layouts[kind]}:v1`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /rootfs\.diff_ids/);
    });

    test(`finding 4 (${kind}): copy to oci:, oci-archive: and docker-archive: refuses it and writes nothing`, async () => {
      for (const [transport, path] of [
        ['oci', join(dir, `out-${kind}`)],
        ['oci-archive', join(dir, `out-${kind}.tar`)],
        ['docker-archive', join(dir, `out-${kind}.docker.tar`)],
      ] as const) {
        await assert.rejects(
          copyImage(parseImageRef(`oci:${layouts[kind]}:v1`), parseImageRef(`${transport}:${path}`)),
          (e) => isDistillError(e, 'DIFF_ID_MISMATCH'),
        );
        await assert.rejects(stat(path), `${transport}: nothing written`);
      }
    });
  }

  test('finding 4: an existing layout is left as it was when the copy into it fails on a diff_id', async () => {
    const layout = join(dir, 'existing');
    await copyImage(parseImageRef(`oci:${goodGzip}:v1`), parseImageRef(`oci:${layout}:good`));
    const before = await snapshot(layout);
    await assert.rejects(
      copyImage(parseImageRef(`oci:${layouts.gzip}:v1`), parseImageRef(`oci:${layout}:bad`)),
      (e) => isDistillError(e, 'DIFF_ID_MISMATCH'),
    );
    assert.deepEqual(await snapshot(layout), before);
  });

  test('finding 4: a push refuses it before the manifest goes up, whole, streamed or in chunks', async (t) => {
    if (!requireComponents(t, 'docker-registry')) return;
    const reg = await startRegistry();
    t.after(() => reg.stop());
    const image = await open(`oci:${layouts.gzip}:v1`);
    assert.equal(image.kind, 'image');
    if (image.kind !== 'image') return;
    const bad = image.layers[1]!.descriptor;
    for (const [mode, opts] of [
      ['whole', {}],
      ['streamed', { monolithicMax: 0 }],
      ['chunked', { monolithicMax: 0, chunkSize: 4096 }],
    ] as const) {
      const ref = parseDockerReference(`${reg.host}/diffid/${mode}:v1`);
      await assert.rejects(pushToRegistry(ref, image, opts), (e) => isDistillError(e, 'DIFF_ID_MISMATCH'));
      await assert.rejects(openRegistry(ref), (e) => isDistillError(e, 'MANIFEST_UNKNOWN'), mode);
      const res = await fetch(`http://${reg.host}/v2/diffid/${mode}/blobs/${bad.digest}`, { method: 'HEAD' });
      assert.equal(res.status, 404, `${mode}: the layer was not committed`);
    }
  });

  test('finding 4: docker-daemon: refuses it, and the engine loads nothing', async (t) => {
    if (!requireComponents(t, 'docker')) return;
    const name = `distill-test-diffid/${process.pid}:bad`;
    t.after(() => removeImages([name]));
    const r = mediaChild(['copy', `oci:${layouts.gzip}:v1`, `docker-daemon:${name}`]);
    assert.equal(r.timedOut, false);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 'DIFF_ID_MISMATCH', r.message);
    assert.throws(() => docker(['image', 'inspect', name]));
  });

  test('finding 4: the right diff_ids pass, and docker load accepts the docker-archive', async (t) => {
    const archive = join(dir, 'good.docker.tar');
    await copyImage(
      parseImageRef(`oci:${goodGzip}:v1`),
      parseImageRef(`docker-archive:${archive}:distill-test-diffid/good:${process.pid}`),
    );
    const image = await open(`docker-archive:${archive}`);
    assert.equal(image.kind, 'image');
    if (image.kind === 'image') assert.equal((await inspectImage(image)).layers.length, 2);
    if (!requireComponents(t, 'docker')) return;
    const name = `distill-test-diffid/good:${process.pid}`;
    t.after(() => removeImages([name]));
    const out = docker(['load', '-i', archive]);
    assert.match(out, /Loaded image/);
    assert.match(docker(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', name]), /^2/);
  });

  test('finding 4: the config must list one diff_id per layer (CONFIG_INVALID)', async () => {
    const layout = join(dir, 'count');
    const a = await rawLayer(100, 35, true);
    await writeRawLayout(layout, 'v1', [a, await rawLayer(100, 36, true)], [a.diffId]);
    await assert.rejects(open(`oci:${layout}:v1`), (e) => {
      assert.ok(isDistillError(e, 'CONFIG_INVALID'), String(e));
      assert.match((e as Error).message, /has 1 entries but the manifest lists 2 layers/);
      return true;
    });
  });

  test('a gzip layer whose bytes match their digest but do not inflate is LAYER_INVALID on copy', async () => {
    const layout = join(dir, 'corrupt');
    const good = await rawLayer(20_000, 37, true);
    const bytes = Buffer.from(good.bytes);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff; // inside the deflate data
    const corrupt: RawLayer = { bytes, mediaType: good.mediaType, diffId: good.diffId };
    await writeRawLayout(layout, 'v1', [corrupt]);
    await assert.rejects(
      copyImage(parseImageRef(`oci:${layout}:v1`), parseImageRef(`oci-archive:${join(dir, 'corrupt.tar')}`)),
      (e) => isDistillError(e, 'LAYER_INVALID') || isDistillError(e, 'DIFF_ID_MISMATCH'),
    );
    await assert.rejects(stat(join(dir, 'corrupt.tar')));
  });

  test('a blob of a media type that is no filesystem layer is copied as it is, with no diff_id check', async () => {
    const layout = join(dir, 'artifact');
    const data: RawLayer = {
      bytes: gzipSync(Buffer.from('not a tar')),
      mediaType: 'application/vnd.example.data',
      diffId: WRONG,
    };
    const raw = await writeRawLayout(layout, 'v1', [data]);
    await copyImage(parseImageRef(`oci:${layout}:v1`), parseImageRef(`oci:${join(dir, 'artifact-out')}:v1`));
    assert.deepEqual(await readFile(blobFile(join(dir, 'artifact-out'), raw.layers[0]!)), data.bytes);
  });
});
