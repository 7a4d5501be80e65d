import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isBuildCache } from '../../src/build/app/devtree.js';
import { gypIntermediates, nodeModulesDirs, pmState } from '../../src/build/app/nodemodules.js';
import { tempDir } from '../helpers/components.js';
import { writeTree } from '../helpers/tree.js';

/** What of an install's node_modules stays out of the layer: node-gyp's leftovers, package managers' state. */

describe('node_modules: what does not ship', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-nodemodules-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("node-gyp's intermediates go; of the addons, those the package's JavaScript names stay", async () => {
    const app = join(dir, 'app');
    await writeTree(app, {
      // better-sqlite3's shape: lib/database.js loads better_sqlite3.node; test_extension.node is a test's.
      'node_modules/better-sqlite3/binding.gyp': '{}',
      'node_modules/better-sqlite3/lib/database.js': "require('bindings')('better_sqlite3.node');",
      'node_modules/better-sqlite3/build/Makefile': 'all:',
      'node_modules/better-sqlite3/build/config.gypi': '{"nodedir": "/tmp/x"}',
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node': 'ELF',
      'node_modules/better-sqlite3/build/Release/test_extension.node': 'ELF',
      'node_modules/better-sqlite3/build/Release/obj.target/better_sqlite3.node': 'ELF',
      'node_modules/better-sqlite3/build/Release/obj.target/better_sqlite3/src/x.o': 'o',
      'node_modules/better-sqlite3/build/Release/.deps/x.d': 'd',
      // node-gyp-build finds its file by listing build/Release: no name in the JavaScript, all stay.
      'node_modules/scanner/binding.gyp': '{}',
      'node_modules/scanner/index.js': "module.exports = require('node-gyp-build')(__dirname);",
      'node_modules/scanner/build/Release/scanner.node': 'ELF',
      'node_modules/scanner/build/Release/other.node': 'ELF',
      'node_modules/scanner/build/Release/obj.target/scanner.node': 'ELF',
    });
    const drop = gypIntermediates(app, nodeModulesDirs(app));
    const nm = (p: string) => `node_modules/${p}`;
    for (const p of [
      'better-sqlite3/build/Makefile',
      'better-sqlite3/build/config.gypi',
      'better-sqlite3/build/Release/test_extension.node',
      'better-sqlite3/build/Release/obj.target',
      'better-sqlite3/build/Release/.deps',
      'scanner/build/Release/obj.target',
    ]) {
      assert.ok(drop.has(nm(p)), `${p} goes`);
    }
    for (const p of [
      'better-sqlite3/build/Release/better_sqlite3.node',
      'scanner/build/Release/scanner.node',
      'scanner/build/Release/other.node',
    ]) {
      assert.ok(!drop.has(nm(p)), `${p} stays`);
    }
  });

  test("package managers' state and build tools' caches, directly under a node_modules", () => {
    for (const p of [
      'node_modules/.modules.yaml',
      'node_modules/.pnpm-workspace-state-v1.json',
      'apps/api/node_modules/.pnpm-task-run-state-v1',
    ]) {
      assert.ok(pmState(p), p);
    }
    for (const p of ['.modules.yaml', 'node_modules/x/.modules.yaml', 'node_modules/.package-lock.json']) {
      assert.ok(!pmState(p), p);
    }
    assert.ok(isBuildCache('node_modules/.cache'));
    assert.ok(isBuildCache('packages/a/node_modules/.vite'));
    assert.ok(!isBuildCache('node_modules/.cache/babel'));
    assert.ok(!isBuildCache('.cache'));
  });
});
