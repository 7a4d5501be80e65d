import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { openRegistry, pushToRegistry } from '../../src/media/registry/index.js';
import type { Image } from '../../src/oci/image.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { requireComponents, startRegistry } from '../helpers/components.js';
import { startFakeRegistry } from '../helpers/registry-fake.js';
import {
  assertLayersPull,
  digestStream,
  makeImage,
  prngLayer,
  randomLayer,
} from '../helpers/registry-images.js';
import { type RegistryProxy, startRegistryProxy } from '../helpers/registry-proxy.js';

/** A real registry with the fault-injecting proxy in front; both stop after the test. */
async function setup(
  t: import('node:test').TestContext,
): Promise<{ registry: string; proxy: RegistryProxy } | undefined> {
  if (!requireComponents(t, 'docker-registry')) return undefined;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startRegistryProxy(reg.host);
  t.after(() => proxy.stop());
  return { registry: reg.host, proxy };
}

function hex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

function asImage(a: Awaited<ReturnType<typeof openRegistry>>): Image {
  if (a.kind !== 'image') throw new Error('expected an image');
  return a;
}

test('a 503 answered once is retried and the push succeeds', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const layer = randomLayer(2000);
  const image = makeImage([layer]);
  const uploadPut = new RegExp(
    `^PUT /v2/distill/retry/blobs/uploads/.*digest=sha256%3A${hex(layer.descriptor.digest)}`,
  );
  proxy.failWith(uploadPut, 503, 1);
  proxy.failWith(/^PUT \/v2\/distill\/retry\/manifests\/1$/, 429, 1, { 'retry-after': '0' });
  const ref = parseDockerReference(`${proxy.host}/distill/retry:1`);
  const { digest } = await pushToRegistry(ref, image);
  assert.equal(digest, image.manifest.digest);
  const puts = proxy.requests(uploadPut);
  assert.deepEqual(
    puts.map((p) => [p.status, p.fault]),
    [
      [503, 'status'],
      [201, undefined],
    ],
  );
  assert.deepEqual(
    proxy.requests(/^PUT \/v2\/distill\/retry\/manifests\/1$/).map((p) => p.status),
    [429, 201],
  );
  await assertLayersPull(asImage(await openRegistry(ref)), image);
});

test('503 on every attempt: the pull fails with REGISTRY after the retries', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const image = makeImage([randomLayer(10)]);
  const ref = parseDockerReference(`${proxy.host}/distill/down:1`);
  await pushToRegistry(ref, image);
  proxy.failWith(/^GET \/v2\/distill\/down\/manifests\//, 503, 100, { 'retry-after': '0' });
  await assert.rejects(
    openRegistry(ref, { retries: 2 }),
    (err) =>
      isDistillError(err, 'REGISTRY') && /HTTP 503/.test(err.message) && err.message.includes(proxy.host),
  );
  assert.equal(proxy.requests(/^GET \/v2\/distill\/down\/manifests\//).length, 3);
});

test('a pull cut off mid-blob resumes with a Range request', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const layer = randomLayer(1_000_000);
  const image = makeImage([layer]);
  const ref = parseDockerReference(`${proxy.host}/distill/resume:1`);
  await pushToRegistry(ref, image);
  const blobGet = new RegExp(`^GET /v2/distill/resume/blobs/${layer.descriptor.digest}$`);
  proxy.cutResponse(blobGet, 300_000, 1);
  const pulled = asImage(await openRegistry(ref));
  const got = await digestStream(await pulled.layers[0]!.open());
  assert.deepEqual(got, { digest: layer.descriptor.digest, size: layer.descriptor.size });
  const gets = proxy.requests(blobGet);
  assert.equal(gets.length, 2);
  assert.equal(gets[0]!.fault, 'cut-response');
  assert.equal(gets[1]!.range, 'bytes=300000-');
  assert.equal(gets[1]!.status, 206);
  assert.equal(gets[1]!.contentRange, `bytes 300000-999999/1000000`);
});

test('a connection cut on every attempt: the blob stream fails with NETWORK after the retries', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const layer = randomLayer(200_000);
  const ref = parseDockerReference(`${proxy.host}/distill/flaky:1`);
  await pushToRegistry(ref, makeImage([layer]));
  const blobGet = new RegExp(`^GET /v2/distill/flaky/blobs/${layer.descriptor.digest}$`);
  proxy.cutResponse(blobGet, 1000, 100);
  const pulled = asImage(await openRegistry(ref, { retries: 2 }));
  await assert.rejects(digestStream(await pulled.layers[0]!.open()), (err) => isDistillError(err, 'NETWORK'));
  assert.equal(proxy.requests(blobGet).length, 3);
});

