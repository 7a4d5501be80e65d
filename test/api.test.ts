import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as distill from '../src/index.js';
import { writeArtifact } from '../src/media/index.js';
import { parseImageRef } from '../src/ref/transport.js';
import { Store } from '../src/store/store.js';
import { tempDir } from './helpers/components.js';
import { memoryImage } from './helpers/images.js';

/**
 * The package's entry point (src/index.ts, docs/API.md): the build and plan functions are there
 * (test/build and test/plan exercise them), and copy, inspect and compare work from it alone on
 * an OCI layout and a root filesystem.
 */
let dir = '';
before(async () => {
  dir = await tempDir('distill-api-');
});
after(() => rm(dir, { recursive: true, force: true }));

test('the entry point exports the plan and build functions the CLI runs', () => {
  for (const name of [
    'planApp',
    'buildApp',
    'planBase',
    'buildBase',
    'distillSources',
    'inspect',
    'compare',
    'copy',
  ]) {
    assert.equal(typeof (distill as Record<string, unknown>)[name], 'function', name);
  }
});

test('copy, inspect and compare from the entry point', async () => {
  const store = new Store(join(dir, 'store'));
  const image = await memoryImage({ layers: 2, seed: 7 });
  await writeArtifact(parseImageRef(`oci:${join(dir, 'a')}:x`), image, { store });
  const copied = await distill.copy(`oci:${join(dir, 'a')}:x`, `oci:${join(dir, 'b')}:y`, { store });
  assert.equal(copied.destination.digest, image.manifest.digest);

  const steps: string[] = [];
  const facts = await distill.inspect(`oci:${join(dir, 'b')}:y`, {
    media: { store },
    step: (m) => steps.push(m),
  });
  assert.equal(facts.source.manifestDigest, image.manifest.digest);
  assert.deepEqual(steps, [`inspecting oci:${join(dir, 'b')}:y`]);

  const root = join(dir, 'rootfs');
  await mkdir(join(root, 'bin'), { recursive: true });
  await writeFile(join(root, 'bin', 'sh'), '#!/bin/true\n', { mode: 0o755 });
  const { images, rows } = await distill.compare([`oci:${join(dir, 'a')}:x`, `rootfs:${root}`], {
    media: { store },
  });
  assert.deepEqual(
    images.map((i) => i.facts.source.kind),
    ['image', 'rootfs'],
  );
  assert.ok(rows.length > 0 && rows.every((r) => r.values.length === 2));
  assert.ok(
    rows.some((r) => r.differs),
    'an image and a root filesystem differ somewhere',
  );
  await assert.rejects(
    distill.inspect(`rootfs:${root}`, { platform: { os: 'linux', architecture: 'amd64' } }),
    (e) => distill.isDistillError(e, 'USAGE'),
  );
});
