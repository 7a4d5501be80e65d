import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportsTarget } from '../../src/build/app/resolve.js';
import { checkLayers, staticImports } from '../../src/build/app/smoke.js';
import { isDistillError } from '../../src/errors.js';
import { buildLayer } from '../../src/layers/build.js';
import { entriesFromDirectory } from '../../src/layers/directory.js';
import type { Layer } from '../../src/oci/image.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';

/**
 * The smoke check after layering (src/build/app/smoke.ts): layers built from small trees, read
 * back from the store as the build does, the command's modules resolved in them. Each case is a
 * mistake that would otherwise be found when the container starts.
 */
let dir = '';
let store: Store;
let n = 0;

before(async () => {
  dir = await tempDir('distill-smoke-');
  store = await Store.open(join(dir, 'store'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A layer of `files` under /app (a value starting with `->` is a symlink). */
async function layer(files: Record<string, string>): Promise<Layer> {
  const root = join(dir, `tree-${n++}`);
  await mkdir(root, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    const p = join(root, rel);
    await mkdir(dirname(p), { recursive: true });
    if (text.startsWith('->')) await symlink(text.slice(2), p);
    else await writeFile(p, text);
  }
  return buildLayer(await entriesFromDirectory(root, { prefix: '/app' }), { store, sourceDateEpoch: 0 });
}

const pkg = (fields: Record<string, unknown>) => JSON.stringify(fields);

/** node_modules with express (main), a package with exports, and a pnpm-style symlinked one. */
async function nodeModules(): Promise<Layer> {
  return layer({
    'node_modules/express/package.json': pkg({ name: 'express', main: 'lib/express' }),
    'node_modules/express/lib/express.js': 'module.exports = {}',
    'node_modules/dual/package.json': pkg({
      name: 'dual',
      exports: { '.': { import: './esm/index.mjs', require: './cjs/index.js' }, './feature/*': './lib/*.js' },
    }),
    'node_modules/dual/esm/index.mjs': 'export default 1',
    'node_modules/dual/cjs/index.js': 'module.exports = 1',
    'node_modules/dual/lib/a.js': '',
    'node_modules/.pnpm/linked@1.0.0/node_modules/linked/package.json': pkg({ name: 'linked' }),
    'node_modules/.pnpm/linked@1.0.0/node_modules/linked/index.js': '',
    'node_modules/linked': '->.pnpm/linked@1.0.0/node_modules/linked',
  });
}

const plan = (args: string[], from = 'scripts.start in package.json') => ({
  cmd: { args, from },
  workdir: '/app',
});

describe('smoke check: the modules the command loads, resolved in the layers just built', () => {
  test('a server whose imports all resolve: relative files followed, packages found, dynamic ones not followed', async () => {
    const app = await layer({
      'package.json': pkg({ name: 'srv', type: 'commonjs' }),
      'server.js': [
        "const express = require('express');",
        "const routes = require('./lib/routes');",
        "const dual = require('dual');",
        "require('linked');",
        "const path = require('node:path'); require('fs');",
        "try { require('optional-thing'); } catch {}",
        'const name = "x"; require(name);',
        "import('./lazy/not-there.js').catch(() => {});",
      ].join('\n'),
      'lib/routes/index.js': "module.exports = require('./users.json');",
      'lib/routes/users.json': '[]',
    });
    const r = await checkLayers(store, { nodeModules: await nodeModules(), app }, plan(['server.js']));
    assert.equal(r.parsed, 2, 'server.js and lib/routes/index.js');
    assert.equal(r.notFollowed, 3, 'the require in try, require(name), import()');
  });

  test('a missing relative import names the file that imports it', async () => {
    const app = await layer({
      'dist/main.js': "require('./app.module');\nrequire('./config/missing');",
      'dist/app.module.js': "exports.x = require('express');",
    });
    await assert.rejects(
      checkLayers(store, { nodeModules: await nodeModules(), app }, plan(['dist/main'])),
      (e) => {
        assert.ok(isDistillError(e, 'APP_IMPORT_MISSING'), String(e));
        assert.match(
          e.message,
          /1 module that the command \(scripts\.start in package\.json\) loads is not in it/,
        );
        assert.match(
          e.message,
          /\/app\/dist\/main\.js: require\('\.\/config\/missing'\): \/app\/dist\/config\/missing is not in the image/,
        );
        return true;
      },
    );
  });

  test('a package that is not in the production node_modules', async () => {
    const app = await layer({
      'index.mjs':
        "import express from 'express';\nimport pad from 'left-pad';\nexport { x } from '@scope/gone/sub';",
    });
    await assert.rejects(
      checkLayers(store, { nodeModules: await nodeModules(), app }, plan(['index.mjs'])),
      (e) =>
        isDistillError(e, 'APP_IMPORT_MISSING') &&
        /import 'left-pad': package left-pad is not in the image's node_modules/.test(e.message) &&
        /import '@scope\/gone\/sub': package @scope\/gone is not in the image's node_modules/.test(
          e.message,
        ) &&
        /must be in "dependencies"/.test(e.message),
    );
  });

  test('ES modules: exports by condition, and no extension added to a relative import', async () => {
    const ok = await layer({
      'main.mjs': "import d from 'dual';\nimport a from 'dual/feature/a';\nimport './util.js';",
      'util.js': "const c = require('dual');",
    });
    const r = await checkLayers(store, { nodeModules: await nodeModules(), app: ok }, plan(['main.mjs']));
    assert.equal(r.parsed, 2);
    const bad = await layer({ 'main.mjs': "import './util';\nimport 'dual/nope';", 'util.js': '' });
    await assert.rejects(
      checkLayers(store, { nodeModules: await nodeModules(), app: bad }, plan(['main.mjs'])),
      (e) =>
        isDistillError(e, 'APP_IMPORT_MISSING') &&
        /import '\.\/util': \/app\/util is not in the image \(import needs the full file name/.test(
          e.message,
        ) &&
        /dual's package.json "exports" has nothing for "\.\/nope"/.test(e.message),
    );
    assert.equal(
      exportsTarget({ '.': { node: { import: './a.mjs' }, default: './b.js' } }, '.', ['import', 'node']),
      './a.mjs',
    );
    assert.equal(exportsTarget('./only.js', '.', ['require']), './only.js');
    assert.equal(exportsTarget({ './x': null }, './x', ['require']), null);
  });

  test('the entry file itself missing, and a bin whose script argument is missing', async () => {
    const app = await layer({ 'src/main.ts': 'x', 'server.js': '' });
    await assert.rejects(
      checkLayers(store, { nodeModules: await nodeModules(), app }, plan(['dist/main'], 'nest')),
      (e) =>
        isDistillError(e, 'APP_ENTRY_MISSING') &&
        /the command \(nest\) runs dist\/main, but the image has no \/app\/dist\/main/.test(e.message) &&
        /the image has server\.js/.test(e.message),
    );
    const nm = await layer({
      'node_modules/@react-router/serve/package.json': pkg({ name: '@react-router/serve' }),
      'node_modules/@react-router/serve/bin.js': '',
    });
    await assert.rejects(
      checkLayers(
        store,
        { nodeModules: nm, app, binPath: 'node_modules/@react-router/serve/bin.js' },
        {
          cmd: { args: ['./build/server/index.js'], from: 'react-router', bin: 'react-router-serve' },
          workdir: '/app',
        },
      ),
      (e) => isDistillError(e, 'APP_ENTRY_MISSING') && /runs \.\/build\/server\/index\.js/.test(e.message),
    );
  });

  test("the node_modules layer's index is remembered by its digest", async () => {
    const nm = await nodeModules();
    const app = await layer({ 'a.js': "require('express')" });
    await checkLayers(store, { nodeModules: nm, app }, plan(['a.js']));
    const rec = await store.record('node-modules-index').get({ layer: nm.descriptor.digest });
    assert.ok(rec?.nodes.some(([p]) => p === 'app/node_modules/express/lib/express.js'));
    // A layer whose blob is gone still checks from the record: it is not read again.
    const gone: Layer = { ...nm, open: () => Promise.reject(new Error('read again')) };
    await checkLayers(store, { nodeModules: gone, app }, plan(['a.js']));
  });

  test('staticImports: what a parser finds and a regex would not', () => {
    const r = staticImports(
      [
        '#!/usr/bin/env node',
        "// require('in-a-comment')",
        'const s = "require(\'in-a-string\')";',
        "export * from './re-export.js';",
        "const { a } = require('a');",
        'return;',
      ].join('\n'),
    );
    assert.deepEqual(
      r.imports.map((i) => `${i.kind} ${i.spec}`),
      ['import ./re-export.js', 'require a'],
    );
    assert.throws(() => staticImports('this is not javascript {'));
  });
});
