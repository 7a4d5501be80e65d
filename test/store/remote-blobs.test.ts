import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { type Digest, digestOf } from '../../src/oci/digest.js';
import type { RemoteBlob } from '../../src/store/remote.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';
import { pseudoRandomBytes } from '../helpers/images.js';

/**
 * Blobs of remote cache hits left in the cache (decision 0036): the store counts them as there,
 * and brings one in, verified, the first time anything reads it, once for concurrent readers.
 * The remote side is an in-process stand-in that serves bytes (right, damaged or none): the
 * registry path is test/e2e/build-cache.test.ts's.
 */
async function readAll(s: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** What is on disk under a store: its blob files and the temp area's entries. */
async function files(root: string): Promise<{ blobs: string[]; tmp: string[] }> {
  const list = (d: string) => readdir(join(root, d), { recursive: true }).catch(() => [] as string[]);
  const blobs = (await list('blobs')).filter((p) => /[0-9a-f]{64}$/.test(p));
  return { blobs, tmp: await list('tmp') };
}

function remote(bytes: Buffer | undefined, opened: { n: number }): RemoteBlob {
  return {
    size: 300_000,
    where: 'docker://127.0.0.1:5000/cache/app:node-modules-v3-abc',
    source: { registry: '127.0.0.1:5000', repository: 'cache/app' },
    open: async () => {
      opened.n++;
      if (bytes === undefined) throw new Error('HTTP 404 blob unknown');
      // Slow enough for readers to overlap.
      return Readable.from(
        (async function* () {
          for (let i = 0; i < bytes.length; i += 65_536) {
            await new Promise((r) => setTimeout(r, 2));
            yield bytes.subarray(i, i + 65_536);
          }
        })(),
      );
    },
  };
}

describe('store: remote-only blobs', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-remote-blobs-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const bytes = pseudoRandomBytes(300_000, 34);
  const digest: Digest = digestOf(bytes);

  test('counts as there, and comes in once, verified, however many read it at once', async () => {
    const root = join(dir, 'once');
    const store = new Store(root);
    const opened = { n: 0 };
    store.noteRemoteBlob(digest, remote(bytes, opened));
    assert.equal(await store.has(digest), true);
    assert.equal(await store.size(digest), bytes.length);
    assert.equal(await store.localSize(digest), undefined);
    assert.equal(store.localFile(digest), undefined, 'no file to link while it is remote');
    assert.deepEqual(store.remoteSource(digest), { registry: '127.0.0.1:5000', repository: 'cache/app' });
    assert.deepEqual((await files(root)).blobs, [], 'nothing fetched by the note');
    assert.equal(opened.n, 0);

    const reads = await Promise.all([
      store.open(digest, bytes.length).then(readAll),
      store.open(digest, bytes.length).then(readAll),
      store.readBytes(digest, bytes.length),
      store.file(digest),
    ]);
    assert.equal(opened.n, 1, 'one transfer for four readers');
    for (const r of reads.slice(0, 3)) assert.ok(bytes.equals(r as Buffer));
    assert.equal(reads[3], store.blobPath(digest));
    assert.equal(store.localFile(digest), store.blobPath(digest));
    assert.equal(await store.localSize(digest), bytes.length);
    // Read again: from the store, not the cache.
    assert.ok(bytes.equals(await store.readBytes(digest)));
    assert.equal(opened.n, 1);
    // Still mountable from where it came from.
    assert.deepEqual(store.remoteSource(digest), { registry: '127.0.0.1:5000', repository: 'cache/app' });
  });

  test('a damaged remote copy: CACHE_BLOB_UNAVAILABLE naming blob and entry, nothing left in the store', async () => {
    const root = join(dir, 'damaged');
    const store = new Store(root);
    const bad = Buffer.from(bytes);
    bad[bad.length - 10] = (bad[bad.length - 10]! + 1) % 256;
    const opened = { n: 0 };
    store.noteRemoteBlob(digest, remote(bad, opened));
    const readers = await Promise.allSettled([store.open(digest, bytes.length), store.readBytes(digest)]);
    assert.equal(opened.n, 1);
    for (const r of readers) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as Error;
      assert.ok(isDistillError(err, 'CACHE_BLOB_UNAVAILABLE'), String(err));
      assert.match(
        err.message,
        new RegExp(
          `blob ${digest} of the cache entry docker://127\\.0\\.0\\.1:5000/cache/app:node-modules-v3-abc`,
        ),
      );
      assert.ok(isDistillError(err.cause, 'DIGEST_MISMATCH'), String(err.cause));
    }
    assert.deepEqual(await files(root), { blobs: [], tmp: [] }, 'no blob, no temp file');
    // The store no longer claims it: a record naming it is now a miss.
    assert.equal(await store.has(digest), false);
    await assert.rejects(store.open(digest), (e) => isDistillError(e, 'BLOB_MISSING'));
  });

  test('a remote copy that is gone, or cut short: the same error, nothing left', async () => {
    for (const [name, served] of [
      ['gone', undefined],
      ['short', bytes.subarray(0, 200_000)],
    ] as const) {
      const root = join(dir, name);
      const store = new Store(root);
      store.noteRemoteBlob(digest, remote(served, { n: 0 }));
      await assert.rejects(store.file(digest), (e) => isDistillError(e, 'CACHE_BLOB_UNAVAILABLE'), name);
      assert.deepEqual(await files(root), { blobs: [], tmp: [] }, name);
    }
  });

  test('a blob already here is never fetched, and putBytes writes a noted blob for real', async () => {
    const root = join(dir, 'here');
    const store = new Store(root);
    const opened = { n: 0 };
    store.noteRemoteBlob(digest, remote(bytes, opened));
    await store.putBytes(bytes, { digest, size: bytes.length });
    assert.equal(await store.localSize(digest), bytes.length);
    assert.ok(bytes.equals(await store.readBytes(digest)));
    assert.ok(bytes.equals(await readAll(await store.open(digest))));
    assert.equal(opened.n, 0, 'nothing transferred for a blob already here');
    assert.equal(store.localFile(digest), store.blobPath(digest));
  });
});
