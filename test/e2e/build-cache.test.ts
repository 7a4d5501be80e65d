import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HELLO_OFFLINE, type OfflineWorld, offlineReady, startOfflineWorld } from '../helpers/app-fixture.js';
import { type RunningRegistry, requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { type RegistryProxy, startRegistryProxy } from '../helpers/registry-proxy.js';
import { runDistill } from '../helpers/spawn-cli.js';

/**
 * The registry as the shared build cache (issue 18, decision 0022), with the real
 * docker-registry behind a logging proxy and distill's CLI in processes of their own: each
 * DISTILL_CACHE directory stands for a CI runner that starts empty.
 */

/** npm's debug logs under a store: npm writes one per run (npm_config_cache is in the store). */
async function npmRuns(store: string): Promise<number> {
  const found = await readdir(store, { recursive: true }).catch(() => [] as string[]);
  return found.filter((p) => /_logs\/[^/]*-debug-\d+\.log$/.test(p)).length;
}

interface Manifest {
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
}

describe('e2e: --cache in a registry', () => {
  let dir = '';
  let world: OfflineWorld | undefined;
  let registry: RunningRegistry | undefined;
  let proxy: RegistryProxy | undefined;
  let keyring = '';

  before(async () => {
    dir = await tempDir('distill-build-cache-');
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await world?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function ready(t: import('node:test').TestContext): Promise<boolean> {
    if (!offlineReady(t) || !requireComponents(t, 'docker-registry')) return false;
    if (world) return true;
    world = await startOfflineWorld();
    keyring = join(dir, 'key.asc');
    await writeFile(keyring, world.keyring);
    registry = await startRegistry();
    proxy = await startRegistryProxy(registry.host);
    return true;
  }

  /** `distill build` of hello-offline as a runner with its own DISTILL_CACHE. */
  function build(runner: string, extra: string[]) {
    const w = world!;
    return runDistill(
      [
        'build',
        HELLO_OFFLINE,
        '--format',
        'json',
        '--node',
        '24',
        '--platform',
        'linux/amd64',
        '--mirror',
        w.repo.url,
        '--suite',
        w.repo.suite,
        '--keyring',
        keyring,
        ...extra,
      ],
      {
        ...w.env(join(dir, `scratch-${runner}`)),
        DISTILL_CACHE: join(dir, runner),
        npm_config_registry: w.registry.url,
        SOURCE_DATE_EPOCH: '1700000000',
      },
    );
  }

  const digestOf = (stdout: string) => (JSON.parse(stdout) as { digest: string }).digest;

  async function manifest(repo: string, ref: string): Promise<Manifest> {
    const res = await fetch(`http://${registry!.host}/v2/${repo}/manifests/${ref}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Manifest;
  }

  test("runner B hits runner A's entries: no install, same digest, no node_modules/Node/OS layer uploaded", async (t) => {
    if (!(await ready(t))) return;
    const p = proxy!;
    const cache = `docker://${p.host}/cache/app`;
    const a = await build('runner-a', ['--cache', cache, '-o', `docker://${p.host}/out/app-a:1`]);
    assert.equal(a.code, 0, a.stderr);
    assert.ok((await npmRuns(join(dir, 'runner-a'))) >= 1, 'runner A installs (the counter sees npm runs)');

    const from = p.log.length;
    const b = await build('runner-b', ['--cache', cache, '-o', `docker://${p.host}/out/app-b:1`]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(digestOf(b.stdout), digestOf(a.stdout), 'the same image');
    assert.equal(await npmRuns(join(dir, 'runner-b')), 0, 'no npm run on runner B');
    assert.match(b.stderr, /node_modules: cached/);
    assert.match(b.stderr, /cache: node-modules from docker:\/\//);
    assert.doesNotMatch(b.stderr, /warning/);

    // What runner B sent to its output repository: the app layer and the config, nothing else.
    const image = await manifest('out/app-b', '1');
    const app = image.layers[image.layers.length - 1]!;
    const sent = p.log.slice(from).filter((e) => e.path.startsWith('/v2/out/app-b/blobs/uploads'));
    const uploaded = sent.reduce((n, e) => n + e.uploaded, 0);
    assert.equal(uploaded, app.size + image.config.size, 'only the app layer and the config are uploaded');
    const mounted = sent.filter((e) => e.query.includes('mount=') && e.status === 201);
    for (const layer of image.layers.slice(0, -1)) {
      assert.ok(
        mounted.some((e) => e.query.includes(encodeURIComponent(layer.digest))),
        `layer ${layer.digest} is mounted from the cache`,
      );
    }
  });
});
