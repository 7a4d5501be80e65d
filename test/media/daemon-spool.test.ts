import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readlink, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pack } from 'tar-stream';
import { readDockerArchive, writeDockerArchive } from '../../src/media/archive/archive.js';
import { openVerified } from '../../src/media/blobs.js';
import { readDaemon } from '../../src/media/daemon/daemon.js';
import { parseDockerHost } from '../../src/media/daemon/endpoint.js';
import { SpoolFiles } from '../../src/media/daemon/spool.js';
import { type Digest, hashedByteCount } from '../../src/oci/digest.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';

/**
 * The spool behind docker-daemon: reads: the engine's save stream goes into one unlinked temp
 * file, each member hashed once; reading it back hashes nothing more; a broken stream frees
 * the file and says what broke. The engine here is an in-process fake, for the faults only.
 */

async function tarOf(files: Record<string, Buffer>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const [name, body] of Object.entries(files)) p.entry({ name, mtime: new Date(0) }, body);
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function sha256(b: Buffer): Digest {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** Open descriptors of this process on deleted spool files. */
async function openSpools(): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    try {
      const target = await readlink(`/proc/self/fd/${fd}`);
      if (target.includes('distill-daemon-') && target.endsWith('(deleted)')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

let dir = '';
before(async () => {
  dir = await tempDir('distill-spool-');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('members are indexed and hashed once; the file is unlinked from the start; close frees it', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a);
  const small = Buffer.from('{"hello":"world"}');
  const tar = await tarOf({ 'abc/layer.tar': big, './manifest.json': small, empty: Buffer.alloc(0) });
  const before = hashedByteCount();
  const spool = await SpoolFiles.fromTar(Readable.from([tar]), { dir, description: 'test stream' });
  assert.equal(hashedByteCount() - before, big.length + small.length);
  assert.deepEqual(await readdir(dir), [], 'nothing visible in the spool directory');
  assert.equal(await openSpools(), 1);

  assert.deepEqual(spool.hashed('abc/layer.tar'), { digest: sha256(big), size: big.length });
  assert.deepEqual(spool.hashed('manifest.json'), { digest: sha256(small), size: small.length });
  assert.equal(spool.hashed('missing'), undefined);
  assert.equal(await spool.exists('./abc//layer.tar'), true);
  assert.equal(await spool.size('empty'), 0);
  assert.deepEqual(await spool.read('manifest.json'), small);
  assert.deepEqual(await spool.read('empty'), Buffer.alloc(0));
  await assert.rejects(spool.read('nope'), { code: 'BLOB_MISSING' });

  // openVerified trusts what the spool hashed: the bytes come back with no second hash
  const mark = hashedByteCount();
  const chunks: Buffer[] = [];
  const d = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(big), size: big.length };
  for await (const c of await openVerified(spool, 'abc/layer.tar', d, 'layer')) chunks.push(c as Buffer);
  assert.equal(hashedByteCount(), mark);
  assert.ok(Buffer.concat(chunks).equals(big));

  // a descriptor that names other bytes is still verified, and fails
  const wrong = { ...d, digest: sha256(small) };
  const stream = await openVerified(spool, 'abc/layer.tar', wrong, 'layer');
  await assert.rejects(
    (async () => {
      for await (const _ of stream);
    })(),
    { code: 'DIGEST_MISMATCH' },
  );

  await spool.close();
  assert.equal(await openSpools(), 0);
  await assert.rejects(spool.open('manifest.json'), { code: 'INTERNAL' });
});

test('a stream that breaks off or is not a tar: rejected, file freed', async () => {
  const tar = await tarOf({ 'layer.tar': Buffer.alloc(100_000, 1) });
  const cut = Readable.from([tar.subarray(0, 40_000)]);
  await assert.rejects(SpoolFiles.fromTar(cut, { dir, description: 'cut' }), { code: 'LAYER_INVALID' });
  const failing = new Readable({
    read() {
      this.push(tar.subarray(0, 20_000));
      this.destroy(new Error('connection reset by peer'));
    },
  });
  await assert.rejects(
    SpoolFiles.fromTar(failing, { dir, description: 'failing' }),
    /connection reset by peer/,
  );
  await assert.rejects(
    SpoolFiles.fromTar(Readable.from([Buffer.from('{"message":"no"}')]), { dir, description: 'json' }),
  );
  const escaping = await tarOf({ '../../etc/passwd': Buffer.from('x') });
  await assert.rejects(SpoolFiles.fromTar(Readable.from([escaping]), { dir, description: 'escaping' }), {
    code: 'ARCHIVE_INVALID',
  });
  assert.equal(await openSpools(), 0);
  assert.deepEqual(await readdir(dir), []);
});

test('a TMPDIR that cannot hold it: IO naming the directory', async () => {
  await assert.rejects(
    SpoolFiles.fromTar(Readable.from([Buffer.alloc(0)]), { dir: join(dir, 'absent'), description: 'x' }),
    { code: 'IO', message: /set TMPDIR to a writable directory/ },
  );
});

test('an archive in the Docker 25+ form (OCI layout inside) read from a spool: each blob hashed once', async () => {
  const image = await memoryImage({ layers: 2, layerSize: 2 * 1024 * 1024, seed: 7 });
  const file = join(dir, 'docker25.tar');
  await writeDockerArchive(file, parseDockerReference('acme/app:1'), image);
  const before = hashedByteCount();
  const spool = await SpoolFiles.fromTar(createReadStream(file), {
    dir,
    description: 'docker-daemon:acme/app:1',
  });
  const read = await readDockerArchive(spool, parseDockerReference('acme/app:1'));
  assert.equal(read.manifest.digest, image.manifest.digest);
  let layerBytes = 0;
  for (const layer of read.layers) {
    for await (const c of await layer.open()) layerBytes += (c as Buffer).length;
  }
  const hashed = hashedByteCount() - before;
  assert.equal(layerBytes, 2 * image.layers[0]!.descriptor.size);
  // the layers once, plus the small JSON documents (each hashed at most twice)
  assert.ok(hashed >= layerBytes && hashed < layerBytes + 16 * 1024, `hashed ${hashed} for ${layerBytes}`);
  await spool.close();
});

describe('readDaemon against a faulty engine', () => {
  let engineDir = '';
  let server: Server | undefined;
  let sock = '';
  before(async () => {
    engineDir = await tempDir('distill-fake-engine-');
    sock = join(engineDir, 'engine.sock');
    const tar = await tarOf({ 'manifest.json': Buffer.from('[]'), 'layer.tar': Buffer.alloc(200_000, 2) });
    server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      // half of the archive, then the connection drops
      res.write(tar.subarray(0, 100_000), () => res.socket?.destroy());
    });
    await new Promise<void>((r) => server!.listen(sock, r));
  });
  after(async () => {
    server?.close();
    await rm(engineDir, { recursive: true, force: true });
  });

  test('a save stream that breaks off: DAEMON naming the engine, nothing left behind', async () => {
    const tmp = join(engineDir, 'tmp');
    await mkdir(tmp);
    await assert.rejects(
      readDaemon({
        ref: parseDockerReference('busybox:latest'),
        daemon: { endpoint: parseDockerHost(`unix://${sock}`), env: { TMPDIR: tmp } },
      }),
      (err: Error) => {
        assert.equal((err as { code?: string }).code, 'DAEMON');
        assert.ok(err.message.includes(`unix://${sock} (DOCKER_HOST)`), err.message);
        assert.match(err.message, /broke off or is not a tar/);
        return true;
      },
    );
    assert.deepEqual(await readdir(tmp), []);
    assert.equal(await openSpools(), 0);
  });
});
