import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readLayer } from '../../src/layers/read.js';
import { openArtifact } from '../../src/media/index.js';
import { PRUNE_RULES_VERSION } from '../../src/plan/prune-rules.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { buildOffline, HELLO_OFFLINE, offlineReady, useOfflineWorld } from '../helpers/app-fixture.js';
import { writeTree } from '../helpers/tree.js';

/**
 * The safe prune in a real build (planApp and buildApp offline, test/helpers/app-fixture.ts): the
 * node_modules layer of an app whose dependency ships docs, tests, declarations and source maps
 * leaves them out by default, keeps what the package's main, bin and exports name and its
 * licence, never touches the app's own files, and keeps everything with --no-prune.
 */
const DEP: Record<string, string> = {
  'package.json': JSON.stringify({
    name: 'hello-dep',
    version: '1.0.0',
    license: 'MIT',
    main: 'index.js',
    bin: { hello: './docs/cli.js' },
    exports: { '.': './index.js', './extra': './examples/extra.js' },
  }),
  'index.js': "module.exports = () => ({ hello: 'world' });\n",
  'index.d.ts': 'export default function hello(): { hello: string };\n',
  'index.js.map': '{"version":3}',
  'index.ts': 'export default () => ({ hello: "world" });\n',
  'README.md': '# hello-dep\n',
  'CHANGELOG.md': '1.0.0\n',
  'LICENSE.md': 'MIT\n',
  'test/index.test.js': 'require("assert")\n',
  'docs/cli.js': '#!/usr/bin/env node\n',
  'docs/guide.md': 'how\n',
  'examples/extra.js': 'module.exports = 1;\n',
  'examples/other.js': 'module.exports = 2;\n',
  '.github/FUNDING.yml': 'github: x\n',
};

/** hello-offline with its dependency tarball made from DEP, and the lockfile's integrity to match. */
async function pruneApp(dir: string): Promise<string> {
  const app = join(dir, 'app');
  await cp(HELLO_OFFLINE, app, { recursive: true });
  await writeFile(join(app, 'README.md'), 'the app itself: kept\n');
  await writeFile(join(app, 'types.d.ts'), 'export {};\n');
  await writeTree(join(dir, 'pack', 'package'), DEP);
  const tgz = join(app, 'hello-dep-1.0.0.tgz');
  execFileSync('tar', ['czf', tgz, '--sort=name', '-C', join(dir, 'pack'), 'package']);
  const integrity = `sha512-${createHash('sha512')
    .update(await readFile(tgz))
    .digest('base64')}`;
  const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8'));
  lock.packages['node_modules/hello-dep'].integrity = integrity;
  lock.packages['node_modules/hello-dep'].license = 'MIT';
  lock.packages['node_modules/hello-dep'].bin = { hello: 'docs/cli.js' };
  await writeFile(join(app, 'package-lock.json'), JSON.stringify(lock, null, 2));
  return app;
}

/** The file paths of the image's layers, by the plan's layer names. */
async function layerFiles(layout: string, names: string[]): Promise<Record<string, string[]>> {
  const img = await openArtifact(parseImageRef(`oci:${layout}:latest`));
  assert.equal(img.kind, 'image');
  if (img.kind !== 'image') return {};
  const out: Record<string, string[]> = {};
  for (const [i, layer] of img.layers.entries()) {
    const files: string[] = [];
    for await (const { header } of readLayer(await layer.open())) {
      if (header.type === 'file') files.push(header.name.replace(/^\.?\//, ''));
    }
    out[names[i] ?? `layer ${i}`] = files.sort();
  }
  return out;
}

describe('the safe prune in a build', () => {
  const fx = useOfflineWorld('distill-build-prune-');

  test('by default the node_modules layer leaves out what the rules match, but entry points and licences; --no-prune keeps all', async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const app = await pruneApp(fx.dir);

    const pruned = await buildOffline(world, app, join(fx.dir, 'pruned'));
    assert.equal(pruned.plan.prune?.on, true);
    assert.equal(pruned.plan.prune?.rulesVersion, PRUNE_RULES_VERSION);
    const nmPlan = pruned.plan.layers.find((l) => l.name === 'node_modules');
    assert.ok(nmPlan?.key.includes(`the prune rules, version ${PRUNE_RULES_VERSION}`), 'part of the key');
    const names = pruned.plan.layers.map((l) => l.name);
    const a = await layerFiles(pruned.layout, names);
    const dep = (a.node_modules ?? [])
      .filter((f) => f.startsWith('app/node_modules/hello-dep/'))
      .map((f) => f.slice('app/node_modules/hello-dep/'.length));
    assert.deepEqual(dep, [
      'LICENSE.md',
      'docs/cli.js',
      'examples/extra.js',
      'examples/other.js',
      'index.js',
      'package.json',
    ]);
    assert.ok(
      a.app?.includes('app/README.md') && a.app.includes('app/types.d.ts'),
      "the app's own files stay",
    );

    const whole = await buildOffline(world, app, join(fx.dir, 'whole'), { prune: false });
    assert.equal(whole.plan.prune?.on, false);
    const b = await layerFiles(whole.layout, names);
    const all = (b.node_modules ?? []).filter((f) => f.startsWith('app/node_modules/hello-dep/'));
    assert.equal(all.length, Object.keys(DEP).length, 'every file of the package');
    assert.notEqual(pruned.digest, whole.digest);
    assert.deepEqual(a.app, b.app, 'the app layer is the same either way');
  });
});
