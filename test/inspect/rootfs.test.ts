import assert from 'node:assert/strict';
import { chmod, symlink as fsSymlink, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isDistillError } from '../../src/errors.js';
import { inspectArtifact, inspectReference, inspectRootfs, rootfsTree } from '../../src/inspect/index.js';
import { writeArtifact } from '../../src/media/index.js';
import type { ImageIndex } from '../../src/oci/image.js';
import { rawJsonFromValue } from '../../src/oci/image.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import type { IndexJson } from '../../src/oci/types.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { dir, file, imageOf, symlink, tarOf } from './helpers.js';

async function tempDir(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'distill-inspect-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

test('a root filesystem directory is walked with lstat: symlinks not followed, hardlinks, modes', async (t) => {
  const root = join(await tempDir(t), 'rootfs');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'bin'));
  await mkdir(join(root, 'tmp'));
  await mkdir(join(root, 'srv/open'), { recursive: true });
  await writeFile(join(root, 'etc/os-release'), 'ID=wolfi\nVERSION_ID=20230201\n');
  await writeFile(join(root, 'bin/busybox'), 'bb');
  await chmod(join(root, 'bin/busybox'), 0o755);
  await fsSymlink('busybox', join(root, 'bin/sh'));
  await fsSymlink('/', join(root, 'bin/root-link')); // followed by a naive walk: a cycle
  await writeFile(join(root, 'bin/su'), 'su');
  await chmod(join(root, 'bin/su'), 0o4755);
  await link(join(root, 'bin/su'), join(root, 'bin/su-again'));
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'srv/open'), 0o777);

  const f = await inspectRootfs(root);
  assert.equal(f.source.kind, 'rootfs');
  assert.equal(f.os.id, 'wolfi');
  assert.deepEqual(
    f.shells.map((s) => `${s.name} ${s.path} ${s.target}`),
    ['busybox /bin/busybox null', 'sh /bin/sh /bin/busybox'],
  );
  assert.deepEqual(
    f.setuid.map((s) => s.path),
    ['/bin/su', '/bin/su-again'],
  );
  assert.deepEqual(f.worldWritable, [{ path: '/srv/open', type: 'dir', mode: '0777' }]);
  assert.equal(f.user, null);
  assert.equal(f.runsAsRoot, null, 'no config: unknown');
  assert.equal(f.layers.length, 1);
  assert.equal(f.layers[0]!.digest, null);
  const tree = await rootfsTree(root);
  assert.equal(tree.lookup('/bin/su-again')?.hardlinkTo, '/bin/su');
  assert.equal(tree.lookup('/bin/root-link')?.type, 'symlink');
  assert.equal(tree.wastedBytes, 0);
});

test('a root filesystem tarball (gzip) is read as one layer', async (t) => {
  const d = await tempDir(t);
  const path = join(d, 'rootfs.tar.gz');
  const tar = await tarOf([
    dir('./'),
    file('./etc/os-release', 'ID=alpine\nVERSION_ID=3.22.2\n'),
    file('./lib/ld-musl-aarch64.so.1', 'musl', 0o755),
    symlink('./bin/sh', '/bin/busybox'),
    file('./bin/busybox', 'bb', 0o755),
  ]);
  await writeFile(path, gzipSync(tar));
  const f = await inspectRootfs(path);
  assert.equal(f.os.id, 'alpine');
  assert.equal(f.libc.family, 'musl');
  assert.equal(f.layers[0]!.uncompressed, tar.length);
  assert.equal(f.size.uncompressed, tar.length);
  await assert.rejects(inspectRootfs(join(d, 'missing')), (err: unknown) => isDistillError(err, 'NOT_FOUND'));
});

test('inspectReference opens an OCI layout like any other medium', async (t) => {
  const d = await tempDir(t);
  const image = await imageOf({ layers: [[file('etc/os-release', 'ID=debian\nVERSION_ID=13\n')]] });
  const ref = parseImageRef(`oci:${join(d, 'layout')}:v1`);
  await writeArtifact(ref, image);
  const f = await inspectReference(ref);
  assert.equal(f.os.id, 'debian');
  assert.equal(f.source.manifestDigest, image.manifest.digest);
});

test('inspectArtifact picks the platform asked for from an index', async () => {
  const amd = await imageOf({ layers: [[file('etc/os-release', 'ID=amd\n')]] });
  const arm = await imageOf({ layers: [[file('etc/os-release', 'ID=arm\n')]], architecture: 'arm64' });
  const desc = (i: typeof amd, architecture: string) => ({
    mediaType: MediaType.OciManifest,
    digest: i.manifest.digest,
    size: i.manifest.bytes.length,
    platform: { os: 'linux', architecture },
  });
  const indexJson: IndexJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [desc(amd, 'amd64'), desc(arm, 'arm64')],
  };
  const index: ImageIndex = {
    kind: 'index',
    manifest: rawJsonFromValue(indexJson, MediaType.OciIndex),
    child: async (d) => (d.digest === arm.manifest.digest ? arm : amd),
  };
  const f = await inspectArtifact(index, { platform: { os: 'linux', architecture: 'arm64' } });
  assert.equal(f.os.id, 'arm');
  assert.equal(f.source.platform, 'linux/arm64');
  await assert.rejects(
    inspectArtifact(index, { platform: { os: 'linux', architecture: 's390x' } }),
    (err: unknown) => isDistillError(err, 'PLATFORM_NOT_FOUND'),
  );
});
