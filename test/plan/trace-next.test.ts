import assert from 'node:assert/strict';
import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { planPrune } from '../../src/plan/prune.js';
import { nextBin, nextListed, traceNext } from '../../src/plan/trace-next.js';
import { tempDir } from '../helpers/components.js';
import { writeTree } from '../helpers/tree.js';

/**
 * `--trace` on a Next.js app run by `next start` (src/plan/trace-next.ts), on a tree made here in
 * the shape `next build` leaves, traced by the real @vercel/nft: Next's .nft.json lists (paths
 * relative to each list), a bin that requires one command as it starts and imports the others in
 * their actions, a start path that reaches a file no list names (as `compiled/ci-info` is in Next
 * 16), the webpack hook's `require.resolve` targets, a development runtime, SWC's native package.
 */
const NEXT = 'node_modules/next';
const js = 'module.exports = 1;\n';
const list = (files: string[]) => JSON.stringify({ version: 1, files });

const BUILT: Record<string, string> = {
  'package.json': '{"name":"app","scripts":{"build":"next build","start":"next start"}}',
  'next.config.mjs': "import plugin from 'my-plugin';\nexport default plugin({});\n",
  '.next/BUILD_ID': 'x',
  '.next/next-server.js.nft.json': list([
    '../node_modules/next/package.json',
    '../node_modules/next/dist/server/next-server.js',
    '../node_modules/react/index.js',
    '../../outside/ignored.js',
  ]),
  '.next/next-minimal-server.js.nft.json': list(['../node_modules/next/dist/server/minimal.js']),
  '.next/server/app/page.js.nft.json': list([
    '../../../node_modules/react-dom/server.js',
    '../chunks/ssr.js',
  ]),
  '.next/server/app/api/hello/route.js.nft.json': list([
    '../../../../../node_modules/next/dist/server/route.js',
  ]),
  '.next/server/chunks/ssr.js': js,
  [`${NEXT}/package.json`]: JSON.stringify({
    name: 'next',
    bin: { next: './dist/bin/next' },
    optionalDependencies: { '@next/swc-linux-x64-gnu': '1.0.0' },
  }),
  [`${NEXT}/license.md`]: 'MIT',
  [`${NEXT}/dist/bin/next`]: [
    '#!/usr/bin/env node',
    'const _nexttest = require("../cli/next-test.js");',
    "program.command('build').action(() => {",
    "  return import('../cli/next-build.js');",
    '});',
    "program.command('start').action(() => import('../cli/next-start.js'));",
    '',
  ].join('\n'),
  [`${NEXT}/dist/cli/next-test.js`]: "require('../lib/test-helper.js');\n",
  [`${NEXT}/dist/cli/next-start.js`]: [
    "require('../server/config.js');",
    "if (process.env.NODE_ENV === 'development') require('../compiled/next-server/app-page.runtime.dev.js');",
    "else require('../compiled/next-server/app-page.runtime.prod.js');",
    '',
  ].join('\n'),
  [`${NEXT}/dist/cli/next-build.js`]: "require('../compiled/webpack/bundle5.js');\n",
  [`${NEXT}/dist/lib/test-helper.js`]: js,
  [`${NEXT}/dist/server/config.js`]: "require('./ci-info.js'); require('./config-utils.js');\n",
  [`${NEXT}/dist/server/ci-info.js`]: "module.exports = require('next/dist/compiled/ci-info');\n",
  [`${NEXT}/dist/server/config-utils.js`]: [
    "const aliases = [['webpack', 'next/dist/compiled/webpack/webpack-lib'], ['webpack/package', 'next/dist/compiled/webpack/package']];",
    'module.exports = () => aliases.map(([r, to]) => [r, require.resolve(to)]);',
    '',
  ].join('\n'),
  [`${NEXT}/dist/server/next-server.js`]: js,
  [`${NEXT}/dist/server/minimal.js`]: js,
  [`${NEXT}/dist/server/route.js`]: js,
  [`${NEXT}/dist/server/unused.js`]: js,
  [`${NEXT}/dist/compiled/ci-info/index.js`]: js,
  [`${NEXT}/dist/compiled/webpack/webpack-lib.js`]: "module.exports = require('./bundle5.js');\n",
  [`${NEXT}/dist/compiled/webpack/package.json`]: '{"name":"webpack"}',
  [`${NEXT}/dist/compiled/webpack/bundle5.js`]: js,
  [`${NEXT}/dist/compiled/next-server/app-page.runtime.dev.js`]: js,
  [`${NEXT}/dist/compiled/next-server/app-page.runtime.prod.js`]: js,
  'node_modules/@next/swc-linux-x64-gnu/package.json':
    '{"name":"@next/swc-linux-x64-gnu","main":"next-swc.node"}',
  'node_modules/@next/swc-linux-x64-gnu/next-swc.node': 'ELF',
  'node_modules/my-plugin/package.json': '{"name":"my-plugin","main":"index.js"}',
  'node_modules/my-plugin/index.js': 'module.exports = (c) => c;\n',
  'node_modules/react/package.json': '{"name":"react"}',
  'node_modules/react/index.js': js,
  'node_modules/react/unused.js': js,
  'node_modules/react-dom/package.json': '{"name":"react-dom"}',
  'node_modules/react-dom/server.js': js,
  'node_modules/typescript/package.json': '{"name":"typescript"}',
  'node_modules/typescript/lib/typescript.js': js,
};

