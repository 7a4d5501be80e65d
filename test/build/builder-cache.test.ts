import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { buildApp } from '../../src/build/app/app.js';
import { isDistillError } from '../../src/errors.js';
import { readLayer } from '../../src/layers/read.js';
import { openArtifact } from '../../src/media/index.js';
import type { Image } from '../../src/oci/image.js';
import { type AppRequest, planApp } from '../../src/plan/app.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import { HELLO_OFFLINE, hostNpm, useOfflineWorld } from '../helpers/app-fixture.js';
import { IN_CI, requireComponents } from '../helpers/components.js';

/**
 * The builder step cached by meaning, as a library, offline (the signed apt repository and npm
 * registry of test/helpers/app-fixture.ts, the machine's npm): an app whose build script is a
 * devDependency's bin. The full install is kept: a code change reruns only the build script and
 * reuses the production node_modules layer; a build that writes into node_modules gets the prune
 * and leaves the kept install as it was; a kept install that lost a file is a miss.
 */
const DEV_TOOL = `#!/usr/bin/env node
const fs = require('fs');
fs.mkdirSync('dist', { recursive: true });
const msg = fs.readFileSync('src/msg.txt', 'utf8').trim();
fs.writeFileSync('dist/index.js', 'console.log(' + JSON.stringify(msg) + ');\\n');
if (fs.existsSync('src/generate')) {
  fs.mkdirSync('node_modules/.generated', { recursive: true });
  fs.writeFileSync('node_modules/.generated/client.js', 'module.exports = ' + JSON.stringify(msg) + ';\\n');
}
`;

function ready(t: TestContext): boolean {
  if (!requireComponents(t, 'dpkg-deb', 'apt-ftparchive', 'gpg', 'xz', 'npm', 'tar')) return false;
  const why =
    arch() !== 'x64'
      ? `runs on amd64 machines (the fake Node release is linux-x64), not ${arch()}`
      : hostNpm()?.version.split('.')[0] !== '11'
        ? "installs with the machine's npm, which must be npm 11"
        : undefined;
  if (why === undefined) return true;
  if (IN_CI) throw new Error(`CI=true and this test ${why}`);
  t.skip(why);
  return false;
}

/** The app: hello-dep in production, dev-tool (whose bin is the build script) in development. */
async function makeApp(dir: string): Promise<string> {
  const app = join(dir, 'app');
  const pkg = join(dir, 'dev-tool', 'package');
  await mkdir(pkg, { recursive: true });
  await mkdir(join(app, 'src'), { recursive: true });
  await writeFile(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'dev-tool', version: '1.0.0', bin: { devtool: 'cli.js' } }),
  );
  await writeFile(join(pkg, 'cli.js'), DEV_TOOL, { mode: 0o755 });
  execFileSync('tar', ['-C', join(dir, 'dev-tool'), '-czf', join(app, 'dev-tool-1.0.0.tgz'), 'package']);
  await copyFile(join(HELLO_OFFLINE, 'hello-dep-1.0.0.tgz'), join(app, 'hello-dep-1.0.0.tgz'));
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'builder-cache',
      version: '1.0.0',
      scripts: { build: 'devtool', start: 'node dist/index.js' },
      dependencies: { 'hello-dep': 'file:hello-dep-1.0.0.tgz' },
      devDependencies: { 'dev-tool': 'file:dev-tool-1.0.0.tgz' },
    }),
  );
  await writeFile(join(app, 'src', 'msg.txt'), 'one\n');
  execFileSync('npm', ['install', '--package-lock-only', '--offline', '--no-audit', '--no-fund'], {
    cwd: app,
    env: { ...process.env, npm_config_cache: join(dir, 'npm-cache') },
    stdio: 'pipe',
  });
  return app;
}

