import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { CacheBackend } from '../../src/cache/backend.js';
import { RemoteCache } from '../../src/cache/cache.js';
import { encodeEntry, entryTag } from '../../src/cache/entry.js';
import { blobsOf } from '../../src/cache/kinds.js';
import { isDistillError } from '../../src/errors.js';
import { type Digest, digestOf } from '../../src/oci/digest.js';
import type { Descriptor } from '../../src/oci/types.js';
import { VerifyStream } from '../../src/oci/verify.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';
import { pseudoRandomBytes } from '../helpers/images.js';

/**
 * When a hit's layers stay in the cache (decision 0036): only when every output is a registry
 * on the cache's registry, where the push mounts them; otherwise they come in at the hit, where
 * a damaged blob is still a miss and a rebuild. The cache is an in-process stand-in serving one
 * `layer` entry, right or with its layer's bytes damaged (the real registry's path is
 * test/e2e/build-cache.test.ts's).
 */
const tar = pseudoRandomBytes(200_000, 36);
const gz = gzipSync(tar);
const layer = {
  descriptor: {
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    digest: digestOf(gz),
    size: gz.length,
  },
  diffId: digestOf(tar),
};
const parts = { salt: 'gzip:6:0', entries: digestOf('entries') };
const REGISTRY = '127.0.0.1:5999';

function backend(damaged: boolean): CacheBackend & { reads: Digest[] } {
  const { config, manifest } = encodeEntry(
    { kind: 'layer', version: 1, parts, at: Date.now(), value: layer },
    blobsOf('layer', layer),
  );
  const blobs = new Map<string, Buffer>([[manifest.config.digest, config]]);
  const served = Buffer.from(gz);
  if (damaged) served[served.length - 20] = (served[served.length - 20]! + 1) % 256;
  blobs.set(layer.descriptor.digest, served);
  const reads: Digest[] = [];
  return {
    reads,
    name: `docker://${REGISTRY}/cache/app`,
    source: { registry: REGISTRY, repository: 'cache/app' },
    manifest: async (tag) =>
      tag === entryTag('layer', 1, parts)
        ? { bytes: Buffer.from(JSON.stringify(manifest)), digest: digestOf(JSON.stringify(manifest)) }
        : undefined,
    openBlob: async (d: Descriptor) => {
      reads.push(d.digest);
      // As the registry reader does: verified against the descriptor as it is read.
      return Readable.from([blobs.get(d.digest)!]).pipe(new VerifyStream(d, `blob ${d.digest}`));
    },
    push: async () => {},
    tags: async () => [],
    deleteManifest: async () => {},
  };
}

describe('cache: layers left in the cache until read', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-cache-lazy-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function hit(name: string, outputs: string[], damaged = false) {
    const root = join(dir, name);
    const store = new Store(root);
    const cache = backend(damaged);
    const warnings: string[] = [];
    store.remote = new RemoteCache(store, { from: [cache], to: [], warn: (m) => warnings.push(m), outputs });
    const value = await store.record('layer').get(parts, { usable: (r) => store.has(r.descriptor.digest) });
    const blobs = (
      await readdir(join(root, 'blobs'), { recursive: true }).catch(() => [] as string[])
    ).filter((p) => /[0-9a-f]{64}$/.test(p));
    return { store, cache, warnings, value, blobs };
  }
  const d = layer.descriptor.digest;

  test('every output a registry on the cache registry: the layer stays there, mountable, read on demand', async () => {
    const r = await hit('mount', [`docker://${REGISTRY}/out/app:1`, `${REGISTRY}/out/app:latest`]);
    assert.deepEqual(r.value, layer);
    assert.deepEqual(r.warnings, []);
    assert.ok(!r.cache.reads.includes(d), 'the layer was not downloaded');
    assert.deepEqual(r.blobs, []);
    assert.equal(await r.store.has(d), true);
    assert.equal(r.store.localFile(d), undefined);
    assert.deepEqual(r.store.remoteSource(d), { registry: REGISTRY, repository: 'cache/app' });
    // Something reads it after all: it comes in then, verified, once.
    const [a, b] = await Promise.all([r.store.readBytes(d), r.store.readBytes(d)]);
    assert.ok(gz.equals(a) && gz.equals(b));
    assert.deepEqual(
      r.cache.reads.filter((x) => x === d),
      [d],
    );
  });

  test('a local output, another registry, or none given: the layer comes in at the hit', async () => {
    for (const [name, outputs] of [
      ['layout', [`oci:${join(dir, 'out')}:1`]],
      ['mixed', [`docker://${REGISTRY}/out/app:1`, 'docker-daemon:app:1']],
      ['other', ['docker://ghcr.io/acme/app:1']],
      ['none', []],
    ] as const) {
      const r = await hit(name, [...outputs]);
      assert.deepEqual(r.value, layer, name);
      assert.ok(r.cache.reads.includes(d), `${name}: downloaded at the hit`);
      assert.equal(await r.store.localSize(d), gz.length, name);
    }
  });

  test('a damaged layer brought in at the hit: a warning, a miss, nothing in the store', async () => {
    const r = await hit('damaged-local', [`oci:${join(dir, 'out')}:1`], true);
    assert.equal(r.value, undefined, 'a miss: the build makes the layer again');
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0]!,
      /ignored the cache entry docker:\/\/127\.0\.0\.1:5999\/cache\/app:layer-v1-/,
    );
    assert.deepEqual(r.blobs, []);
    assert.equal(await r.store.has(d), false);
  });

  test('a damaged layer left in the cache and read later: CACHE_BLOB_UNAVAILABLE, nothing in the store', async () => {
    const r = await hit('damaged-remote', [`docker://${REGISTRY}/out/app:1`], true);
    assert.deepEqual(r.value, layer, 'the entry passed its checks: a hit');
    await assert.rejects(r.store.open(d, layer.descriptor.size), (err: Error) => {
      assert.ok(isDistillError(err, 'CACHE_BLOB_UNAVAILABLE'), String(err));
      assert.match(
        err.message,
        new RegExp(`blob ${d} of the cache entry docker://127\\.0\\.0\\.1:5999/cache/app:layer-v1-`),
      );
      return true;
    });
    const left = await readdir(join(dir, 'damaged-remote'), { recursive: true });
    assert.deepEqual(
      left.filter((p) => /blobs\/.*[0-9a-f]{64}$|^tmp\/./.test(p)),
      [],
      'no blob and no temp file',
    );
    assert.equal(await r.store.has(d), false);
  });
});