const BIN = `${NEXT}/dist/bin/next`;

describe("--trace on next start: Next's lists, next start's command line, what Next loads by name", () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-trace-next-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function tree(name: string, more: Record<string, string> = {}): Promise<string> {
    const app = join(dir, name);
    await writeTree(app, { ...BUILT, ...more });
    return app;
  }

  test("Next's lists, each path relative to its list; what is outside the tree is left out", async () => {
    const app = await tree('lists');
    const { keep, lists } = nextListed({ root: app, app: '' });
    assert.deepEqual(lists, [
      '.next/next-server.js.nft.json',
      '.next/next-minimal-server.js.nft.json',
      '.next/server/app/api/hello/route.js.nft.json',
      '.next/server/app/page.js.nft.json',
    ]);
    assert.deepEqual([...keep].sort(), [
      '.next/server/chunks/ssr.js',
      `${NEXT}/dist/server/minimal.js`,
      `${NEXT}/dist/server/next-server.js`,
      `${NEXT}/dist/server/route.js`,
      `${NEXT}/package.json`,
      'node_modules/react-dom/server.js',
      'node_modules/react/index.js',
    ]);
    assert.equal(nextBin(app, ''), BIN);
  });

  test('what stays and what goes, with a JavaScript config', async () => {
    const app = await tree('mjs');
    const r = await traceNext({ root: app, app: '' }, ['node_modules'], BIN, [
      'node_modules/react/unused.js',
    ]);
    assert.equal(r.lists.length, 4);
    assert.deepEqual([...r.drop].sort(), [
      'node_modules/@next',
      `${NEXT}/dist/cli/next-build.js`,
      `${NEXT}/dist/compiled/next-server/app-page.runtime.dev.js`,
      `${NEXT}/dist/compiled/webpack/bundle5.js`,
      `${NEXT}/dist/server/unused.js`,
      'node_modules/typescript',
    ]);
    // Kept without a list naming them: next-test.js (the bin requires it as it starts), ci-info
    // (next start's path), the webpack hook's targets (resolved by name), my-plugin (the config's).
    assert.deepEqual(r.droppedPackages, ['node_modules/typescript']);
    assert.equal(r.files, 8, 'files in what is dropped');
    // next: 16 files (bin, next-test, next-start, the listed, ci-info, the hook's 2 targets, ...), my-plugin 2, react 3, react-dom 2.
    assert.equal(r.keptFiles, 23);
  });

  test('a TypeScript config keeps the SWC native package next start compiles it with', async () => {
    const app = await tree('ts', { 'next.config.ts': 'const c: object = {};\nexport default c;\n' });
    await unlink(join(app, 'next.config.mjs'));
    const r = await traceNext({ root: app, app: '' }, ['node_modules'], BIN, []);
    assert.ok(![...r.drop].some((p) => p.includes('@next/swc')), [...r.drop].join(' '));
    assert.ok(r.drop.has('node_modules/my-plugin'), 'the .ts config imports nothing');
  });

  test('errors: a listed file missing, no list, a list that is not one, a --trace-entry missing', async () => {
    const gone = await tree('gone');
    await unlink(join(gone, 'node_modules/react-dom/server.js'));
    await assert.rejects(traceNext({ root: gone, app: '' }, ['node_modules'], BIN, []), (e) => {
      assert.ok(isDistillError(e) && e.code === 'APP_IMPORT_MISSING', String(e));
      assert.match(
        e.message,
        /^node_modules\/react-dom\/server\.js, which Next lists in \.next\/server\/app\/page\.js\.nft\.json/,
      );
      return true;
    });
    const none = join(dir, 'none');
    await writeTree(none, { 'package.json': '{}' });
    assert.throws(
      () => nextListed({ root: none, app: '' }),
      (e) =>
        isDistillError(e) &&
        e.code === 'APP_BUILD_FAILED' &&
        /\.next\/next-server\.js\.nft\.json is not there/.test(e.message),
    );
    const bad = await tree('bad', { '.next/server/app/page.js.nft.json': '{"files": "no"}' });
    assert.throws(
      () => nextListed({ root: bad, app: '' }),
      (e) =>
        isDistillError(e) &&
        e.code === 'APP_BUILD_FAILED' &&
        /page\.js\.nft\.json, which next build wrote, has no "files"/.test(e.message),
    );
    await assert.rejects(
      traceNext({ root: bad, app: '' }, ['node_modules'], BIN, [], ['worker.js']),
      (e) =>
        isDistillError(e) && e.code === 'APP_ENTRY_MISSING' && /--trace-entry worker\.js/.test(e.message),
    );
  });

  test('a workspace package: its lists and config under its directory, the hoisted node_modules', async () => {
    const root = join(dir, 'ws');
    const files: Record<string, string> = { 'package.json': '{"workspaces":["apps/*"]}' };
    for (const [p, v] of Object.entries(BUILT)) {
      const moved = p.startsWith('node_modules/') ? p : `apps/web/${p}`;
      files[moved] = p.startsWith('.next/') ? v.replace(/"((?:\.\.\/)+)(?!chunks)/g, '"../../$1') : v;
    }
    await writeTree(root, files);
    const r = await traceNext({ root, app: 'apps/web' }, ['node_modules'], nextBin(root, 'apps/web')!, []);
    assert.ok(!r.drop.has('node_modules/react-dom'), 'listed by the page');
    assert.ok(!r.drop.has('node_modules/my-plugin'), "the config's");
    assert.ok(r.drop.has('node_modules/typescript'));
  });

  test('the plan: next start counts what leaves once built, says why not before; standalone is refused', async () => {
    const cmd = { bin: 'next', entry: { file: 'the bin "next" of next' } };
    const built = await tree('plan');
    const p = await planPrune({ trace: {} }, built, cmd, { name: 'next', image: 'app' });
    assert.deepEqual(p.trace?.next, { app: '' });
    assert.equal(p.trace?.counted?.files, 9, 'react/unused.js too: no --trace-include');
    assert.deepEqual(p.trace?.counted?.droppedPackages, ['node_modules/typescript']);
    assert.equal(p.trace?.counted?.lists?.length, 4);
    const fresh = join(dir, 'fresh');
    await writeTree(fresh, { 'package.json': '{}' });
    const q = await planPrune({ trace: {} }, fresh, cmd, { name: 'next', image: 'app' });
    assert.equal(q.trace?.counted, undefined);
    assert.match(
      q.trace?.note ?? '',
      /next build has not run in the app directory: the build counts what leaves/,
    );
    await assert.rejects(
      planPrune({ trace: {} }, fresh, { entry: { file: 'server.js' } }, { name: 'next', image: 'output' }),
      (e) => isDistillError(e) && e.code === 'USAGE' && /output: 'standalone'/.test(e.message),
    );
  });
});
