import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { planPrune } from '../../src/plan/prune.js';
import { packageRoot, traceEntries, traceTree } from '../../src/plan/trace.js';
import { tempDir } from '../helpers/components.js';
import { writeTree } from '../helpers/tree.js';

/**
 * `--trace` on a tree made here, traced by the real @vercel/nft: what stays (reached files, their
 * packages' package.json and licences, a native addon's libraries, every branch of a package's
 * exports Node may take, --trace-include), what goes, and the app read from its own directory
 * when the install's copy does not hold it.
 */
const INSTALLED: Record<string, string> = {
  'package.json': '{"name":"app"}',
  'node_modules/a/package.json': '{"name":"a","main":"index.js"}',
  'node_modules/a/index.js': "require('b'); require('native'); module.exports = require('./data.json');\n",
  'node_modules/a/data.json': '{}',
  'node_modules/a/LICENSE': 'MIT',
  'node_modules/a/unused.js': 'module.exports = 1;\n',
  'node_modules/b/package.json': JSON.stringify({
    name: 'b',
    exports: {
      '.': [{ 'module-sync': './sync.mjs', browser: './browser.js', default: './index.js' }, './index.js'],
      './': './',
    },
  }),
  'node_modules/b/index.js': 'module.exports = 2;\n',
  'node_modules/b/sync.mjs': "import './sync-helper.mjs';\nexport default 2;\n",
  'node_modules/b/sync-helper.mjs': 'export {};\n',
  'node_modules/b/browser.js': 'module.exports = 3;\n',
  'node_modules/native/package.json': JSON.stringify({
    name: 'native',
    main: 'index.js',
    optionalDependencies: { 'native-libs': '1.0.0' },
  }),
  'node_modules/native/index.js': "module.exports = require('./build/Release/addon.node');\n",
  'node_modules/native/build/Release/addon.node': 'not really ELF',
  'node_modules/native-libs/package.json': '{"name":"native-libs"}',
  'node_modules/native-libs/lib/libfoo.so.1': 'x',
  'node_modules/native-libs/lib/README.txt': 'x',
  'node_modules/unused/package.json': '{"name":"unused"}',
  'node_modules/unused/index.js': 'module.exports = 4;\n',
  'node_modules/@s/unused/package.json': '{"name":"@s/unused"}',
  'node_modules/.package-lock.json': '{}',
};
const APP: Record<string, string> = {
  'index.js': "require('a'); require('./lib/own');\n",
  'lib/own.js': 'module.exports = 5;\n',
};

describe('--trace', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-trace-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('packageRoot: the package a path is in', () => {
    assert.equal(packageRoot('node_modules/a/lib/x.js'), 'node_modules/a');
    assert.equal(packageRoot('node_modules/@s/p/x.js'), 'node_modules/@s/p');
    assert.equal(packageRoot('node_modules/a/node_modules/b/i.js'), 'node_modules/a/node_modules/b');
    assert.equal(
      packageRoot('node_modules/.pnpm/a@1/node_modules/a/i.js'),
      'node_modules/.pnpm/a@1/node_modules/a',
    );
    assert.equal(packageRoot('lib/x.js'), undefined);
    assert.equal(packageRoot('node_modules/a'), undefined);
  });

  test('traceEntries: the command file and --trace-entry, inside the app only', () => {
    assert.deepEqual(traceEntries('dist/main', ['./worker.js', 'dist/main', '../x.js'], '/app'), [
      'dist/main',
      'worker.js',
    ]);
  });

  test('what stays and what goes; the app is read from its directory; --trace-include keeps more', async () => {
    const scratch = join(dir, 'scratch');
    const app = join(dir, 'app');
    await writeTree(scratch, INSTALLED);
    await writeTree(app, APP);
    const r = await traceTree(scratch, ['node_modules'], ['index'], [], app);
    assert.deepEqual(
      [...r.drop].sort(),
      [
        'node_modules/.package-lock.json',
        'node_modules/@s',
        'node_modules/a/unused.js',
        'node_modules/b/browser.js',
        'node_modules/native-libs/lib/README.txt',
        'node_modules/unused',
      ],
      'kept: what is reached, every branch of exports Node may take, package.json, LICENSE, the addon and its libraries',
    );
    assert.deepEqual(
      r.droppedPackages,
      ['node_modules/unused'],
      'directories of packages only, not .package-lock.json',
    );
    assert.equal(r.files, 7, 'unused holds two files');
    assert.equal(
      r.keptFiles,
      Object.keys(INSTALLED).length - 1 - 7,
      'the root package.json is not in node_modules',
    );

    const more = await traceTree(scratch, ['node_modules'], ['index.js'], ['node_modules/unused/**'], app);
    assert.ok(!more.drop.has('node_modules/unused') && !more.drop.has('node_modules/unused/index.js'));
    assert.ok(more.drop.has('node_modules/a/unused.js'));
  });

  test('the plan counts what --trace would leave out of the app directory, or says why the build does', async () => {
    const whole = join(dir, 'whole');
    await writeTree(whole, { ...INSTALLED, ...APP });
    const p = await planPrune(
      { trace: { entries: ['lib/own.js'], include: ['node_modules/unused/**'] } },
      whole,
      {
        entry: { file: 'index.js' },
      },
    );
    assert.deepEqual(p.trace?.entries, ['index.js', 'lib/own.js']);
    assert.deepEqual(p.trace?.include, ['node_modules/unused/**']);
    assert.equal(p.trace?.counted?.files, 5);
    assert.deepEqual(p.trace?.counted?.droppedPackages, []);
    const bin = await planPrune({ trace: {} }, whole, {
      bin: 'next',
      entry: { file: 'the bin "next" of next' },
    });
    assert.deepEqual(bin.trace?.entries, []);
    assert.match(bin.trace?.note ?? '', /the bin next is found by the build/);
    assert.equal(bin.trace?.counted, undefined);
    const none = await planPrune({ prune: false, trace: {} }, join(dir, 'nothing'), {
      entry: { file: 'index.js' },
    });
    assert.equal(none.on, false);
    assert.match(none.trace?.note ?? '', /nothing is installed/);
  });

  test('an entry that is not there is APP_ENTRY_MISSING, naming it', async () => {
    const scratch = join(dir, 'scratch');
    await assert.rejects(traceTree(scratch, ['node_modules'], ['dist/nope'], []), (e) => {
      assert.ok(isDistillError(e) && e.code === 'APP_ENTRY_MISSING');
      assert.match(e.message, /dist\/nope/);
      return true;
    });
  });
});
