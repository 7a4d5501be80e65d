// Rewrites test/golden/layers.json: the digests test/layers/golden.test.ts expects for the fixed
// tree of test/layers/golden-tree.ts. Golden digests change only through this script; review the
// diff (a changed diff_id means the tar bytes changed, which changes every image distill builds).
// Usage: node --import tsx scripts/update-golden.ts
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLayer } from '../src/layers/build.js';
import { GZIP_ENCODER } from '../src/layers/compression.js';
import { Store } from '../src/store/store.js';
import { GOLDEN_EPOCH, goldenEntries } from '../test/layers/golden-tree.js';

const root = new URL('..', import.meta.url).pathname;
const work = await mkdtemp(join(tmpdir(), 'distill-golden-'));
try {
  const store = new Store(join(work, 'store'));
  const entries = await goldenEntries(join(work, 'tree'));
  const golden: Record<string, unknown> = {};
  for (const compression of ['gzip', 'none'] as const) {
    const layer = await buildLayer(entries, { store, compression, sourceDateEpoch: GOLDEN_EPOCH });
    golden[compression] = {
      mediaType: layer.descriptor.mediaType,
      digest: layer.descriptor.digest,
      size: layer.descriptor.size,
      diffId: layer.diffId,
      uncompressedSize: layer.uncompressedSize,
    };
  }
  const file = join(root, 'test', 'golden', 'layers.json');
  await writeFile(
    file,
    `${JSON.stringify({ note: 'written by scripts/update-golden.ts; do not edit', node: process.versions.node, gzipEncoder: GZIP_ENCODER, sourceDateEpoch: GOLDEN_EPOCH, ...golden }, null, 2)}\n`,
  );
  console.log(`wrote ${file}`);
} finally {
  await rm(work, { recursive: true, force: true });
}

// test/golden/base-local.json: the static base built from the local signed repository of
// test/helpers/base-fixture.ts (needs dpkg-deb, apt-ftparchive, gpg and xz).
{
  const { makeAptRepo } = await import('../test/helpers/aptrepo.js');
  const { lockStatic, PACKAGES, staticDigest } = await import('../test/helpers/base-fixture.js');
  const dir = await mkdtemp(join(tmpdir(), 'distill-golden-base-'));
  const repo = await makeAptRepo({ packages: PACKAGES });
  try {
    const keyring = join(dir, 'key.asc');
    await writeFile(keyring, repo.publicKey);
    const lockFile = join(dir, 'lock.json');
    await lockStatic(repo, keyring, lockFile, join(dir, 'lock-cache'));
    const digest = await staticDigest(repo, keyring, lockFile, dir);
    const file = join(root, 'test', 'golden', 'base-local.json');
    await writeFile(
      file,
      `${JSON.stringify({ note: 'written by scripts/update-golden.ts; do not edit', static: digest }, null, 2)}\n`,
    );
    console.log(`wrote ${file}`);
  } finally {
    await repo.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// test/golden/app-offline.json: test/fixtures/apps/hello-offline built by planApp and buildApp with
// no network (test/helpers/app-fixture.ts: a local signed apt repository, a fake Node release and
// the machine's npm served on 127.0.0.1). The npm used is recorded: its behaviour is an input.
// `noInit` is the same app built with --no-init (node as PID 1, no tini).
{
  const { buildOfflineHello, startOfflineWorld } = await import('../test/helpers/app-fixture.js');
  const dir = await mkdtemp(join(tmpdir(), 'distill-golden-app-'));
  const world = await startOfflineWorld();
  try {
    const { digest } = await buildOfflineHello(world, dir);
    const noInit = (await buildOfflineHello(world, join(dir, 'no-init'), { init: false })).digest;
    const file = join(root, 'test', 'golden', 'app-offline.json');
    await writeFile(
      file,
      `${JSON.stringify({ note: 'written by scripts/update-golden.ts; do not edit', npm: world.npmVersion, digest, noInit }, null, 2)}\n`,
    );
    console.log(`wrote ${file}`);
  } finally {
    await world.close();
    await rm(dir, { recursive: true, force: true });
  }
}
