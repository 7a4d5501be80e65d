import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openArtifact } from '../../src/media/index.js';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import { buildIndex, setImageConfig } from '../../src/oci/mutate.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { type RunningRegistry, requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { docker, dockerRun, importBusyboxImage, removeImages } from '../helpers/docker.js';

/**
 * The foundation's end-to-end trip with real components: an image made by the Docker engine goes
 * docker-daemon: -> oci: -> oci-archive: -> docker-archive: -> a real registry -> oci:, checked
 * at each stop by skopeo, umoci, docker load / pull / run; the manifest digest survives.
 */
const LINE = `distill-e2e-${process.pid}`;
const NAME = `distill-e2e/busybox:${process.pid}`;

function skopeoDigest(ref: string): string {
  const out = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', ref]);
  return `sha256:${createHash('sha256').update(out).digest('hex')}`;
}

describe('e2e: docker-daemon -> oci -> oci-archive -> docker-archive -> registry -> oci', () => {
  let dir = '';
  let registry: RunningRegistry | undefined;
  const loaded: string[] = [];

  before(async () => {
    dir = await tempDir('distill-e2e-');
  });
  after(async () => {
    await registry?.stop();
    removeImages([NAME, ...loaded]);
    await rm(dir, { recursive: true, force: true });
  });

  test('single image round trip with real docker, skopeo, umoci and docker-registry', async (t) => {
    if (!requireComponents(t, 'docker', 'skopeo', 'umoci', 'docker-registry')) return;
    if (!existsSync('/bin/busybox')) {
      if (!requireComponents(t, 'busybox')) return;
    }
    await importBusyboxImage(dir, NAME, LINE);
    const env = { DISTILL_CACHE: join(dir, 'cache') };

    // docker-daemon -> oci
    const layout = join(dir, 'layout');
    let r = await distill(
      ['copy', '--quiet', `docker-daemon:${NAME}`, `oci:${layout}:v1`, '--format', 'json'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const firstDigest = JSON.parse(r.stdout).destination.digest as string;
    assert.match(firstDigest, /^sha256:[a-f0-9]{64}$/);
    const inspected = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${layout}:v1`], { encoding: 'utf8' }),
    );
    assert.equal(inspected.Digest, firstDigest);
    assert.equal(inspected.Architecture, 'amd64');
    execFileSync('umoci', ['unpack', '--image', `${layout}:v1`, join(dir, 'bundle')], { stdio: 'pipe' });
    assert.ok(existsSync(join(dir, 'bundle', 'rootfs', 'bin', 'busybox')), 'umoci unpacked bin/busybox');
    assert.equal(skopeoDigest(`oci:${layout}:v1`), firstDigest);

    // the classic archive `docker save` writes reads to the same image
    const saved = join(dir, 'saved.tar');
    docker(['save', '-o', saved, NAME]);
    r = await distill(['digest', `docker-archive:${saved}`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), firstDigest);

    // oci -> oci-archive
    const ociArchive = join(dir, 'image.oci.tar');
    r = await distill(['copy', '-q', `oci:${layout}:v1`, `oci-archive:${ociArchive}:v1`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(skopeoDigest(`oci-archive:${ociArchive}:v1`), firstDigest);

    // oci-archive -> docker-archive, then docker load + run
    const dockerArchive = join(dir, 'image.docker.tar');
    const loadedName = `distill-e2e/loaded:${process.pid}`;
    r = await distill(
      ['copy', '-q', `oci-archive:${ociArchive}:v1`, `docker-archive:${dockerArchive}:${loadedName}`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    loaded.push(loadedName);
    docker(['load', '-i', dockerArchive]);
    assert.equal(dockerRun(loadedName), LINE);

    // oci -> docker-daemon through the engine's load endpoint (no docker CLI involved)
    const written = `distill-e2e/written:${process.pid}`;
    r = await distill(['copy', '-q', `oci:${layout}:v1`, `docker-daemon:${written}`], env);
    assert.equal(r.code, 0, r.stderr);
    loaded.push(written);
    assert.equal(dockerRun(written), LINE);

    // docker-archive -> registry; docker pull + run; skopeo sees the same digest
    registry = await startRegistry();
    const remote = `${registry.host}/e2e/busybox:v1`;
    r = await distill(
      ['copy', '-q', `docker-archive:${dockerArchive}`, `docker://${remote}`, '--format', 'json'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).destination.digest, firstDigest);
    assert.equal(skopeoDigest(`docker://${remote}`), firstDigest);
    docker(['pull', '-q', remote]);
    loaded.push(remote);
    assert.equal(dockerRun(remote), LINE);

    // registry -> oci: the manifest digest is unchanged after the whole trip
    const back = join(dir, 'back');
    r = await distill(['copy', '-q', remote, `oci:${back}:v1`], env);
    assert.equal(r.code, 0, r.stderr);
    r = await distill(['digest', `oci:${back}:v1`], env);
    assert.equal(r.stdout.trim(), firstDigest);
  });

  test('a two-platform index survives oci -> oci-archive -> registry -> oci', async (t) => {
    if (!requireComponents(t, 'docker', 'skopeo', 'umoci', 'docker-registry')) return;
    const layout = join(dir, 'layout');
    if (!existsSync(layout)) {
      await importBusyboxImage(dir, NAME, LINE);
      const r = await distill(['copy', '-q', `docker-daemon:${NAME}`, `oci:${layout}:v1`], {
        DISTILL_CACHE: join(dir, 'cache'),
      });
      assert.equal(r.code, 0, r.stderr);
    }
    const amd64 = await openArtifact(parseImageRef(`oci:${layout}:v1`));
    assert.equal(amd64.kind, 'image');
    if (amd64.kind !== 'image') return;
    const arm64 = setImageConfig(amd64, { architecture: 'arm64', variant: 'v8' });
    const index = buildIndex([amd64, arm64]);
    const multi = join(dir, 'multi');
    await writeLayoutDir(multi, 'multi', index);
    const raw = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', `oci:${multi}:multi`], { encoding: 'utf8' }),
    );
    assert.deepEqual(
      raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture),
      ['amd64', 'arm64'],
    );

    const archive = join(dir, 'multi.oci.tar');
    let r = await distill(['copy', '-q', `oci:${multi}:multi`, `oci-archive:${archive}:multi`]);
    assert.equal(r.code, 0, r.stderr);
    registry ??= await startRegistry();
    const remote = `${registry.host}/e2e/multi:v1`;
    r = await distill(['copy', '-q', `oci-archive:${archive}:multi`, remote, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const pushed = JSON.parse(r.stdout);
    assert.equal(pushed.destination.digest, index.manifest.digest);
    assert.deepEqual(pushed.platforms, ['linux/amd64', 'linux/arm64/v8']);
    assert.equal(skopeoDigest(`docker://${remote}`), index.manifest.digest);
    // the engine picks its own platform from the index and runs it
    docker(['pull', '-q', remote]);
    loaded.push(remote);
    assert.equal(dockerRun(remote), LINE);

    const back = join(dir, 'multi-back');
    r = await distill(['copy', '-q', remote, `oci:${back}`, '--platform', 'all']);
    assert.equal(r.code, 0, r.stderr);
    r = await distill(['digest', `oci:${back}`, '--format', 'json']);
    const d = JSON.parse(r.stdout);
    assert.equal(d.digest, index.manifest.digest);
    assert.deepEqual(d.platforms, ['linux/amd64', 'linux/arm64/v8']);
    // one platform out of the index
    r = await distill(['digest', `oci:${back}`, '--platform', 'linux/arm64']);
    assert.equal(r.stdout.trim(), arm64.manifest.digest);
  });
});
