import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openRegistry, pushToRegistry } from '../../src/media/registry/index.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { requireComponents, startRegistry } from '../helpers/components.js';
import { assertLayersPull, makeImage, randomLayer } from '../helpers/registry-images.js';
import { startRegistryProxy } from '../helpers/registry-proxy.js';

/**
 * A layer with a source of its own on the registry pushed to (a remote build cache's, decision
 * 0036) is mounted without a HEAD first; when the mount is refused the writer asks, then
 * uploads only what the repository lacks. The real docker-registry behind a logging proxy.
 */
test('a layer with its own source: mounted without a HEAD; refused, asked, then uploaded only if missing', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startRegistryProxy(reg.host);
  t.after(() => proxy.stop());
  const cached = randomLayer(40_000);
  const here = randomLayer(30_000);
  const missing = randomLayer(20_000);
  await pushToRegistry(parseDockerReference(`${proxy.host}/cache/app:entry`), makeImage([cached]), {});
  // `here` is in the output repository already (an earlier push), but not in the cache.
  await pushToRegistry(parseDockerReference(`${proxy.host}/out/app:old`), makeImage([here]), {});

  const source = { registry: proxy.host, repository: 'cache/app' };
  const plain = makeImage([cached, here, missing]);
  const image = { ...plain, layers: plain.layers.map((l) => ({ ...l, registrySource: source })) };
  const from = proxy.log.length;
  await pushToRegistry(parseDockerReference(`${proxy.host}/out/app:1`), image, {});
  const log = proxy.log.slice(from);
  const about = (l: { descriptor: { digest: string } }) => {
    const d = l.descriptor.digest;
    return log.filter((e) => e.path.endsWith(`/blobs/${d}`) || e.query.includes(encodeURIComponent(d)));
  };
  const calls = (l: { descriptor: { digest: string } }) =>
    about(l).map(
      (e) =>
        `${e.method} ${e.query.includes('mount=') ? 'mount' : e.path.includes('/uploads/') ? 'upload' : 'blob'} ${e.status}`,
    );

  assert.deepEqual(calls(cached), ['POST mount 201'], 'mounted straight away, no HEAD');
  assert.deepEqual(calls(here), ['POST mount 202', 'HEAD blob 200'], 'refused, asked, not uploaded');
  assert.deepEqual(calls(missing).slice(0, 2), ['POST mount 202', 'HEAD blob 404']);
  const uploaded = log.filter((e) => e.method === 'PUT' && e.path.includes('/blobs/uploads/'));
  assert.ok(
    uploaded.some((e) => e.query.includes(encodeURIComponent(missing.descriptor.digest))),
    'the missing layer is uploaded',
  );
  assert.ok(!uploaded.some((e) => e.query.includes(encodeURIComponent(here.descriptor.digest))));
  // The image is whole: every layer pulls, verified.
  const pulled = await openRegistry(parseDockerReference(`${proxy.host}/out/app:1`), {});
  if (pulled.kind !== 'image') throw new Error('expected an image');
  await assertLayersPull(pulled, image);
});
