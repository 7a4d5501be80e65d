import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rememberedFileDigest } from '../../src/build/attest-builder.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';

/**
 * The running file's digest the provenance names (build/attest-builder.ts): remembered by the
 * file's stat, so a warm build does not hash the 3.3 MB bundle again, and never stale: a file
 * rewritten with the same size and its old mtime put back is hashed again (its ctime moved).
 */
const sha256 = (bytes: string) => createHash('sha256').update(bytes).digest('hex');

let dir = '';
before(async () => {
  dir = await tempDir('distill-attest-builder-');
});
after(() => rm(dir, { recursive: true, force: true }));

async function builderRecords(store: Store): Promise<{ parts: { path: string }; value: unknown }[]> {
  const meta = join(store.root, 'meta');
  const names = await readdir(meta).catch(() => [] as string[]);
  const files = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(meta, n), 'utf8'))));
  return files.filter((f) => f.kind === 'builder-file');
}

test("the running file's digest is remembered by its stat and read again when the file changes", async () => {
  const store = new Store(join(dir, 'store'));
  const file = join(dir, 'distill.cjs');
  await writeFile(file, 'one');
  assert.equal(await rememberedFileDigest(store, file), sha256('one'));
  const [record] = await builderRecords(store);
  assert.equal(record?.parts.path, file);
  assert.deepEqual(record?.value, { sha256: sha256('one') });

  // A hit is the remembered value: a record edited to another digest is what comes back.
  const meta = join(store.root, 'meta');
  const [name] = await readdir(meta);
  const forged = { ...record, value: { sha256: 'f'.repeat(64) } };
  await writeFile(join(meta, name!), JSON.stringify(forged));
  assert.equal(await rememberedFileDigest(store, file), 'f'.repeat(64));

  // Rewritten with the same size and the old mtime put back: the ctime moved, so it is a miss.
  const before = new Date(Date.now() - 60_000);
  await utimes(file, before, before);
  const stamped = await rememberedFileDigest(store, file);
  assert.equal(stamped, sha256('one'), 'a new mtime is a new key');
  await writeFile(file, 'two');
  await utimes(file, before, before);
  assert.equal(await rememberedFileDigest(store, file), sha256('two'));
  assert.equal(await rememberedFileDigest(store, file), sha256('two'));
});

test('a record whose value is not a SHA-256 is not used', async () => {
  const store = new Store(join(dir, 'store-bad'));
  const file = join(dir, 'bad.cjs');
  await writeFile(file, 'bytes');
  await rememberedFileDigest(store, file);
  const meta = join(store.root, 'meta');
  const [name] = await readdir(meta);
  const record = JSON.parse(await readFile(join(meta, name!), 'utf8'));
  await writeFile(join(meta, name!), JSON.stringify({ ...record, value: { sha256: 'not a digest' } }));
  assert.equal(await rememberedFileDigest(store, file), sha256('bytes'));
});

test('a store that cannot be read or written costs the hash, not the build', async () => {
  const root = join(dir, 'not-a-directory');
  await writeFile(root, 'a file where the store should be');
  const file = join(dir, 'any.cjs');
  await writeFile(file, 'program');
  assert.equal(await rememberedFileDigest(new Store(root), file), sha256('program'));
});