test('a corrupted blob fails the stream with DIGEST_MISMATCH', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const layer = randomLayer(50_000);
  const ref = parseDockerReference(`${proxy.host}/distill/corrupt:1`);
  await pushToRegistry(ref, makeImage([layer]));
  proxy.corruptResponse(new RegExp(`^GET /v2/distill/corrupt/blobs/${layer.descriptor.digest}$`), 1);
  const pulled = asImage(await openRegistry(ref));
  await assert.rejects(
    digestStream(await pulled.layers[0]!.open()),
    (err) => isDistillError(err, 'DIGEST_MISMATCH') && err.message.includes(layer.descriptor.digest),
  );
});

test('a corrupted config or manifest fetched by digest is refused with DIGEST_MISMATCH', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const image = makeImage([randomLayer(10)]);
  const ref = parseDockerReference(`${proxy.host}/distill/corrupt2:1`);
  await pushToRegistry(ref, image);
  proxy.corruptResponse(
    new RegExp(`^GET /v2/distill/corrupt2/blobs/${image.manifest.value.config.digest}$`),
    1,
  );
  await assert.rejects(openRegistry(ref), (err) => isDistillError(err, 'DIGEST_MISMATCH'));
  proxy.corruptResponse(/^GET \/v2\/distill\/corrupt2\/manifests\/sha256:/, 1);
  await assert.rejects(
    openRegistry(parseDockerReference(`${proxy.host}/distill/corrupt2@${image.manifest.digest}`)),
    (err) => isDistillError(err, 'DIGEST_MISMATCH'),
  );
});

