import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdir, readFile, readlink, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { digestOf } from '../../src/oci/digest.js';
import { Store } from '../../src/store/store.js';
import { distill } from '../helpers/cli.js';
import { tempDir } from '../helpers/components.js';
import { pseudoRandomBytes } from '../helpers/images.js';

async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('store', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('default root follows DISTILL_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(Store.defaultRoot({ DISTILL_CACHE: '/x' }), '/x');
    assert.equal(Store.defaultRoot({ XDG_CACHE_HOME: '/xdg' }), '/xdg/distill');
    assert.match(Store.defaultRoot({}), /\.cache\/distill$/);
  });

  test('a reader that stops early (break out of for await) closes the blob file', async () => {
    const store = new Store(join(dir, 'early'));
    const bytes = pseudoRandomBytes(2_000_000, 9);
    const r = await store.put(Readable.from([bytes]));
    // The descriptors of this process open on a file of this store (not a count of all of
    // them: the runner and other tests open and close their own at any time).
    const root = join(dir, 'early');
    const storeFds = async () => {
      const open: string[] = [];
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
        if (target.startsWith(`${root}/`)) open.push(target);
      }
      return open;
    };
    assert.deepEqual(await storeFds(), []);
    for (const open of [
      () => store.open(r.digest, r.size),
      () => store.openRange(r.digest, 0, 1_000_000, digestOf(bytes.subarray(0, 1_000_000))),
    ]) {
      for await (const _chunk of await open()) break;
      // The close is asynchronous: give it time (a loaded machine needs some), but no garbage
      // collection: a handle only the collector would close stays open through this loop.
      let left = await storeFds();
      for (let i = 0; i < 40 && left.length > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        left = await storeFds();
      }
      assert.deepEqual(left, [], 'no file left open for the garbage collector to close');
    }
  });

  test('put names a blob by its digest and open reads it back verified', async () => {
    const store = new Store(join(dir, 'a'));
    const bytes = pseudoRandomBytes(300_000, 5);
    const r = await store.put(Readable.from([bytes]));
    assert.equal(r.digest, digestOf(bytes));
    assert.equal(r.size, bytes.length);
    assert.deepEqual(await readAll(await store.open(r.digest, r.size)), bytes);
    assert.deepEqual(await store.readBytes(r.digest), bytes);
  });

  test('put with a wrong expected digest fails and leaves nothing, not even a temp file', async () => {
    const store = new Store(join(dir, 'b'));
    const bytes = Buffer.from('the real bytes');
    const wrong = digestOf('other bytes');
    await assert.rejects(store.put(Readable.from([bytes]), { digest: wrong }), (e) =>
      isDistillError(e, 'DIGEST_MISMATCH'),
    );
    await assert.rejects(store.put(Readable.from([bytes]), { digest: digestOf(bytes), size: 3 }), (e) =>
      isDistillError(e, 'SIZE_MISMATCH'),
    );
    assert.equal(await store.has(wrong), false);
    assert.equal(await store.has(digestOf(bytes)), false);
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
  });

  test('a stream that fails half-way leaves nothing in the store', async () => {
    const store = new Store(join(dir, 'c'));
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000, 1));
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(store.put(failing));
    assert.deepEqual(await readdir(join(store.root, 'tmp')), []);
    assert.equal((await store.du()).blobs, 0);
  });

  test('a blob corrupted on disk is detected on read and removed', async () => {
    const store = new Store(join(dir, 'd'));
    const bytes = Buffer.from('cached content that will rot');
    const { digest } = await store.put(Readable.from([bytes]));
    const p = store.blobPath(digest);
    await writeFile(p, Buffer.from('cached content that will r0t'));
    await assert.rejects(readAll(await store.open(digest)), (e) => isDistillError(e, 'DIGEST_MISMATCH'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await store.has(digest), false, 'the corrupt blob is gone');
    await store.put(Readable.from([bytes]));
    await writeFile(p, 'short');
    await assert.rejects(store.readBytes(digest), (e) => isDistillError(e, 'DIGEST_MISMATCH'));
    assert.equal(await store.has(digest), false);
  });

  test('two processes writing the same blobs at once both succeed and the store stays consistent', async () => {
    const root = join(dir, 'e');
    const script = `
      import { Store } from ${JSON.stringify(new URL('../../src/store/store.ts', import.meta.url).pathname)};
      import { Readable } from 'node:stream';
      const store = new Store(process.env.STORE_ROOT);
      const out = [];
      for (let i = 0; i < 20; i++) {
        const bytes = Buffer.alloc(200000 + i, i);
        out.push((await store.put(Readable.from([bytes.subarray(0, 100000), bytes.subarray(100000)]))).digest);
      }
      console.log(JSON.stringify(out));
    `;
    const runOne = () =>
      new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          env: { ...process.env, STORE_ROOT: root },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        p.stdout.on('data', (d) => {
          out += d;
        });
        p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      });
    const [a, b] = await Promise.all([runOne(), runOne()]);
    assert.deepEqual(JSON.parse(a), JSON.parse(b));
    const store = new Store(root);
    for (const d of JSON.parse(a) as `sha256:${string}`[]) {
      await readAll(await store.open(d)); // verified read
    }
    assert.equal((await store.du()).blobs, 20);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  test('cache du and prune through the CLI; prune --older-than keeps recent blobs', async () => {
    const root = join(dir, 'f');
    const store = new Store(root);
    const old = await store.put(Readable.from([Buffer.from('old blob')]));
    const fresh = await store.put(Readable.from([Buffer.from('fresh blob')]));
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    await utimes(store.blobPath(old.digest), longAgo, longAgo);
    let r = await distill(['cache', 'du', '--format', 'json'], { DISTILL_CACHE: root });
    assert.equal(r.code, 0, r.stderr);
    const du = JSON.parse(r.stdout);
    assert.equal(du.root, root);
    assert.equal(du.blobs, 2);
    assert.equal(du.areas.blobs.files, 2);
    assert.equal(du.bytes, Number(execFileSync('du', ['-sb', root], { encoding: 'utf8' }).split('\t')[0]));
    r = await distill(['cache', 'prune', '--older-than', '30'], { DISTILL_CACHE: root });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed 1 blobs/);
    assert.equal(await store.has(old.digest), false);
    assert.equal(await store.has(fresh.digest), true);
    r = await distill(['cache', 'prune'], { DISTILL_CACHE: root });
    assert.match(r.stdout, /removed 1 blobs/);
    assert.equal((await store.du()).blobs, 0);
    r = await distill(['cache', 'prune', '--older-than', 'soon'], { DISTILL_CACHE: root });
    assert.equal(r.code, 2);
  });

  test("openRange reads part of a blob verified against that part's digest", async () => {
    const store = new Store(join(dir, 'h'));
    const a = Buffer.from('first file;');
    const b = Buffer.from('second file');
    const { digest } = await store.put(Readable.from([Buffer.concat([a, b])]));
    assert.deepEqual(await readAll(await store.openRange(digest, a.length, b.length, digestOf(b))), b);
    assert.deepEqual(await readAll(await store.openRange(digest, 0, 0, digestOf(''))), Buffer.alloc(0));
    await assert.rejects(readAll(await store.openRange(digest, 0, b.length, digestOf(b))), (e) =>
      isDistillError(e, 'DIGEST_MISMATCH'),
    );
    await assert.rejects(store.openRange(digestOf('absent'), 0, 1, digestOf('x')), (e) =>
      isDistillError(e, 'BLOB_MISSING'),
    );
  });

  test('meta records round trip by key', async () => {
    const store = new Store(join(dir, 'g'));
    assert.equal(await store.getMeta('layer:x'), undefined);
    await store.putMeta('layer:x', { digest: 'sha256:1', n: 2 });
    assert.deepEqual(await store.getMeta('layer:x'), { digest: 'sha256:1', n: 2 });
    const files = await readdir(join(store.root, 'meta'));
    assert.equal(files.length, 1);
    assert.ok((await stat(join(store.root, 'meta', files[0]!))).isFile());
    assert.match(await readFile(join(store.root, 'meta', files[0]!), 'utf8'), /layer:x/);
  });
});
