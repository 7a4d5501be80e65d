import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { pack } from 'tar-stream';
import { openArtifact } from '../../src/media/index.js';
import { hashedByteCount } from '../../src/oci/digest.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import { distill } from '../helpers/cli.js';
import { dockerAvailable, requireComponents, tempDir } from '../helpers/components.js';
import { docker, importBusyboxImage, removeImages } from '../helpers/docker.js';

/**
 * Reading docker-daemon: costs one hash per byte and nothing in the cache: a 150 MiB image made
 * by the real engine (docker import of a tar holding 150 MiB of random bytes) is inspected
 * through the CLI, counting the bytes hashed (src/oci/digest.ts hashedByteCount), and the cache
 * and TMPDIR are listed before and after. Before the spool (an unlinked temp file, hashed on the
 * way in) this read hashed the layer 5 times and put it in the cache.
 */
const BIG = `distill-h3-big/random:${process.pid}`;
const SMALL = `distill-h3-small/busybox:${process.pid}`;
const PAYLOAD = 150 * 1024 * 1024;

/** Every file under dir with its size, or [] when dir does not exist. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(`${p.slice(dir.length)} ${(await stat(p)).size}`);
    }
  };
  await walk(dir);
  return out.sort();
}

/** A tar with one file of `size` random bytes, written in 1 MiB pieces. */
async function randomRootfs(file: string, size: number): Promise<void> {
  const p = pack();
  const writing = pipeline(p, createWriteStream(file));
  const entry = p.entry({ name: 'random.bin', size, mode: 0o644, mtime: new Date(0) });
  const finished = new Promise<void>((r) => entry.once('finish', () => r()));
  for (let left = size; left > 0; ) {
    const chunk = randomBytes(Math.min(left, 1024 * 1024));
    left -= chunk.length;
    if (left === 0) entry.end(chunk);
    else if (!entry.write(chunk)) await new Promise<void>((r) => entry.once('drain', () => r()));
  }
  await finished;
  p.finalize();
  await writing;
}

let dir = '';
let cache = '';
let tmp = '';
before(async () => {
  dir = await tempDir('distill-h3-read-');
  cache = join(dir, 'cache');
  tmp = join(dir, 'tmp');
  await mkdir(tmp);
  // A cache that holds something, to see that it keeps exactly that.
  await new Store(cache).putBytes(Buffer.from('already here\n'));
});
after(async () => {
  if (dockerAvailable()) removeImages([BIG, SMALL]);
  await rm(dir, { recursive: true, force: true });
});

test('inspect of a 150 MiB image hashes it once, adds nothing to the cache or TMPDIR', async (t) => {
  if (!requireComponents(t, 'docker')) return;
  const rootfs = join(dir, 'rootfs.tar');
  await randomRootfs(rootfs, PAYLOAD);
  docker(['import', rootfs, BIG]);
  await rm(rootfs);
  const env = { DISTILL_CACHE: cache, TMPDIR: tmp };
  const cacheBefore = await listing(cache);
  const duBefore = JSON.parse((await distill(['cache', 'du', '--format', 'json'], env)).stdout);

  const hashedBefore = hashedByteCount();
  const r = await distill(['inspect', '--format', 'json', `docker-daemon:${BIG}`], env);
  const hashed = hashedByteCount() - hashedBefore;
  assert.equal(r.code, 0, r.stderr);

  const facts = JSON.parse(r.stdout);
  assert.equal(facts.layers.length, 1);
  const layer = facts.layers[0];
  // The engine's layer tar is uncompressed, and says so; its digest is its diff_id.
  assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar');
  assert.equal(layer.diffId, layer.digest);
  // A plain tar's compressed size is unknown (decision 0009), its uncompressed size is the tar's.
  assert.equal(layer.compressed, null);
  const tarSize = layer.uncompressed;
  assert.ok(tarSize >= PAYLOAD, `layer of ${tarSize} bytes`);
  t.diagnostic(`hashed ${hashed} bytes for a ${tarSize}-byte layer (${(hashed / tarSize).toFixed(3)}x)`);
  assert.ok(hashed >= PAYLOAD, `hashed only ${hashed} bytes`);
  assert.ok(hashed <= PAYLOAD * 1.1, `hashed ${hashed} bytes, more than 1.1 x ${PAYLOAD}`);

  assert.deepEqual(await listing(cache), cacheBefore);
  const duAfter = JSON.parse((await distill(['cache', 'du', '--format', 'json'], env)).stdout);
  assert.deepEqual(duAfter, duBefore);
  assert.deepEqual(await readdir(tmp), []);
});

test('digest and copy to oci: add nothing to the cache either; the copy holds the layer', async (t) => {
  if (!requireComponents(t, 'docker', 'umoci')) return;
  await importBusyboxImage(dir, SMALL, 'h3');
  const env = { DISTILL_CACHE: cache, TMPDIR: tmp };
  const cacheBefore = await listing(cache);
  const d = await distill(['digest', `docker-daemon:${SMALL}`], env);
  assert.equal(d.code, 0, d.stderr);
  const layout = join(dir, 'layout');
  const c = await distill(
    ['copy', '-q', '--format', 'json', `docker-daemon:${SMALL}`, `oci:${layout}:v1`],
    env,
  );
  assert.equal(c.code, 0, c.stderr);
  assert.equal(JSON.parse(c.stdout).destination.digest, d.stdout.trim());
  assert.deepEqual(await listing(cache), cacheBefore);
  assert.deepEqual(await readdir(tmp), []);
  // The layout is whole: umoci unpacks it.
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:v1`, join(dir, 'bundle')]);
  assert.ok((await stat(join(dir, 'bundle', 'rootfs', 'bin', 'busybox'))).size > 0);
});

test('an image the engine lacks is MANIFEST_UNKNOWN, and leaves nothing behind', async (t) => {
  if (!requireComponents(t, 'docker')) return;
  const env = { DISTILL_CACHE: cache, TMPDIR: tmp };
  const r = await distill(['inspect', `docker-daemon:distill-h3-absent/none:${process.pid}`], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no image distill-h3-absent\/none/);
  await assert.rejects(
    openArtifact(parseImageRef(`docker-daemon:distill-h3-absent/none:${process.pid}`), { daemon: { env } }),
    { code: 'MANIFEST_UNKNOWN' },
  );
  assert.deepEqual(await readdir(tmp), []);
});
