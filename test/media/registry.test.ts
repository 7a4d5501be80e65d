import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import {
  assertSchemeAllowed,
  isLoopbackHost,
  openRegistry,
  type ProgressEvent,
  pushToRegistry,
  registryBaseUrl,
  resolveRegistryDigest,
} from '../../src/media/registry/index.js';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { requireComponents, startRegistry } from '../helpers/components.js';
import {
  assertLayersPull,
  listTags,
  makeImage,
  makeIndex,
  prngLayer,
  randomLayer,
  readAll,
} from '../helpers/registry-images.js';
import { startRegistryProxy } from '../helpers/registry-proxy.js';

test('registryBaseUrl: HTTPS by default, HTTP for loopback hosts or with insecure', () => {
  assert.equal(registryBaseUrl('example.com:5000'), 'https://example.com:5000');
  assert.equal(registryBaseUrl('example.com:5000', true), 'http://example.com:5000');
  assert.equal(registryBaseUrl('docker.io'), 'https://registry-1.docker.io');
  assert.equal(registryBaseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
  assert.equal(registryBaseUrl('127.3.4.5'), 'http://127.3.4.5');
  assert.equal(registryBaseUrl('localhost:5000'), 'http://localhost:5000');
  assert.equal(registryBaseUrl('[::1]:5000'), 'http://[::1]:5000');
  assert.equal(isLoopbackHost('128.0.0.1'), false);
  assert.equal(isLoopbackHost('localhost.example.com'), false);
  assert.equal(isLoopbackHost('127.example.com'), false);
});

test('assertSchemeAllowed refuses plain HTTP to a non-loopback host without insecure', () => {
  assert.throws(
    () => assertSchemeAllowed(new URL('http://example.com:5000/token'), false, 'example.com:5000'),
    (err) =>
      isDistillError(err, 'INSECURE_REFUSED') &&
      /--insecure/.test(err.message) &&
      /example\.com/.test(err.message),
  );
  assertSchemeAllowed(new URL('http://example.com:5000/token'), true, 'example.com:5000');
  assertSchemeAllowed(new URL('https://example.com/token'), false, 'example.com');
  assertSchemeAllowed(new URL('http://127.0.0.1:5000/v2/'), false, '127.0.0.1:5000');
});

test('push then pull an image: same digest, verified bytes, skopeo agrees', async (t) => {
  if (!requireComponents(t, 'docker-registry', 'skopeo')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const image = makeImage([randomLayer(1000), randomLayer(300_000), randomLayer(0)]);
  const ref = parseDockerReference(`${reg.host}/distill/app:1.0`);
  const events: ProgressEvent[] = [];
  const { digest } = await pushToRegistry(ref, image, { onProgress: (e) => events.push(e) });
  assert.equal(digest, image.manifest.digest);
  assert.ok(events.some((e) => e.phase === 'push' && e.done === 300_000));

  const pulled = await openRegistry(ref);
  assert.equal(pulled.kind, 'image');
  if (pulled.kind !== 'image') return;
  assert.equal(pulled.manifest.digest, digest);
  assert.deepEqual(Buffer.from(pulled.manifest.bytes), Buffer.from(image.manifest.bytes));
  assert.equal(pulled.manifest.mediaType, MediaType.OciManifest);
  assert.deepEqual(Buffer.from(pulled.config.bytes), Buffer.from(image.config.bytes));
  await assertLayersPull(pulled, image);

  // by digest too
  const byDigest = await openRegistry(parseDockerReference(`${reg.host}/distill/app@${digest}`));
  assert.equal(byDigest.manifest.digest, digest);

  const resolved = await resolveRegistryDigest(ref);
  assert.deepEqual(resolved, { digest, mediaType: MediaType.OciManifest, size: image.manifest.bytes.length });

  const raw = execFileSync('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${reg.host}/distill/app:1.0`,
  ]);
  assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, digest);
  const info = JSON.parse(
    execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/distill/app:1.0`], {
      encoding: 'utf8',
    }),
  ) as { Digest: string; Layers: string[] };
  assert.equal(info.Digest, digest);
  assert.deepEqual(
    info.Layers,
    image.layers.map((l) => l.descriptor.digest),
  );

  // a second push uploads nothing: every blob is skipped
  const again: ProgressEvent[] = [];
  await pushToRegistry(ref, image, { onProgress: (e) => again.push(e) });
  assert.deepEqual(
    again.filter((e) => e.phase !== 'skip'),
    [],
  );
  assert.equal(again.length, 4);
});

test('push then pull an index with two platforms', async (t) => {
  if (!requireComponents(t, 'docker-registry', 'skopeo')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const shared = randomLayer(5000);
  const amd = makeImage([shared, randomLayer(2000)], { architecture: 'amd64', os: 'linux' });
  const arm = makeImage([shared, randomLayer(3000)], { architecture: 'arm64', os: 'linux' });
  const index = makeIndex([amd, arm]);
  const ref = parseDockerReference(`${reg.host}/distill/multi:latest`);
  const { digest } = await pushToRegistry(ref, index);
  assert.equal(digest, index.manifest.digest);

  const pulled = await openRegistry(ref);
  assert.equal(pulled.kind, 'index');
  if (pulled.kind !== 'index') return;
  assert.equal(pulled.manifest.digest, digest);
  assert.equal(pulled.manifest.mediaType, MediaType.OciIndex);
  const [d0, d1] = pulled.manifest.value.manifests;
  assert.ok(d0 && d1);
  const c0 = await pulled.child(d0);
  const c1 = await pulled.child(d1);
  assert.equal(c0.kind, 'image');
  assert.equal(c1.kind, 'image');
  if (c0.kind !== 'image' || c1.kind !== 'image') return;
  assert.equal(c0.config.value.architecture, 'amd64');
  assert.equal(c1.config.value.architecture, 'arm64');
  await assertLayersPull(c0, amd);
  await assertLayersPull(c1, arm);

  const raw = execFileSync('skopeo', [
    'inspect',
    '--raw',
    '--tls-verify=false',
    `docker://${reg.host}/distill/multi:latest`,
  ]);
  assert.equal(digestOf(raw), digest);
  // skopeo resolves the index to this machine's platform and reads that image's config
  const info = JSON.parse(
    execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${reg.host}/distill/multi:latest`], {
      encoding: 'utf8',
    }),
  ) as { Architecture: string };
  assert.ok(['amd64', 'arm64'].includes(info.Architecture));
});

test('push by digest only leaves no tag; pushing to a wrong digest is refused', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const image = makeImage([randomLayer(100)]);
  const ref = parseDockerReference(`${reg.host}/distill/bydigest@${image.manifest.digest}`);
  const { digest } = await pushToRegistry(ref, image);
  assert.equal(digest, image.manifest.digest);
  const pulled = await openRegistry(ref);
  assert.equal(pulled.manifest.digest, digest);
  assert.deepEqual(await listTags(reg.host, 'distill/bydigest'), []);
  await assert.rejects(
    pushToRegistry(parseDockerReference(`${reg.host}/distill/bydigest@${digestOf('other')}`), image),
    (err) => isDistillError(err, 'USAGE'),
  );
});

test('unknown tag gives MANIFEST_UNKNOWN naming the reference', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const ref = parseDockerReference(`${reg.host}/distill/none:nope`);
  await assert.rejects(
    openRegistry(ref),
    (err) => isDistillError(err, 'MANIFEST_UNKNOWN') && err.message.includes(`${reg.host}/distill/none:nope`),
  );
  await assert.rejects(resolveRegistryDigest(ref), (err) => isDistillError(err, 'MANIFEST_UNKNOWN'));
});

test('a manifest naming a blob the registry lacks: BLOB_MISSING on open', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const present = randomLayer(400);
  const image = makeImage([present]);
  const ref = parseDockerReference(`${reg.host}/distill/partial:1`);
  await pushToRegistry(ref, image);
  // A second manifest in the same repository that names one more layer, never uploaded. The
  // registry refuses such a manifest, so it is written as the image's own manifest would be,
  // and the missing blob is deleted after the push instead.
  const doomed = randomLayer(500);
  const image2 = makeImage([present, doomed]);
  const ref2 = parseDockerReference(`${reg.host}/distill/partial:2`);
  await pushToRegistry(ref2, image2);
  const del = await fetch(`http://${reg.host}/v2/distill/partial/blobs/${doomed.descriptor.digest}`, {
    method: 'DELETE',
  });
  assert.equal(del.status, 202);

  const pulled = await openRegistry(ref2);
  assert.equal(pulled.kind, 'image');
  if (pulled.kind !== 'image') return;
  await readAll(await pulled.layers[0]!.open());
  await assert.rejects(
    pulled.layers[1]!.open(),
    (err) => isDistillError(err, 'BLOB_MISSING') && err.message.includes(doomed.descriptor.digest),
  );
});