/** Paths of a layer's entries, without the /app/ prefix. */
async function layerPaths(img: Image, index: number): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLayer(await img.layers[index]!.open()))
    out.push(e.header.name.replace(/^app\//, ''));
  return out;
}

describe('the builder step, cached by meaning (offline)', () => {
  const fx = useOfflineWorld('distill-builder-cache-');

  test('a code change reruns only the build script; a build that writes node_modules gets the prune; a damaged kept install is a miss', async (t) => {
    if (!ready(t)) return;
    const w = await fx.world();
    const app = await makeApp(fx.dir);
    const store = new Store(join(fx.dir, 'store'));
    const sources = w.sources(store);
    let n = 0;
    const build = async (request: Partial<AppRequest> = {}, env: Record<string, string> = {}) => {
      const layout = join(fx.dir, `out-${++n}`);
      const plan = await planApp(
        {
          dir: app,
          node: '24',
          platforms: ['linux/amd64'],
          suites: [w.repo.suite],
          outputs: [`oci:${layout}:x`],
          ...request,
        },
        sources,
      );
      const steps: string[] = [];
      await buildApp(JSON.parse(JSON.stringify(plan)), {
        store,
        sources,
        env: { ...w.env(join(fx.dir, 'scratch')), ...env },
        step: (m) => steps.push(m),
      });
      const img = await openArtifact(parseImageRef(`oci:${layout}:x`));
      assert.equal(img.kind, 'image');
      const image = img as Image;
      return { plan, steps, image, layers: image.layers.map((l) => l.descriptor.digest) };
    };
    const installs = (steps: string[]) => steps.filter((s) => /^install: npm \S+ ci/.test(s));
    const ran = (steps: string[], what: string) => steps.some((s) => s.startsWith(`${what}: npm `));

    const first = await build();
    assert.equal(first.plan.buildScript, 'build');
    assert.deepEqual(first.plan.build, {
      from: 'scripts.build in package.json',
      notes: ['dist/index.js is not in the source tree: the command expects it from "build" (devtool)'],
    });
    assert.deepEqual(first.plan.install.inputs, [
      'package.json',
      'package-lock.json',
      'hello-dep-1.0.0.tgz',
      'dev-tool-1.0.0.tgz',
    ]);
    assert.equal(installs(first.steps).length, 1, first.steps.join('\n'));
    assert.ok(ran(first.steps, 'build') && ran(first.steps, 'prune'), first.steps.join('\n'));
    assert.ok(first.steps.includes('install: kept for the next build'), first.steps.join('\n'));
    // The image's layers are the plan's, in order (the base's packages come first: tini by default).
    const NM = first.plan.layers.findIndex((l) => l.name === 'node_modules');
    const APP = first.plan.layers.findIndex((l) => l.name === 'app');
    assert.ok(NM >= 0 && APP === NM + 1, first.plan.layers.map((l) => l.name).join(' '));
    const nm = await layerPaths(first.image, NM);
    assert.ok(nm.includes('node_modules/hello-dep/index.js'), nm.join('\n'));
    assert.ok(!nm.some((p) => p.includes('dev-tool')), 'the devDependency is pruned');
    assert.equal(readdirSync(join(store.root, 'trees')).length, 1, 'one kept install');

    // One line of the code: no install, no prune, the same node_modules layer, a new app layer.
    await writeFile(join(app, 'src', 'msg.txt'), 'two\n');
    const second = await build();
    assert.deepEqual(installs(second.steps), [], second.steps.join('\n'));
    assert.ok(
      second.steps.some((s) =>
        s.startsWith('install: cached (what the install reads is unchanged): no install ran'),
      ),
    );
    assert.ok(ran(second.steps, 'build') && !ran(second.steps, 'prune'), second.steps.join('\n'));
    // npm ran the first build's script; this one is replayed as npm ran it (script-replay.ts).
    const replayed = (steps: string[]) => steps.some((s) => /^build: npm .*npm not started\)$/.test(s));
    assert.ok(!replayed(first.steps) && replayed(second.steps), second.steps.join('\n'));
    assert.ok(
      second.steps.includes('node_modules: cached (the build left node_modules as the install made it)'),
    );
    assert.equal(second.layers[NM], first.layers[NM], 'the node_modules layer is the same blob');
    assert.notEqual(second.layers[APP], first.layers[APP]);
    assert.ok((await layerPaths(second.image, APP)).includes('dist/index.js'));

    // Nothing changed: the builder step's result is remembered (built.ts), as docker's layer
    // cache answers a rebuild: no install copied back, no build script, the same layers.
    const cachedBuild = (steps: string[]) => steps.some((s) => s.startsWith('build: cached ('));
    assert.ok(!cachedBuild(first.steps) && !cachedBuild(second.steps));
    const again = await build();
    assert.ok(cachedBuild(again.steps), again.steps.join('\n'));
    assert.ok(!again.steps.some((s) => s.startsWith('install: ')), again.steps.join('\n'));
    assert.ok(!ran(again.steps, 'build') && !ran(again.steps, 'prune'), again.steps.join('\n'));
    assert.deepEqual(again.layers, second.layers, 'the same image layers as the run it remembers');
    // What the script could read changed: an app file that is no input of the install, or the
    // environment it runs with. Each runs the script again, on the kept install.
    await writeFile(join(app, 'src', 'notes.txt'), 'not read by the build\n');
    const otherFile = await build();
    assert.ok(!cachedBuild(otherFile.steps) && ran(otherFile.steps, 'build'), otherFile.steps.join('\n'));
    assert.deepEqual(installs(otherFile.steps), []);
    await unlink(join(app, 'src', 'notes.txt'));
    const otherEnv = await build({}, { DISTILL_TEST_BUILD_VAR: '1' });
    assert.ok(!cachedBuild(otherEnv.steps) && ran(otherEnv.steps, 'build'), otherEnv.steps.join('\n'));
    assert.deepEqual(installs(otherEnv.steps), []);
    assert.deepEqual(
      otherEnv.layers,
      second.layers,
      'the same script on the same files made the same layers',
    );

    // A build that writes into node_modules: the prune runs on the built tree, which ships the
    // generated file; neither the kept install nor the recorded layer takes it.
    await writeFile(join(app, 'src', 'generate'), '');
    const third = await build();
    assert.deepEqual(installs(third.steps), []);
    assert.ok(
      third.steps.some((s) => s.startsWith('the build changed node_modules (node_modules/.generated')),
      third.steps.join('\n'),
    );
    assert.ok(ran(third.steps, 'prune'));
    assert.ok((await layerPaths(third.image, NM)).includes('node_modules/.generated/client.js'));
    await unlink(join(app, 'src', 'generate'));
    // (A code change too: else the second build's remembered result would answer.)
    await writeFile(join(app, 'src', 'msg.txt'), 'four\n');
    const fourth = await build();
    assert.deepEqual(installs(fourth.steps), []);
    assert.equal(fourth.layers[NM], first.layers[NM], 'the kept install did not take the generated file');

    // The kept install loses a file: a miss, the install runs again and is kept again (with a
    // code change: the fourth build's result is remembered and would answer first).
    const tree = join(store.root, 'trees', readdirSync(join(store.root, 'trees'))[0]!);
    await rm(join(tree, 'node_modules', 'hello-dep', 'index.js'));
    await writeFile(join(app, 'src', 'msg.txt'), 'three\n');
    const fifth = await build();
    assert.equal(installs(fifth.steps).length, 1, fifth.steps.join('\n'));
    assert.equal(fifth.layers[NM], first.layers[NM]);
    assert.ok(existsSync(join(tree, 'node_modules', 'hello-dep', 'index.js')), 'kept again, whole');

    // A change of what the install reads (package.json) misses.
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
    pkg.description = 'changed';
    await writeFile(join(app, 'package.json'), JSON.stringify(pkg));
    const sixth = await build();
    assert.equal(installs(sixth.steps).length, 1, sixth.steps.join('\n'));
    // One kept install per app: the new one replaced the old.
    const trees = readdirSync(join(store.root, 'trees'));
    assert.equal(trees.length, 1);
    assert.notEqual(join(store.root, 'trees', trees[0]!), tree);
  });

  test('--no-build skips the build script; a command whose file the source lacks is refused before installing', async (t) => {
    if (!ready(t)) return;
    const w = await fx.world();
    const app = existsSync(join(fx.dir, 'app')) ? join(fx.dir, 'app') : await makeApp(fx.dir);
    const sources = w.sources(new Store(join(fx.dir, 'store-nobuild')));
    const request: AppRequest = { dir: app, node: '24', platforms: ['linux/amd64'], suites: [w.repo.suite] };
    // The entry check refuses it before anything installs (src/plan/entry.ts).
    await assert.rejects(planApp({ ...request, noBuild: true }, sources), (e) =>
      isDistillError(e, 'APP_ENTRY_MISSING'),
    );
    await mkdir(join(app, 'dist'), { recursive: true });
    await writeFile(join(app, 'dist', 'index.js'), 'console.log("prebuilt");\n');
    const plan = await planApp({ ...request, noBuild: true }, sources);
    assert.equal(plan.buildScript, undefined);
    assert.deepEqual(plan.build, { from: '--no-build', notes: [] });
    const empty = await planApp({ ...request, buildScript: '' }, sources);
    assert.equal(empty.buildScript, undefined);
    assert.equal(empty.build?.from, "--build-script ''");
    await assert.rejects(planApp({ ...request, noBuild: true, buildScript: 'build' }, sources), (e) =>
      isDistillError(e, 'USAGE'),
    );
    // With dist/ in the source tree and a build script that does not name it: a hint.
    const hinted = await planApp(request, sources);
    assert.match(
      hinted.build?.notes[0] ?? '',
      /the command runs dist\/index\.js, which is already in the source tree, and "build" \(devtool\) does not name it: .*--no-build/,
    );
    await rm(join(app, 'dist'), { recursive: true });
  });
});
