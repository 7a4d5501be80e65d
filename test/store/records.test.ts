import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { digestOf } from '../../src/oci/digest.js';
import { RECORD_KINDS, type RecordIo, Records, recordName } from '../../src/store/records.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';

/** A RecordIo over a store's meta/ directory, as the store lays it out (to read it with another spec). */
function metaIo(store: Store): RecordIo {
  const path = (name: string) => join(store.root, 'meta', name);
  return {
    read: (name) => readFile(path(name), 'utf8').then(JSON.parse, () => undefined),
    write: async (name, file) => {
      await mkdir(join(store.root, 'meta'), { recursive: true });
      await writeFile(path(name), JSON.stringify(file));
    },
    remove: (name) => rm(path(name), { force: true }),
  };
}

const LAYER = { descriptor: { mediaType: 'x', digest: digestOf('l'), size: 1 }, diffId: digestOf('d') };

describe('store records', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-records-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a record round trips by structured parts; key order does not matter, other parts miss', async () => {
    const store = new Store(join(dir, 'a'));
    const layers = store.record('layer');
    assert.equal(await layers.get({ salt: 's', entries: digestOf('e') }), undefined);
    await layers.put({ salt: 's', entries: digestOf('e') }, LAYER);
    assert.deepEqual(await layers.get({ entries: digestOf('e'), salt: 's' }), LAYER);
    assert.equal(await layers.get({ salt: 't', entries: digestOf('e') }), undefined);
    // Another kind with the same parts is another record.
    assert.equal(await store.record('node-modules').get({ salt: 's', entries: digestOf('e') }), undefined);
    const files = await readdir(join(store.root, 'meta'));
    assert.deepEqual(files, [
      recordName('layer', RECORD_KINDS.layer.version, { salt: 's', entries: digestOf('e') }),
    ]);
    const file = JSON.parse(await readFile(join(store.root, 'meta', files[0]!), 'utf8'));
    assert.equal(file.kind, 'layer');
    assert.equal(file.version, RECORD_KINDS.layer.version);
    assert.deepEqual(file.parts, { salt: 's', entries: digestOf('e') });
  });

  test('a bumped version misses records of the old one, and a file claiming another version is ignored', async () => {
    const store = new Store(join(dir, 'b'));
    const v1 = new Records(metaIo(store), 'layer', { ...RECORD_KINDS.layer, version: 1 });
    const v2 = new Records(metaIo(store), 'layer', { ...RECORD_KINDS.layer, version: 2 });
    await v1.put('k', LAYER);
    assert.deepEqual(await v1.get('k'), LAYER);
    assert.equal(await v2.get('k'), undefined);
    // A v1 file copied under the v2 name (a collision, or a hand edit) is still not a v2 record.
    const text = await readFile(join(store.root, 'meta', v1.name('k')), 'utf8');
    await writeFile(join(store.root, 'meta', v2.name('k')), text);
    assert.equal(await v2.get('k'), undefined);
    // A torn file is a miss, not an error (the store's own reader; layer is at version 1).
    assert.equal(RECORD_KINDS.layer.version, 1);
    assert.deepEqual(await store.record('layer').get('k'), LAYER);
    await writeFile(join(store.root, 'meta', v1.name('k')), '{"kind":"lay');
    assert.equal(await store.record('layer').get('k'), undefined);
  });

  test("time to live: the kind's default, a caller's override, and refresh", async () => {
    const store = new Store(join(dir, 'c'));
    let calls = 0;
    const resolve = async () => ({ version: `24.${++calls}.0` });
    const parts = { spec: '24', archs: ['amd64'], mirror: '' };
    assert.deepEqual(await store.remember('build-pm', parts, resolve), { version: '24.1.0' });
    assert.deepEqual(
      await store.remember('build-pm', parts, resolve),
      { version: '24.1.0' },
      'fresh: remembered',
    );
    assert.deepEqual(await store.remember('build-pm', parts, resolve, { refresh: true }), {
      version: '24.2.0',
    });
    assert.deepEqual(await store.remember('build-pm', parts, resolve), { version: '24.2.0' });
    // Two days old: past build-pm's one-day default, but within a caller's longer TTL.
    const name = store.record('build-pm').name(parts);
    const path = join(store.root, 'meta', name);
    const file = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...file, at: Date.now() - 2 * 86_400_000 }));
    assert.equal(RECORD_KINDS['build-pm'].ttlMs, 86_400_000);
    assert.deepEqual(await store.record('build-pm').get(parts, { ttlMs: 3 * 86_400_000 }), {
      version: '24.2.0',
    });
    assert.equal(await store.record('build-pm').get(parts), undefined);
    assert.deepEqual(await store.remember('build-pm', parts, resolve), { version: '24.3.0' });
    // Kinds without a TTL keep records forever; a caller can still ask for a fresh one.
    await store.record('layer').put('x', LAYER);
    assert.deepEqual(await store.record('layer').get('x'), LAYER);
    assert.equal(await store.record('layer').get('x', { ttlMs: 0 }), undefined);
  });

  test('a record that is not usable any more (its blob was pruned) is computed again', async () => {
    const store = new Store(join(dir, 'd'));
    let computed = 0;
    const compute = async () => {
      computed++;
      return LAYER;
    };
    const usable = () => store.has(LAYER.descriptor.digest);
    await store.remember('layer', 'p', compute, { usable });
    await store.remember('layer', 'p', compute, { usable });
    assert.equal(computed, 2, 'the blob is not in the store, so the record is not used');
    assert.deepEqual(await store.record('layer').get('p'), LAYER);
    assert.equal(await store.record('layer').get('p', { usable }), undefined);
  });

  test('callers asking for one record at once share one computation; a failure records nothing', async () => {
    const store = new Store(join(dir, 'e'));
    let computed = 0;
    const slow = async () => {
      computed++;
      await new Promise((r) => setTimeout(r, 50));
      return { version: 'v' };
    };
    const all = await Promise.all([1, 2, 3].map(() => store.remember('build-pm', 'npm@10', slow)));
    assert.deepEqual(all, [{ version: 'v' }, { version: 'v' }, { version: 'v' }]);
    assert.equal(computed, 1);
    await assert.rejects(
      store.remember('build-pm', 'pnpm@9', async () => {
        throw new Error('registry down');
      }),
      /registry down/,
    );
    assert.equal(await store.record('build-pm').get('pnpm@9'), undefined);
  });

  test('key parts must be plain JSON', async () => {
    const store = new Store(join(dir, 'f'));
    await assert.rejects(store.record('layer').get({ n: Number.NaN }), (e) => isDistillError(e, 'INTERNAL'));
  });

  test('the old string-keyed getMeta/putMeta keep working beside records', async () => {
    const store = new Store(join(dir, 'g'));
    await store.putMeta('build-base-lock:v1:{}', { at: 1, value: 'lock' });
    assert.deepEqual(await store.getMeta('build-base-lock:v1:{}'), { at: 1, value: 'lock' });
    assert.equal(await store.getMeta('other'), undefined);
  });

  test('two processes writing the same records at once: every read sees one whole record', async () => {
    const root = join(dir, 'h');
    const script = `
      import { Store } from ${JSON.stringify(new URL('../../src/store/store.ts', import.meta.url).pathname)};
      const store = new Store(process.env.STORE_ROOT);
      const me = process.env.WRITER;
      for (let i = 0; i < 200; i++) {
        await store.record('build-pm').put({ k: i % 5 }, { version: me + ':' + i });
        const v = (await store.record('build-pm').get({ k: (i + 2) % 5 }))?.version;
        if (v !== undefined && !/^[ab]:\\d+$/.test(v)) throw new Error('torn record: ' + v);
      }
    `;
    const runOne = (writer: string) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          env: { ...process.env, STORE_ROOT: root, WRITER: writer },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        p.on('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`writer ${writer}: exit ${code}`)),
        );
      });
    await Promise.all([runOne('a'), runOne('b')]);
    const store = new Store(root);
    for (let k = 0; k < 5; k++)
      assert.match((await store.record('build-pm').get({ k }))!.version, /^[ab]:\d+$/);
    assert.equal((await readdir(join(root, 'meta'))).length, 5);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });
});
