import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { appContext, copyContext } from '../../src/build/app/context.js';
import { tempDir } from '../helpers/components.js';

async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await tree(dir, r)));
    else out.push(r);
  }
  return out.sort();
}

describe('build context: .dockerignore, .distillignore and what is never copied', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-context-');
    const files = [
      'package.json',
      'index.js',
      'README.md',
      'docs/guide.md',
      'src/a.ts',
      'src/a.test.ts',
      'node_modules/x/index.js',
      'packages/p/node_modules/y/index.js',
      '.git/HEAD',
      '.distill/image/index.json',
      'secrets/.env',
      'keep/important.log',
      'debug.log',
    ];
    for (const f of files) {
      await mkdir(join(dir, 'app', f, '..'), { recursive: true });
      await writeFile(join(dir, 'app', f), f);
    }
    await writeFile(join(dir, 'app', '.dockerignore'), '# comment\n*.md\nsecrets\n**/*.test.ts\n*.log\n');
    // .distillignore comes after .dockerignore: its exceptions win.
    await writeFile(join(dir, 'app', '.distillignore'), '!README.md\n!keep/*.log\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the copy holds what the patterns keep, and never node_modules, .git or .distill', async () => {
    const ctx = await appContext(join(dir, 'app'));
    const n = await copyContext(ctx, join(dir, 'copy'));
    const got = await tree(join(dir, 'copy'));
    assert.deepEqual(got, [
      '.distillignore',
      '.dockerignore',
      'README.md',
      // Docker's `*` does not cross a slash: *.md matches only at the top.
      'docs/guide.md',
      'index.js',
      'keep/important.log',
      'package.json',
      'src/a.ts',
    ]);
    assert.equal(n, got.length);
  });

  test('only: copies the named install inputs that exist', async () => {
    const ctx = await appContext(join(dir, 'app'));
    await copyContext(ctx, join(dir, 'only'), ['package.json', 'package-lock.json', 'patches']);
    assert.deepEqual(await tree(join(dir, 'only')), ['package.json']);
  });

  test('ignores() without exceptions skips a whole excluded directory', async () => {
    await mkdir(join(dir, 'app2'), { recursive: true });
    await writeFile(join(dir, 'app2', '.dockerignore'), 'dist\n');
    const ctx = await appContext(join(dir, 'app2'));
    assert.equal(ctx.ignores('dist', true), true);
    assert.equal(ctx.ignores('dist/a.js', false), true);
    assert.equal(ctx.ignores('distx', true), false);
    assert.equal(ctx.ignores('lib/node_modules', true), true);
  });
});