test('by default a big blob goes up in one streamed PATCH, read once, and pulls back intact', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startRegistryProxy(reg.host);
  t.after(() => proxy.stop());
  const big = await prngLayer(20 * 1024 * 1024 + 321, 9);
  const image = makeImage([big, randomLayer(100)]);
  const ref = parseDockerReference(`${proxy.host}/distill/streamed:1`);
  await pushToRegistry(ref, image);
  const patches = proxy.requests(/^PATCH /);
  assert.equal(patches.length, 1);
  assert.equal(patches[0]!.contentRange, `0-${big.descriptor.size - 1}`);
  assert.equal(patches[0]!.uploaded, big.descriptor.size);
  assert.equal(big.opens(), 1);
  const pulled = await openRegistry(parseDockerReference(`${reg.host}/distill/streamed:1`));
  if (pulled.kind !== 'image') throw new Error('expected an image');
  await assertLayersPull(pulled, image);
});

test('with chunkSize a big blob is pushed in PATCH chunks and pulled back intact', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startRegistryProxy(reg.host);
  t.after(() => proxy.stop());
  const big = await prngLayer(24 * 1024 * 1024 + 12345, 7);
  const image = makeImage([big, randomLayer(100)]);
  const ref = parseDockerReference(`${proxy.host}/distill/big:1`);
  const pushedBytes: number[] = [];
  await pushToRegistry(ref, image, {
    chunkSize: 16 * 1024 * 1024,
    onProgress: (e) => {
      if (e.digest === big.descriptor.digest && e.phase === 'push') pushedBytes.push(e.done);
    },
  });
  const patches = proxy.requests(/^PATCH /);
  assert.equal(patches.length, 2);
  assert.deepEqual(
    patches.map((p) => p.contentRange),
    [`0-${16 * 1024 * 1024 - 1}`, `${16 * 1024 * 1024}-${big.descriptor.size - 1}`],
  );
  assert.ok(patches.every((p) => p.status === 202));
  assert.deepEqual(pushedBytes, [16 * 1024 * 1024, big.descriptor.size]);
  assert.equal(big.opens(), 1);
  // exactly one final PUT for the big blob, with no body
  const puts = proxy.requests(new RegExp(`^PUT .*digest=sha256%3A${big.descriptor.digest.slice(7)}`));
  assert.equal(puts.length, 1);
  assert.equal(puts[0]!.uploaded, 0);

  const pulled = await openRegistry(parseDockerReference(`${reg.host}/distill/big:1`));
  if (pulled.kind !== 'image') throw new Error('expected an image');
  await assertLayersPull(pulled, image);
});

