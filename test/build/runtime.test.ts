import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDistillError } from '../../src/errors.js';
import { openArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import {
  buildOffline,
  buildOfflineHello,
  FAKE_ABI,
  FAKE_NODE,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';
import { requireComponents } from '../helpers/components.js';

const GOLDEN = fileURLToPath(new URL('../golden/app-offline.json', import.meta.url));

/**
 * The runtime side of an app build, offline (test/helpers/app-fixture.ts): what a failed native
 * compile says about the Node it compiled for, writable directories, the init process.
 */
describe('buildApp: the runtime an app gets, offline', () => {
  const fx = useOfflineWorld('distill-build-runtime-');
  const start = fx.world;

  /** An app whose one dependency is a local package tarball: `files` under package/. */
  async function appWithDependency(
    name: string,
    dep: { name: string; files: Record<string, string> },
    pkg: Record<string, unknown> = {},
  ): Promise<string> {
    const app = join(fx.dir, name, 'app');
    const work = join(fx.dir, name, 'dep');
    for (const [f, text] of Object.entries(dep.files)) {
      await mkdir(join(work, 'package', f, '..'), { recursive: true });
      await writeFile(join(work, 'package', f), text);
    }
    await mkdir(app, { recursive: true });
    const tgz = `${dep.name}-1.0.0.tgz`;
    execFileSync('tar', ['-C', work, '-czf', join(app, tgz), 'package']);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name, version: '1.0.0', dependencies: { [dep.name]: `file:${tgz}` }, ...pkg }),
    );
    await writeFile(join(app, 'index.js'), `require('${dep.name}');\n`);
    execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: app,
      stdio: 'pipe',
    });
    return app;
  }

  test('a native addon that does not compile: the error names the Node version, its ABI and the pin', async (t) => {
    if (!offlineReady(t) || !requireComponents(t, 'make', 'python3', 'cc')) return;
    const w = await start();
    const app = await appWithDependency(
      'native-fails',
      {
        name: 'badaddon',
        files: {
          'package.json': JSON.stringify({ name: 'badaddon', version: '1.0.0', gypfile: true }),
          'binding.gyp': JSON.stringify({ targets: [{ target_name: 'badaddon', sources: ['addon.c'] }] }),
          'addon.c': '#error "badaddon does not build for this Node"\n',
        },
      },
      { allowScripts: { badaddon: true } },
    );
    const d = join(fx.dir, 'native-fails');
    await assert.rejects(buildOffline(w, app, d), (e) => {
      assert.ok(isDistillError(e, 'APP_BUILD_FAILED'), String(e));
      const first = e.message.split('\n')[0]!;
      assert.equal(
        first,
        `badaddon did not compile for Node ${FAKE_NODE} (ABI: NODE_MODULE_VERSION ${FAKE_ABI}), chosen from --node "24"; if badaddon does not support that Node yet, choose a release it supports (--node, .node-version or engines.node) or a version of badaddon that supports this one`,
      );
      assert.match(e.message, /gyp ERR!/, "node-gyp's own output follows");
      return true;
    });
    assert.equal(existsSync(join(d, 'out')), false, 'no image was written');
  });

  test("--volume and --writable: a last layer of empty directories owned by 65532, and VOLUME; the plan's ports are EXPOSEd", async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const d = join(fx.dir, 'writable');
    const { plan, layout } = await buildOfflineHello(w, d, {
      volumes: ['/data'],
      writable: ['cache', '/var/lib/hello/state'],
      // The plan's ports, from -p or a framework's default, are what the image exposes.
      ports: ['3000', '9229/udp'],
    });
    assert.deepEqual(plan.writable, ['/app/cache', '/data', '/var/lib/hello/state']);
    const img = await openArtifact(parseImageRef(`oci:${layout}:latest`));
    if (img.kind !== 'image') assert.fail('an image');
    assert.deepEqual(img.config.value.config?.Volumes, { '/data': {} });
    assert.deepEqual(img.config.value.config?.ExposedPorts, { '3000/tcp': {}, '9229/udp': {} });
    assert.equal(img.layers.length, 6);
    assert.equal(
      img.config.value.history?.at(-1)?.created_by,
      'distill build: writable directories /app/cache /data /var/lib/hello/state',
    );
    if (!requireComponents(t, 'umoci')) return;
    const bundle = join(d, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${layout}:latest`, bundle], { stdio: 'pipe' });
    const rootfs = join(bundle, 'rootfs');
    for (const p of ['app/cache', 'data', 'var/lib/hello/state']) {
      const st = await stat(join(rootfs, p));
      assert.ok(st.isDirectory(), p);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [65532, 65532, 0o755], p);
      assert.deepEqual(await readdir(join(rootfs, p)), [], `${p} is empty`);
    }
    // Their parents are root's, as everything else distill lays out.
    for (const p of ['app', 'var/lib/hello']) {
      const st = await stat(join(rootfs, p));
      assert.deepEqual([st.uid, st.mode & 0o7777], [0, 0o755], p);
    }
    assert.equal((await stat(join(rootfs, 'tmp'))).mode & 0o7777, 0o1777, '/tmp as the base has it');
  });

  test("what the install leaves in its temporary directory goes with the scratch copy, not into the machine's", async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const d = join(fx.dir, 'tmpdir');
    const app = join(d, 'app');
    await mkdir(app, { recursive: true });
    // As yarn does (yarn--*, xfs-*): a directory made in os.tmpdir() and left there, by the app's
    // own install script and by its build script.
    const leave = (what: string) =>
      `node -e "const fs=require('fs'),os=require('os'),p=require('path');fs.writeFileSync(p.join(fs.mkdtempSync(p.join(os.tmpdir(),'${what}-')),'x'),'')"`;
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'tmp-app',
        version: '1.0.0',
        scripts: { preinstall: leave('pre'), build: leave('build') },
      }),
    );
    await writeFile(
      join(app, 'package-lock.json'),
      JSON.stringify({
        name: 'tmp-app',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'tmp-app', version: '1.0.0' } },
      }),
    );
    await writeFile(join(app, 'index.js'), '');
    const machineTmp = join(d, 'machine-tmp');
    await mkdir(machineTmp);
    const { layout } = await buildOffline(w, app, d, {}, { TMPDIR: machineTmp });
    assert.deepEqual(await readdir(machineTmp), [], 'nothing was left in the TMPDIR distill was given');
    assert.deepEqual(await readdir(join(d, 'scratch', 'distill-build')), [], 'and the scratch copy is gone');
    // Nor is the temporary directory part of the app layer the build script left.
    const img = await openArtifact(parseImageRef(`oci:${layout}:latest`));
    if (img.kind !== 'image') assert.fail('an image');
    const bundle = join(d, 'bundle');
    if (!requireComponents(t, 'umoci')) return;
    execFileSync('umoci', ['unpack', '--image', `${layout}:latest`, bundle], { stdio: 'pipe' });
    assert.deepEqual((await readdir(join(bundle, 'rootfs', 'app'))).sort(), [
      'index.js',
      'package-lock.json',
      'package.json',
    ]);
  });

  test('--no-init: node is PID 1 again, and the image is the golden one of that request', async (t) => {
    if (!offlineReady(t)) return;
    const w = await start();
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { noInit: string; npm: string };
    const { plan, digest, layout } = await buildOfflineHello(w, join(fx.dir, 'no-init'), { init: false });
    assert.equal(
      digest,
      golden.noInit,
      `test/golden/app-offline.json (made with npm ${golden.npm}; rewrite with scripts/update-golden.ts only)`,
    );
    assert.deepEqual(plan.entrypoint, ['/nodejs/bin/node']);
    const img = await openArtifact(parseImageRef(`oci:${layout}:latest`));
    if (img.kind !== 'image') assert.fail('an image');
    assert.deepEqual(img.config.value.config?.Entrypoint, ['/nodejs/bin/node']);
    assert.equal(img.layers.length, 4, 'no packages layer');
  });
});
