import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { stripElfBuffer } from '../../src/build/app/elf-strip.js';
import { nodeLayer, strippedNode } from '../../src/build/node-layer.js';
import { isDistillError } from '../../src/errors.js';
import { readLayer } from '../../src/layers/read.js';
import { type Digest, digestOf } from '../../src/oci/digest.js';
import { Store } from '../../src/store/store.js';
import { FAKE_NODE_BINARY } from '../helpers/app-fixture.js';
import { tempDir } from '../helpers/components.js';

/**
 * The Node layer's binary (build/node-layer.ts): stripped into a store blob remembered by the
 * release binary's digest, made from the blob's verifying stream, and laid out at
 * /nodejs/bin/node; `strip: false` keeps the release's bytes. The binary is the fake Node of the
 * offline tests (test/fixtures/fake-node), an ELF file with debug sections and symbols.
 */

async function storeWith(bytes: Buffer): Promise<{ store: Store; blob: { digest: Digest; size: number } }> {
  const dir = await tempDir('distill-node-layer-');
  const store = new Store(join(dir, 'store'));
  const blob = await store.put(Readable.from([bytes]));
  return { store, blob };
}

async function layerFile(layer: { open(): Promise<Readable> }, path: string): Promise<Buffer | undefined> {
  for await (const e of readLayer(await layer.open())) {
    if (e.header.name.replace(/^\.?\//, '') === path) {
      const parts: Buffer[] = [];
      for await (const c of e.body) parts.push(c as Buffer);
      return Buffer.concat(parts);
    }
  }
  return undefined;
}

test('the stripped binary is a store blob, remembered by the release binary, and laid out as /nodejs/bin/node', async (t) => {
  const { store, blob } = await storeWith(FAKE_NODE_BINARY);
  t.after(() => rm(join(store.root, '..'), { recursive: true, force: true }));
  const expected = (await stripElfBuffer(FAKE_NODE_BINARY, 'node')).bytes;
  assert.ok(expected.length < FAKE_NODE_BINARY.length);

  const s = await strippedNode(store, blob, 'bin/node of the fake Node');
  assert.equal(s.digest, digestOf(expected));
  assert.equal(s.size, expected.length);
  assert.equal(s.removed, FAKE_NODE_BINARY.length - expected.length);
  assert.deepEqual(await store.readBytes(s.digest, s.size), expected);
  assert.deepEqual(await store.record('node-stripped').get({ binary: blob.digest }), s);

  // Remembered: the release's blob is no longer read (it is gone), the record answers.
  const releasePath = store.blobPath(blob.digest);
  const release = await readFile(releasePath);
  await rm(releasePath);
  assert.deepEqual(await strippedNode(store, blob, 'bin/node of the fake Node'), s);
  await writeFile(releasePath, release);

  const license = await store.put(Readable.from([Buffer.from('Fake Node.js license\n')]));
  const stripped = await nodeLayer(
    store,
    { binary: blob, license },
    { strip: true, sourceDateEpoch: 0, release: 'the fake Node' },
  );
  const whole = await nodeLayer(
    store,
    { binary: blob, license },
    { strip: false, sourceDateEpoch: 0, release: 'the fake Node' },
  );
  assert.deepEqual(await layerFile(stripped, 'nodejs/bin/node'), expected);
  assert.deepEqual(await layerFile(whole, 'nodejs/bin/node'), FAKE_NODE_BINARY);
  assert.notEqual(stripped.descriptor.digest, whole.descriptor.digest);
  assert.ok(stripped.descriptor.size < whole.descriptor.size);
});

test('a stripped blob gone from the store is made again; a release blob changed in the store is refused', async (t) => {
  const { store, blob } = await storeWith(FAKE_NODE_BINARY);
  t.after(() => rm(join(store.root, '..'), { recursive: true, force: true }));
  const first = await strippedNode(store, blob, 'bin/node');
  await rm(store.blobPath(first.digest));
  assert.deepEqual(await strippedNode(store, blob, 'bin/node'), first);
  assert.equal(await store.size(first.digest), first.size);

  // The same size, one byte changed past the headers the strip's plan reads: the copy is made
  // from the verifying stream, so the change is caught and nothing is stored or remembered.
  const other = await storeWith(FAKE_NODE_BINARY);
  t.after(() => rm(join(other.store.root, '..'), { recursive: true, force: true }));
  const changed = Buffer.from(FAKE_NODE_BINARY);
  changed[0x80] = changed[0x80]! ^ 0xff;
  await writeFile(other.store.blobPath(other.blob.digest), changed);
  await assert.rejects(strippedNode(other.store, other.blob, 'bin/node'), (e) =>
    isDistillError(e, 'DIGEST_MISMATCH'),
  );
  assert.equal(await other.store.record('node-stripped').get({ binary: other.blob.digest }), undefined);
  assert.equal(await other.store.size(first.digest), undefined);
});

test('a bin/node that is not an ELF64 file is refused with ELF_INVALID, naming it and --no-strip', async (t) => {
  const { store, blob } = await storeWith(Buffer.from('#!/bin/sh\nexec node "$@"\n'));
  t.after(() => rm(join(store.root, '..'), { recursive: true, force: true }));
  await assert.rejects(
    strippedNode(store, blob, 'bin/node of Node 24.99.0 for linux/x64'),
    (e) =>
      isDistillError(e, 'ELF_INVALID') &&
      e.message.includes('bin/node of Node 24.99.0 for linux/x64') &&
      e.message.includes('--no-strip'),
  );
  assert.equal(await store.record('node-stripped').get({ binary: blob.digest }), undefined);
});