test('cross-repository mount: a blob from another repository is mounted, not uploaded', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startRegistryProxy(reg.host);
  t.after(() => proxy.stop());
  const base = randomLayer(50_000);
  const source = parseDockerReference(`${proxy.host}/distill/base:1`);
  await pushToRegistry(source, makeImage([base]));
  const app = randomLayer(1000);
  const image = makeImage([base, app]);
  const events: ProgressEvent[] = [];
  const ref = parseDockerReference(`${proxy.host}/distill/app:1`);
  proxy.log.length = 0;
  await pushToRegistry(ref, image, { sourceRepository: source, onProgress: (e) => events.push(e) });
  const mounts = proxy.requests(/^POST \/v2\/distill\/app\/blobs\/uploads\/\?mount=/);
  const mounted = mounts.filter((m) => m.status === 201);
  assert.equal(mounted.length, 1);
  assert.ok(mounted[0]!.query.includes(encodeURIComponent(base.descriptor.digest)));
  assert.ok(mounted[0]!.query.includes('from=distill%2Fbase'));
  // the other blobs were not in the source: the registry answered 202 and they were uploaded
  assert.ok(mounts.filter((m) => m.status === 202).length >= 2);
  assert.deepEqual(
    events.filter((e) => e.phase === 'mount').map((e) => e.digest),
    [base.descriptor.digest],
  );
  assert.equal(proxy.requests(new RegExp(`^PUT .*${base.descriptor.digest.slice(7)}`)).length, 0);
  const pulled = await openRegistry(ref);
  if (pulled.kind !== 'image') throw new Error('expected an image');
  await assertLayersPull(pulled, image);
});
