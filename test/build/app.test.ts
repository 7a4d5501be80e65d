import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/build/app/app.js';
import { stripElfBuffer } from '../../src/build/app/elf-strip.js';
import { isDistillError } from '../../src/errors.js';
import { diffIdOf, readLayer } from '../../src/layers/read.js';
import { openArtifact } from '../../src/media/index.js';
import { planApp } from '../../src/plan/app.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import {
  buildOfflineHello,
  FAKE_NODE,
  FAKE_NODE_BINARY,
  GOLDEN_APP_EPOCH,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';
import { requireComponents } from '../helpers/components.js';

/**
 * buildApp and planApp as a library, without the CLI and without the network: a signed apt
 * repository, Node and npm served on 127.0.0.1 (test/helpers/app-fixture.ts), the machine's npm
 * installing. The offline golden digest of hello-offline (examples/hello with its dependency
 * as a local package tarball: express comes only from the registry, which these tests must not
 * need) is in test/golden/app-offline.json, written by scripts/update-golden.ts; the online
 * examples/hello is built by test/e2e/build.test.ts.
 */
const GOLDEN = fileURLToPath(new URL('../golden/app-offline.json', import.meta.url));

describe('buildApp without the CLI, offline', () => {
  const fx = useOfflineWorld('distill-build-app-');
  const start = fx.world;

  test('hello-offline: two empty stores give the same digest, the golden one; the image is what the plan says', async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const a = await buildOfflineHello(w, join(fx.dir, 'a'));
    const b = await buildOfflineHello(w, join(fx.dir, 'b'));
    assert.equal(a.digest, b.digest);
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { digest: string; npm: string };
    assert.equal(
      a.digest,
      golden.digest,
      `test/golden/app-offline.json (made with npm ${golden.npm}; this machine has npm ${w.npmVersion}; rewrite with scripts/update-golden.ts only)`,
    );

    // The plan's decisions, and where each came from.
    assert.equal(a.plan.node.version, FAKE_NODE);
    assert.equal(a.plan.node.from, '--node');
    assert.deepEqual(a.plan.packageManager, {
      name: 'npm',
      spec: '11',
      version: w.npmVersion,
      from: 'package-lock.json in the app',
      // The registry's integrity of the tarball served (the provenance names the package manager by it).
      integrity: `sha512-${createHash('sha512')
        .update(w.registry.routes.get(`/npm/-/npm-${w.npmVersion}.tgz`) as Buffer)
        .digest('base64')}`,
    });
    assert.deepEqual(a.plan.cmd, {
      args: ['index.js'],
      from: 'scripts.start in package.json',
      entry: { file: 'index.js', checked: 'in the app directory' },
    });
    assert.equal(a.plan.install.copy, 'app', 'a file: dependency is read from the app directory');
    assert.equal(a.plan.base.kind, 'debian');
    assert.deepEqual(
      a.plan.layers.map((l) => l.name),
      ['os', 'packages', 'node', 'node_modules', 'app'],
    );

    const img = await openArtifact(parseImageRef(`oci:${a.layout}:latest`));
    assert.equal(img.kind, 'image');
    if (img.kind !== 'image') return;
    const config = img.config.value.config!;
    assert.deepEqual(config.Entrypoint, a.plan.entrypoint);
    assert.deepEqual(config.Cmd, ['index.js']);
    assert.equal(config.User, '65532:65532');
    assert.ok(config.Env?.includes(`NODE_VERSION=${FAKE_NODE}`));
    // bin/node stripped by default (build/node-layer.ts), and the image says so.
    assert.equal(a.plan.node.strip, true);
    assert.equal(config.Labels?.['dev.distill.node.stripped'], 'true');
    assert.equal(
      img.config.value.created,
      new Date(GOLDEN_APP_EPOCH * 1000).toISOString().replace('.000Z', 'Z'),
    );
    assert.deepEqual(
      img.config.value.history
        ?.filter((h) => h.created_by?.startsWith('distill build'))
        .map((h) => h.created_by),
      a.plan.layers.filter((l) => l.createdBy !== undefined).map((l) => l.createdBy),
    );
    assert.equal(img.layers.length, 5);
    if (requireComponents(t, 'umoci')) {
      execFileSync('umoci', ['unpack', '--image', `${a.layout}:latest`, join(fx.dir, 'bundle')], {
        stdio: 'pipe',
      });
      const root = join(fx.dir, 'bundle', 'rootfs');
      assert.equal(
        await readFile(join(root, 'app', 'node_modules', 'hello-dep', 'index.js'), 'utf8'),
        "module.exports = () => ({ hello: 'world' });\n",
      );
      assert.deepEqual(
        await readFile(join(root, 'nodejs', 'bin', 'node')),
        (await stripElfBuffer(FAKE_NODE_BINARY, 'node')).bytes,
      );
      assert.ok(existsSync(join(root, 'usr', 'lib', 'x86_64-linux-gnu', 'libc.so.6')));
      // The init (decision 0015): tini, without its static build.
      assert.deepEqual(config.Entrypoint, ['/usr/bin/tini', '-s', '--', '/nodejs/bin/node']);
      assert.ok(existsSync(join(root, 'usr', 'bin', 'tini')));
      assert.ok(!existsSync(join(root, 'usr', 'bin', 'tini-static')));
    }
  });

  test('--no-strip: bin/node as the release has it, no label, another digest', async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const whole = await buildOfflineHello(w, join(fx.dir, 'whole'), { strip: false });
    assert.equal(whole.plan.node.strip, false);
    assert.equal(whole.plan.layers.find((l) => l.name === 'node')?.holds, `Node.js ${FAKE_NODE}`);
    const img = await openArtifact(parseImageRef(`oci:${whole.layout}:latest`));
    assert.equal(img.kind, 'image');
    if (img.kind !== 'image') return;
    assert.equal(img.config.value.config?.Labels?.['dev.distill.node.stripped'], undefined);
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { digest: string };
    assert.notEqual(whole.digest, golden.digest);
    const node = img.layers[2]!;
    let bin: Buffer | undefined;
    for await (const e of readLayer(await node.open())) {
      if (e.header.name.replace(/^\.?\//, '') === 'nodejs/bin/node') {
        const parts: Buffer[] = [];
        for await (const c of e.body) parts.push(c as Buffer);
        bin = Buffer.concat(parts);
      }
    }
    assert.deepEqual(bin, FAKE_NODE_BINARY);
  });

  test('--compression zstd:5: every layer zstd, the same diff_ids as gzip, the same digest again', async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const zstd = { kind: 'zstd', level: 5 } as const;
    const a = await buildOfflineHello(w, join(fx.dir, 'zstd-a'), { compression: zstd });
    const b = await buildOfflineHello(w, join(fx.dir, 'zstd-b'), { compression: zstd });
    assert.equal(a.digest, b.digest);
    assert.deepEqual(a.plan.layerCompression, zstd);
    const gz = await buildOfflineHello(w, join(fx.dir, 'gzip'));
    assert.deepEqual(gz.plan.layerCompression, { kind: 'gzip', level: 6 });
    const [zi, gi] = await Promise.all(
      [a, gz].map((x) => openArtifact(parseImageRef(`oci:${x.layout}:latest`))),
    );
    if (zi?.kind !== 'image' || gi?.kind !== 'image') return assert.fail('images expected');
    assert.deepEqual(
      zi.layers.map((l) => l.descriptor.mediaType),
      zi.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+zstd'),
    );
    assert.deepEqual(zi.config.value.rootfs.diff_ids, gi.config.value.rootfs.diff_ids);
    for (const l of zi.layers) assert.equal((await diffIdOf(await l.open())).diffId, l.diffId);
  });

  test('a warm rebuild runs no install and gives the same digest; a plan of another version is refused', async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const d = join(fx.dir, 'warm');
    const first = await buildOfflineHello(w, d);
    const store = new Store(join(d, 'store'));
    const sources = w.sources(store);
    const steps: string[] = [];
    const again = await buildApp(first.plan, {
      store,
      sources,
      env: w.env(join(d, 'scratch')),
      step: (m) => steps.push(m),
    });
    assert.equal(again.artifact.manifest.digest, first.digest);
    assert.ok(steps.includes('node_modules: cached (package.json and lockfile unchanged)'), steps.join('\n'));
    assert.ok(!steps.some((s) => s.startsWith('install:')), steps.join('\n'));
    await assert.rejects(buildApp({ ...first.plan, planVersion: 2 as 1 }, { store, sources, env: {} }), (e) =>
      isDistillError(e, 'PLAN_INVALID'),
    );
  });

  test('an abort stops the install and its process group, removes the scratch copy and writes nothing', async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const d = join(fx.dir, 'abort');
    const app = join(d, 'slow-install');
    const pidFile = join(d, 'preinstall.pid');
    await mkdir(app, { recursive: true });
    // The app's own preinstall script stands for a long install: it records its pid and waits.
    const preinstall = `node -e "require('fs').writeFileSync(process.env.PIDFILE, String(process.pid)); setInterval(() => {}, 1000)"`;
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'slow-install', version: '1.0.0', scripts: { preinstall } }),
    );
    await writeFile(
      join(app, 'package-lock.json'),
      JSON.stringify({
        name: 'slow-install',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'slow-install', version: '1.0.0' } },
      }),
    );
    await writeFile(join(app, 'index.js'), '');
    const store = new Store(join(d, 'store'));
    const controller = new AbortController();
    const sources = w.sources(store, controller.signal);
    const out = join(d, 'out');
    const plan = await planApp(
      { dir: app, node: '24', platforms: ['linux/amd64'], suites: [w.repo.suite], outputs: [`oci:${out}:x`] },
      sources,
    );
    const scratch = join(d, 'scratch');
    const env = { ...w.env(scratch), PIDFILE: pidFile };
    let failed: unknown;
    const building = buildApp(plan, { store, sources, env, signal: controller.signal });
    building.catch((e: unknown) => {
      failed = e;
    });
    const until = Date.now() + 120_000;
    // The file exists a moment before its pid is written in it: wait for the number.
    let scriptPid = 0;
    while (!(scriptPid > 0)) {
      if (failed !== undefined) throw failed;
      if (Date.now() > until) throw new Error('the preinstall script did not start');
      await new Promise((r) => setTimeout(r, 100));
      scriptPid = existsSync(pidFile) ? Number(await readFile(pidFile, 'utf8')) : 0;
    }
    assert.equal(
      readdirSync(join(scratch, 'distill-build')).length,
      1,
      'the install runs in one scratch copy',
    );
    controller.abort(new Error('the test says stop'));
    await assert.rejects(building, (e) => isDistillError(e, 'ABORTED'));
    const alive = () => {
      try {
        process.kill(scriptPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(), false, 'the install script was killed with its group');
    assert.deepEqual(readdirSync(join(scratch, 'distill-build')), [], 'the scratch copy is gone');
    assert.deepEqual(readdirSync(join(scratch, 'distill-build.owners')), [], 'and its marker');
    assert.equal(existsSync(out), false, 'no image was written');
  });
});
