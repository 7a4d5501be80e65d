import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { distill } from '../helpers/cli.js';
import { type RunningRegistry, requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * zstd layers (`--compression zstd`) read by programs distill did not write: `distill base
 * nodejs24 --compression zstd:9` pushed to Debian's docker-registry, pulled and run by Debian's
 * podman (a private store, vfs, runc), read back by skopeo; distill's own readers take it through
 * inspect (registry and docker-archive) and copy, each checking every layer's diff_id.
 */
const TAG = `t${process.pid}`;
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

describe('e2e: zstd layers in a registry, podman and skopeo', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let registry: RunningRegistry | undefined;
  before(async () => {
    dir = await tempDir('distill-zstd-e2e-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    await registry?.stop();
    if (dir) {
      spawnSync('podman', [...podmanStore(), 'system', 'reset', '--force'], { stdio: 'ignore' });
      await rm(dir, { recursive: true, force: true });
    }
  });
  const podmanStore = () => [
    '--root',
    join(dir, 'podman', 'storage'),
    '--runroot',
    join(dir, 'podman', 'run'),
    '--storage-driver',
    'vfs',
    '--cgroup-manager',
    'cgroupfs',
    '--runtime',
    'runc',
  ];
  const podman = (...args: string[]) =>
    spawnSync('podman', [...podmanStore(), ...args], { encoding: 'utf8', timeout: 300_000 });

  test('distill base nodejs24 --compression zstd:9: podman pulls and runs it, skopeo and distill read it', async (t) => {
    if (!requireComponents(t, 'podman', 'runc', 'skopeo', 'docker-registry')) return;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    registry = await startRegistry();
    const remote = `${registry.host}/distill-e2e/zstd:${TAG}`;
    const layout = join(dir, 'layout');
    let r = await distill(
      [
        'base',
        'nodejs24',
        '--nonroot',
        '-q',
        '--compression',
        'zstd:9',
        '-o',
        `oci:${layout}:z`,
        '-o',
        `docker://${remote}`,
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);

    // skopeo: the manifest names every layer tar+zstd.
    const raw = JSON.parse(
      execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${remote}`], {
        encoding: 'utf8',
      }),
    ) as { layers: { mediaType: string }[] };
    assert.ok(raw.layers.length >= 2);
    assert.deepEqual(
      raw.layers.map((l) => l.mediaType),
      raw.layers.map(() => ZSTD),
    );
    const info = JSON.parse(
      execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${remote}`], { encoding: 'utf8' }),
    ) as { Labels: Record<string, string> | null; Layers: string[] };
    assert.equal(info.Labels?.['dev.distill.node.stripped'], 'true');
    assert.equal(info.Layers.length, raw.layers.length);

    // podman pulls (decompressing and checking every layer) and runs it.
    const pulled = podman('pull', '--tls-verify=false', remote);
    assert.equal(pulled.status, 0, pulled.stderr);
    const ran = podman(
      'run',
      '--rm',
      '--network',
      'none',
      // podman (root) asks runc for nofile and nproc limits above this sandbox's hard limits.
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      remote,
      '-e',
      "console.log(process.version, process.getuid(), new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', hour12: false }).format(new Date(Date.UTC(2024, 0, 1, 0))))",
    );
    assert.equal(ran.status, 0, ran.stderr);
    assert.match(ran.stdout.trim(), /^v24\.\d+\.\d+ 65532 09$/);

    // distill's readers: inspect from the registry, copy to a docker-archive and inspect that.
    r = await distill(['inspect', remote, '--format', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    const facts = JSON.parse(r.stdout) as { layers: { mediaType: string | null }[] };
    assert.deepEqual(
      facts.layers.map((l) => l.mediaType),
      raw.layers.map(() => ZSTD),
    );
    const archive = join(dir, 'z.tar');
    r = await distill(['copy', '-q', remote, `docker-archive:${archive}:distill-e2e/zstd:${TAG}`], env);
    assert.equal(r.code, 0, r.stderr);
    r = await distill(['inspect', `docker-archive:${archive}`, '--format', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { layers: unknown[] }).layers.length, raw.layers.length);
    r = await distill(['digest', `oci:${layout}:z`], env);
    assert.equal(r.code, 0, r.stderr);
  });
});
