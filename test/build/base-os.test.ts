import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/build/app/app.js';
import { baseOsKey } from '../../src/build/app/base-os.js';
import type { AppPlan } from '../../src/plan/app.js';
import { Store } from '../../src/store/store.js';
import {
  buildOfflineHello,
  type OfflineWorld,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';

/**
 * The `base-os` record (build/app/base-os.ts): distill's base images of an app build and their
 * shared libraries, by lock and epoch, so that a build that finds it (here or in a remote
 * cache) reads no `.deb`; a record that does not describe the image in the store is a miss.
 */
describe('base-os: the base images and libraries without the .debs', () => {
  const fx = useOfflineWorld('distill-base-os-');

  /** buildApp of `plan` again in the store under `d`, counting the .debs its sources fetch. */
  async function rebuild(w: OfflineWorld, d: string, plan: AppPlan) {
    const store = new Store(join(d, 'store'));
    const sources = w.sources(store);
    let debs = 0;
    const { artifact } = await buildApp(plan, {
      store,
      sources: {
        ...sources,
        fetchDeb: (p) => {
          debs++;
          return sources.fetchDeb(p);
        },
      },
      env: w.env(join(d, 'scratch')),
    });
    return { digest: artifact.manifest.digest, debs, store };
  }

  test('recorded by a cold build; a warm build reads no .deb and gives the same digest', async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const d = join(fx.dir, 'warm');
    const first = await buildOfflineHello(world, d);
    const plan = first.plan as AppPlan & { base: { kind: 'debian' } };
    const store = new Store(join(d, 'store'));
    const rec = await store.record('base-os').get(baseOsKey(plan));
    const amd64 = rec?.amd64;
    assert.ok(amd64, 'a base-os record for amd64');
    assert.ok(amd64.layers.length > 0);
    assert.ok(
      amd64.libraries.some(([soname]) => soname.startsWith('libc.so')),
      amd64.libraries.join(' '),
    );

    // Without the .deb files in the store: nothing fetches them again.
    for (const p of plan.base.lock.architectures.amd64 ?? []) {
      await rm(store.blobPath(`sha256:${p.sha256}`), { force: true });
    }
    const debs = world.repo.log.filter((e) => e.url.endsWith('.deb')).length;
    assert.ok(debs > 0, 'the cold build fetched the .debs');
    const again = await rebuild(world, d, plan);
    assert.equal(again.digest, first.digest);
    assert.equal(again.debs, 0);
    assert.equal(world.repo.log.filter((e) => e.url.endsWith('.deb')).length, debs);
  });

  test("a record whose layers are not the stored image's is a miss, built again and replaced", async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const d = join(fx.dir, 'tampered');
    const first = await buildOfflineHello(world, d);
    const plan = first.plan as AppPlan & { base: { kind: 'debian' } };
    const parts = baseOsKey(plan);
    const records = new Store(join(d, 'store')).record('base-os');
    const good = await records.get(parts);
    assert.ok(good?.amd64);
    const layers = good.amd64.layers.map((l, i) =>
      i === 0 ? { ...l, diffId: `sha256:${'0'.repeat(64)}` as const } : l,
    );
    await records.put(parts, { amd64: { ...good.amd64, layers, libraries: [] } });

    const again = await rebuild(world, d, plan);
    assert.equal(again.digest, first.digest);
    assert.deepEqual(await again.store.record('base-os').get(parts), good, 'the record is written again');
  });
});