test('a push cut off half-way and run again finishes and reuses what was uploaded', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const layers = [randomLayer(100_000), randomLayer(200_000), randomLayer(300_000), randomLayer(400_000)];
  const image = makeImage(layers);
  const victim = layers[2]!;
  const ref = parseDockerReference(`${proxy.host}/distill/interrupted:1`);
  // every attempt to upload the victim dies after 64 KiB
  proxy.cutUpload(
    new RegExp(`^PUT /v2/distill/interrupted/blobs/uploads/.*${hex(victim.descriptor.digest)}`),
    65_536,
  );
  await assert.rejects(
    pushToRegistry(ref, image, { retries: 2, concurrency: 2 }),
    (err) =>
      isDistillError(err, 'NETWORK') &&
      err.message.includes(victim.descriptor.digest) &&
      err.message.includes(proxy.host),
  );
  const victimPuts = proxy.requests(new RegExp(`^PUT .*${hex(victim.descriptor.digest)}`));
  assert.equal(victimPuts.length, 3);
  assert.ok(victimPuts.every((p) => p.fault === 'cut-upload'));
  assert.equal(proxy.requests(/^PUT \/v2\/distill\/interrupted\/manifests\//).length, 0);
  // the blobs whose upload completed in the first run
  const uploaded = new Set(
    proxy
      .requests(/^PUT \/v2\/distill\/interrupted\/blobs\/uploads\//)
      .filter((p) => p.status === 201)
      .map((p) => new URLSearchParams(p.query).get('digest')),
  );
  assert.ok(uploaded.size >= 1);

  proxy.clearFaults();
  proxy.log.length = 0;
  const { digest } = await pushToRegistry(ref, image);
  assert.equal(digest, image.manifest.digest);
  for (const d of uploaded) {
    assert.equal(proxy.requests(new RegExp(`^PUT .*${hex(d!)}`)).length, 0, `${d} was uploaded again`);
    assert.deepEqual(
      proxy.requests(new RegExp(`^HEAD /v2/distill/interrupted/blobs/${d}$`)).map((p) => p.status),
      [200],
    );
  }
  assert.equal(proxy.requests(new RegExp(`^PUT .*${hex(victim.descriptor.digest)}`)).length, 1);
  await assertLayersPull(asImage(await openRegistry(ref)), image);
});

test('a chunked upload whose PATCH is cut recovers and the blob arrives intact', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const big = await prngLayer(3 * 1024 * 1024 + 17, 11);
  const image = makeImage([big]);
  const ref = parseDockerReference(`${proxy.host}/distill/chunks:1`);
  // once the first chunk is in, the next PATCH dies after 100 KiB (once)
  let patches = 0;
  const chunkSize = 1024 * 1024;
  const { digest } = await pushToRegistry(ref, image, {
    chunkSize,
    monolithicMax: 1024,
    onProgress: (e) => {
      if (e.phase === 'push' && e.digest === big.descriptor.digest && ++patches === 1) {
        proxy.cutUpload(/^PATCH \/v2\/distill\/chunks\/blobs\/uploads\//, 100 * 1024, 1);
      }
    },
  });
  assert.equal(digest, image.manifest.digest);
  const log = proxy.requests(/^PATCH /);
  assert.equal(log.filter((p) => p.fault === 'cut-upload').length, 1);
  // after the cut: the upload status was asked for, then the blob went on (from the offset the
  // registry reported) or started over; either way all four chunks' worth arrived
  assert.ok(proxy.requests(/^GET \/v2\/distill\/chunks\/blobs\/uploads\//).length >= 1);
  await assertLayersPull(asImage(await openRegistry(ref)), image);
});

test('a streamed upload whose PATCH is cut goes on and the blob arrives intact', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  const big = await prngLayer(3 * 1024 * 1024 + 99, 12);
  const image = makeImage([big]);
  const ref = parseDockerReference(`${proxy.host}/distill/streamcut:1`);
  proxy.cutUpload(/^PATCH \/v2\/distill\/streamcut\/blobs\/uploads\//, 500 * 1024, 1);
  const { digest } = await pushToRegistry(ref, image, { monolithicMax: 1024 });
  assert.equal(digest, image.manifest.digest);
  const log = proxy.requests(/^PATCH /);
  assert.equal(log.filter((p) => p.fault === 'cut-upload').length, 1);
  assert.equal(log.filter((p) => p.status === 202).length, 1, 'one PATCH went through after the cut');
  await assertLayersPull(asImage(await openRegistry(ref)), image);
});

test('a chunked upload resumes from the offset the upload status reports', async (t) => {
  const fake = await startFakeRegistry();
  t.after(() => fake.stop());
  const big = await prngLayer(3 * 1024 * 1024 + 5, 3);
  const image = makeImage([big]);
  const ref = parseDockerReference(`${fake.host}/distill/resumable:1`);
  let armed = false;
  const { digest } = await pushToRegistry(ref, image, {
    chunkSize: 1024 * 1024,
    monolithicMax: 1024,
    onProgress: (e) => {
      // after the first chunk, the second PATCH breaks after 300000 bytes, which the registry keeps
      if (e.phase === 'push' && e.digest === big.descriptor.digest && !armed) {
        armed = true;
        fake.cutNextPatchAfter = 300_000;
      }
    },
  });
  assert.equal(digest, image.manifest.digest);
  const patches = fake.log.filter((e) => e.method === 'PATCH').map((e) => [e.contentRange, e.status]);
  const mib = 1024 * 1024;
  assert.deepEqual(patches, [
    [`0-${mib - 1}`, 202],
    [`${mib}-${2 * mib - 1}`, -1],
    [`${mib + 300_000}-${2 * mib - 1}`, 202],
    [`${2 * mib}-${3 * mib - 1}`, 202],
    [`${3 * mib}-${3 * mib + 4}`, 202],
  ]);
  // one upload session only: nothing started over
  assert.equal(fake.log.filter((e) => e.method === 'POST').length, 2); // the config and the big blob
  assert.equal(big.opens(), 1);
  const stored = fake.blobs.get(big.descriptor.digest);
  assert.equal(stored?.length, big.descriptor.size);
});

test('a registry that ignores Range: the resumed pull skips the bytes already delivered', async (t) => {
  const fake = await startFakeRegistry();
  t.after(() => fake.stop());
  const layer = randomLayer(700_000);
  const ref = parseDockerReference(`${fake.host}/distill/norange:1`);
  await pushToRegistry(ref, makeImage([layer]));
  fake.ignoreRange = true;
  const pulled = asImage(await openRegistry(ref));
  fake.cutNextBlobGetAfter = 250_000;
  const got = await digestStream(await pulled.layers[0]!.open());
  assert.deepEqual(got, { digest: layer.descriptor.digest, size: layer.descriptor.size });
  const gets = fake.log.filter((e) => e.method === 'GET' && e.url.endsWith(layer.descriptor.digest));
  assert.deepEqual(
    gets.map((g) => [g.range, g.status]),
    [
      [undefined, 200],
      ['bytes=250000-', 200],
    ],
  );
});

test('403 from the registry is AUTH_DENIED naming the registry', async (t) => {
  const env = await setup(t);
  if (!env) return;
  const { proxy } = env;
  proxy.failWith(/^GET \/v2\/distill\/forbidden\/manifests\//, 403, 1);
  await assert.rejects(
    openRegistry(parseDockerReference(`${proxy.host}/distill/forbidden:1`)),
    (err) => isDistillError(err, 'AUTH_DENIED') && err.message.includes(proxy.host),
  );
  // not retried: a refusal is an answer, not a failure
  assert.equal(proxy.requests(/^GET \/v2\/distill\/forbidden\/manifests\//).length, 1);
});
