import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { digestOf } from '../../src/oci/digest.js';
import type { KeyParts } from '../../src/store/records.js';
import type { RemoteRecord, RemoteRecords, SharedKind } from '../../src/store/remote.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';

/**
 * The store's hook for a remote cache (src/store/remote.ts): which records go to it, when it is
 * asked, and that its answers obey the same rules as local records. The remote here is a map:
 * the registry behind it is test/e2e/build-cache.test.ts's.
 */
class MapRemote implements RemoteRecords {
  readonly entries = new Map<string, RemoteRecord>();
  readonly asked: string[] = [];
  readonly offered: string[] = [];
  async get(kind: SharedKind, version: number, parts: KeyParts) {
    this.asked.push(kind);
    return this.entries.get(JSON.stringify([kind, version, parts]));
  }
  put(kind: SharedKind, version: number, parts: KeyParts, record: RemoteRecord) {
    this.offered.push(kind);
    this.entries.set(JSON.stringify([kind, version, parts]), record);
  }
}

describe('store: a remote cache', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-store-remote-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const fresh = (name: string) => {
    const store = new Store(join(dir, name));
    const remote = new MapRemote();
    store.remote = remote;
    return { store, remote };
  };
  const layer = { descriptor: { mediaType: 'x', digest: digestOf('l'), size: 1 }, diffId: digestOf('t') };

  test('a value recorded is offered to the remote; another store finds it there and keeps it', async () => {
    const a = fresh('a');
    await a.store.record('layer').put({ k: 1 }, layer);
    assert.deepEqual(a.remote.offered, ['layer']);
    const b = fresh('b');
    b.remote.entries.set(JSON.stringify(['layer', 1, { k: 1 }]), a.remote.entries.values().next().value!);
    assert.deepEqual(await b.store.record('layer').get({ k: 1 }), layer);
    assert.deepEqual(b.remote.asked, ['layer']);
    // Kept locally: asked once.
    b.store.remote = undefined;
    assert.deepEqual(await b.store.record('layer').get({ k: 1 }), layer);
  });

  test('a local hit is offered (a warm runner fills the cache); a miss everywhere is a miss', async () => {
    const { store, remote } = fresh('c');
    store.remote = undefined;
    await store.record('layer').put({ k: 2 }, layer);
    store.remote = remote;
    assert.deepEqual(await store.record('layer').get({ k: 2 }), layer);
    assert.deepEqual(remote.asked, []);
    assert.deepEqual(remote.offered, ['layer']);
    assert.equal(await store.record('layer').get({ k: 3 }), undefined);
    assert.deepEqual(remote.asked, ['layer']);
  });

  test('kinds that are not shared never reach the remote', async () => {
    const { store, remote } = fresh('d');
    await store.record('dev-install-app').put({ app: 'x' }, 'tree');
    assert.equal(await store.record('dev-install-app').get({ app: 'y' }), undefined);
    assert.deepEqual(remote.asked, []);
    assert.deepEqual(remote.offered, []);
  });

  test("a remote record obeys the kind's time to live and the caller's usable check", async () => {
    const { store, remote } = fresh('e');
    const lock = { lock: {}, indexes: [] };
    remote.entries.set(JSON.stringify(['base-lock', 1, { r: 1 }]), {
      value: lock,
      at: Date.now() - 2 * 86_400_000,
    });
    assert.equal(await store.record('base-lock').get({ r: 1 }), undefined, 'older than a day');
    remote.entries.set(JSON.stringify(['layer', 1, { k: 4 }]), { value: layer, at: Date.now() });
    assert.equal(await store.record('layer').get({ k: 4 }, { usable: () => false }), undefined);
    assert.deepEqual(await store.record('layer').get({ k: 4 }, { usable: () => true }), layer);
  });

  test('local: true reads only the store: the remote is neither asked nor offered the hit', async () => {
    const { store, remote } = fresh('f');
    remote.entries.set(JSON.stringify(['layer', 1, { k: 5 }]), { value: layer, at: Date.now() });
    assert.equal(await store.record('layer').get({ k: 5 }, { local: true }), undefined);
    assert.deepEqual(remote.asked, []);
    store.remote = undefined;
    await store.record('layer').put({ k: 6 }, layer);
    store.remote = remote;
    assert.deepEqual(await store.record('layer').get({ k: 6 }, { local: true }), layer);
    assert.deepEqual(remote.asked, []);
    assert.deepEqual(remote.offered, []);
  });
});
