import assert from 'node:assert/strict';
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { entrypointsOf, planPrune, pruneTree } from '../../src/plan/prune.js';
import {
  dirRule,
  fileRule,
  PRUNE_RULES,
  PRUNE_RULES_VERSION,
  RUNTIME_COMPILER,
} from '../../src/plan/prune-rules.js';
import { tempDir } from '../helpers/components.js';
import { writeTree } from '../helpers/tree.js';

/** The safe prune (src/plan/prune-rules.ts): what it drops from node_modules, and what it never drops. */

describe('the safe prune of node_modules', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-prune-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('every rule the matchers use is listed with its reason, and the other way round', () => {
    const ids = new Set(PRUNE_RULES.map((r) => r.id));
    assert.equal(ids.size, PRUNE_RULES.length, 'ids are unique');
    for (const r of PRUNE_RULES) assert.ok(r.reason.length > 20 && r.drops.length > 3, r.id);
    const used = new Set<string>();
    for (const d of [
      'test',
      'tests',
      '__tests__',
      '.github',
      'example',
      'examples',
      'doc',
      'docs',
      'coverage',
      'benchmarks',
    ])
      used.add(dirRule(d) ?? `none for ${d}`);
    for (const f of [
      'README.md',
      'x.d.ts',
      'x.js.map',
      'a.ts',
      'b.mts',
      '.eslintrc.json',
      'a.test.js',
      'x.cc',
    ])
      used.add(fileRule(f) ?? `none for ${f}`);
    assert.deepEqual([...used].sort(), [...ids].sort());
  });

  test('file rules: licences and notices stay; TypeScript sources, test files and C sources go', () => {
    for (const kept of [
      'LICENSE.md',
      'licence.markdown',
      'NOTICE.md',
      'COPYING.md',
      'index.js',
      'x.node',
      'binding.gyp',
      'contest.js',
      'test.js',
      'spec.json',
      'latest.mjs',
      'a.h.js',
      'x.cjs',
    ])
      assert.equal(fileRule(kept), undefined, kept);
    assert.equal(fileRule('.env'), undefined);
    for (const ts of ['a.ts', 'a.cts', 'a.mts', 'view.tsx'])
      assert.equal(fileRule(ts), 'typescript-sources', ts);
    for (const t of ['a.test.js', 'a.spec.ts', 'b.test.mjs', 'c.spec.cjs', 'd.test.tsx', 'e.spec.jsx'])
      assert.equal(fileRule(t), 'test-files', t);
    for (const c of ['vips.cc', 'a.c', 'b.cpp', 'c.cxx', 'd.h', 'e.hpp', 'f.hh', 'g.hxx'])
      assert.equal(fileRule(c), 'native-sources', c);
    assert.equal(fileRule('CHANGELOG.md'), 'markdown');
    assert.equal(fileRule('index.d.cts'), 'declarations');
    assert.equal(fileRule('index.test.d.ts'), 'declarations');
    assert.equal(dirRule('lib/test'), undefined, 'directories only at the top of a package');
    assert.equal(dirRule('bench'), 'benchmark-dirs');
    assert.equal(dirRule('lib/bench'), undefined);
  });

  test('a pattern target keeps what its prefix and suffix match; what Node cannot load goes anyway', async () => {
    const app = join(dir, 'pattern');
    await writeTree(app, {
      'node_modules/z/package.json': JSON.stringify({
        exports: {
          './locales/*': { types: './locales/*.d.ts', default: './locales/*.js' },
          './raw/*': './raw/*',
        },
      }),
      'node_modules/z/locales/de.js': 'x',
      'node_modules/z/locales/de.d.ts': 'x',
      'node_modules/z/locales/de.test.js': 'x',
      'node_modules/z/raw/notes.md': 'x',
      'node_modules/z/locales/README.md': 'x',
      'node_modules/z/src/index.ts': 'x',
    });
    const r = pruneTree(app, ['node_modules']);
    // locales/*.js keeps de.js and de.test.js, not the README; raw/* keeps everything under raw/.
    assert.deepEqual([...r.drop].sort(), [
      'node_modules/z/locales/README.md',
      'node_modules/z/locales/de.d.ts',
      'node_modules/z/src/index.ts',
    ]);
    // What Node cannot load goes even where the manifest names it (a custom condition, a wrong main).
    await writeTree(join(app, 'node_modules', 'y'), {
      'package.json': JSON.stringify({
        main: 'index.d.ts',
        exports: { '.': { '@y/source': './src/index.ts', default: './dist/index.js' } },
      }),
      'index.d.ts': 'x',
      'src/index.ts': 'x',
      'dist/index.js': 'x',
      'dist/index.test.js': 'x',
    });
    assert.deepEqual([...pruneTree(app, ['node_modules']).drop].filter((p) => p.includes('/y/')).sort(), [
      'node_modules/y/dist/index.test.js',
      'node_modules/y/index.d.ts',
      'node_modules/y/src/index.ts',
    ]);
  });

  test("a package's main, bin, exports and imports are never dropped, whatever the rules say", () => {
    const ep = entrypointsOf({
      main: './docs/entry',
      bin: { a: './examples/cli.js' },
      exports: {
        '.': { types: './index.d.ts', import: './test/esm.mjs', default: ['./index.js'] },
        './features/*': './tests/features/*.js',
      },
      imports: { '#internal': './doc/internal.js' },
    });
    assert.ok(
      ep.files.has('docs/entry.js') && ep.files.has('docs/entry/index.js'),
      'main as resolution tries it',
    );
    assert.ok(
      ep.files.has('examples/cli.js') && ep.files.has('test/esm.mjs') && ep.files.has('doc/internal.js'),
    );
    assert.ok(!ep.files.has('index.d.ts'), 'the types condition is TypeScript’s, never resolved by Node');
    assert.deepEqual(ep.prefixes, ['tests/features/']);
    assert.deepEqual(ep.suffixes, ['.js']);
  });

  test('the tree: what goes, what stays, the counts; npm, nested, scoped and pnpm layouts; links not followed', async () => {
    const app = join(dir, 'app');
    await writeTree(app, {
      // The app's own files: never pruned.
      'README.md': 'app',
      'src/types.d.ts': 'x',
      'test/app.test.js': 'x',
      'packages/lib/README.md': 'x',
      'node_modules/.package-lock.json': '{}',
      'node_modules/plain/package.json': '{"main": "lib/index.js"}',
      'node_modules/plain/lib/index.js': 'x',
      'node_modules/plain/lib/index.ts': 'xx',
      'node_modules/plain/lib/index.js.map': 'xxx',
      'node_modules/plain/lib/index.d.ts': 'xxxx',
      'node_modules/plain/lib/only.ts': 'x',
      'node_modules/plain/lib/test/helper.js': 'deep test/ is code',
      'node_modules/plain/README.md': '12345',
      'node_modules/plain/LICENSE.md': 'MIT',
      'node_modules/plain/test/a.js': '123',
      'node_modules/plain/test/b/c.js': '1234',
      'node_modules/plain/.github/FUNDING.yml': 'x',
      'node_modules/plain/.eslintrc.json': '{}',
      'node_modules/plain/node_modules/inner/package.json': '{}',
      'node_modules/plain/node_modules/inner/CHANGELOG.md': 'x',
      'node_modules/plain/node_modules/inner/docs/guide.html': 'x',
      // main in a directory a rule names: the directory stays.
      'node_modules/odd/package.json': '{"main": "test/index.js", "exports": {"./x": "./docs/x.md"}}',
      'node_modules/odd/test/index.js': 'x',
      'node_modules/odd/test/README.md': 'x',
      'node_modules/odd/docs/x.md': 'exported',
      'node_modules/odd/docs/y.md': 'not',
      'node_modules/@scope/pkg/package.json': '{}',
      'node_modules/@scope/pkg/index.d.mts': 'x',
      'node_modules/@scope/pkg/examples/e.js': 'x',
      'node_modules/.pnpm/dep@1.0.0/node_modules/dep/package.json': '{}',
      'node_modules/.pnpm/dep@1.0.0/node_modules/dep/__tests__/t.js': 'x',
      'node_modules/.pnpm/dep@1.0.0/node_modules/dep/index.js': 'x',
    });
    // A workspace package linked into node_modules: its files are the app's.
    await symlink('../packages/lib', join(app, 'node_modules', 'lib'));
    const r = pruneTree(app, ['node_modules']);
    const nm = (p: string) => `node_modules/${p}`;
    assert.deepEqual(
      [...r.drop].sort(),
      [
        '.pnpm/dep@1.0.0/node_modules/dep/__tests__',
        '@scope/pkg/examples',
        '@scope/pkg/index.d.mts',
        'odd/docs/y.md',
        'odd/test/README.md',
        'plain/.eslintrc.json',
        'plain/.github',
        'plain/README.md',
        'plain/lib/index.d.ts',
        'plain/lib/index.js.map',
        'plain/lib/index.ts',
        'plain/lib/only.ts',
        'plain/node_modules/inner/CHANGELOG.md',
        'plain/node_modules/inner/docs',
        'plain/test',
      ]
        .map(nm)
        .sort(),
    );
    assert.equal(r.files, 16, 'plain/test holds two files');
    assert.deepEqual(r.byRule['test-dirs'], { files: 3, bytes: 3 + 4 + 1 });
    assert.deepEqual(r.byRule.markdown, { files: 4, bytes: 5 + 1 + 1 + 3 });
    assert.equal(
      r.bytes,
      Object.values(r.byRule).reduce((n, c) => n + c.bytes, 0),
    );
  });

  test('with the typescript package installed, .d.ts and .ts files stay (a compiler reads them at run time)', async () => {
    const app = join(dir, 'compiler');
    await writeTree(app, {
      'node_modules/typescript/package.json': '{"main": "lib/typescript.js"}',
      'node_modules/typescript/lib/typescript.js': 'x',
      'node_modules/typescript/lib/lib.es5.d.ts': 'declare var NaN: number;',
      'node_modules/typescript/README.md': 'x',
      'node_modules/@types/node/index.d.ts': 'x',
      'node_modules/a/index.js': 'x',
      'node_modules/a/index.ts': 'x',
      'node_modules/a/index.js.map': 'x',
    });
    const r = pruneTree(app, ['node_modules']);
    assert.equal(r.compiler, true);
    assert.deepEqual(
      [...r.drop].sort(),
      ['node_modules/a/index.js.map', 'node_modules/typescript/README.md'],
      'the other rules still apply',
    );
    assert.deepEqual(Object.keys(r.byRule).sort(), ['markdown', 'source-maps']);
    assert.deepEqual(RUNTIME_COMPILER.off, ['declarations', 'typescript-sources']);
    assert.equal(pruneTree(join(dir, 'app'), ['node_modules']).compiler, undefined);
  });

  test('a TypeScript loader installed for production (tsx, ts-node, jiti, ...) keeps .ts sources too', async () => {
    for (const loader of ['tsx', '@swc-node/register', 'jiti']) {
      const app = join(dir, `loader-${loader.replace('/', '-')}`);
      await writeTree(app, {
        [`node_modules/${loader}/package.json`]: '{}',
        'node_modules/.pnpm/a@1.0.0/node_modules/a/src/index.ts': 'x',
        'node_modules/.pnpm/a@1.0.0/node_modules/a/README.md': 'x',
      });
      const r = pruneTree(app, ['node_modules']);
      assert.equal(r.compiler, true, loader);
      assert.deepEqual([...r.drop], ['node_modules/.pnpm/a@1.0.0/node_modules/a/README.md'], loader);
    }
    assert.ok(RUNTIME_COMPILER.packages.includes('ts-node'));
  });

  test('the plan: the rules and a count of the app directory, or off with --no-prune', async () => {
    const app = join(dir, 'planned');
    await writeTree(app, { 'node_modules/a/README.md': 'abc', 'node_modules/a/index.js': 'x' });
    const on = await planPrune({}, app, {});
    assert.equal(on.on, true);
    assert.equal(on.rulesVersion, PRUNE_RULES_VERSION);
    assert.equal(on.rules?.length, PRUNE_RULES.length);
    assert.deepEqual(on.counted, {
      in: join(app, 'node_modules'),
      files: 1,
      bytes: 3,
      byRule: { markdown: { files: 1, bytes: 3 } },
    });
    assert.equal((await planPrune({}, join(dir, 'nothing-installed'), {})).counted, undefined);
    assert.deepEqual(await planPrune({ prune: false }, app, {}), {
      on: false,
      from: '--no-prune',
      rulesVersion: PRUNE_RULES_VERSION,
    });
  });
});
