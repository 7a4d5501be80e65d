import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleIsFresh } from '../scripts/bundle.mjs';
import { tempDir } from './helpers/components.js';

/** bin/distill.js in a source checkout: the bundle when fresh, rebuilt when a source is newer. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const fresh = bundleIsFresh;

let tmp: string;
before(async () => {
  tmp = await tempDir('distill-start-');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function past(path: string, secondsAgo: number): void {
  const t = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(path, t, t);
}

describe('bundleIsFresh', () => {
  /** A tree shaped like the checkout: src/ with a subdirectory, the bundle built after it. */
  function tree(name: string): string {
    const root = join(tmp, name);
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist', 'bundle'), { recursive: true });
    mkdirSync(join(root, 'node_modules'), { recursive: true });
    writeFileSync(join(root, 'src', 'cli', 'main.ts'), 'export {};\n');
    writeFileSync(join(root, 'src', 'old.ts'), 'export {};\n');
    writeFileSync(join(root, 'package.json'), '{}\n');
    writeFileSync(join(root, 'node_modules', '.package-lock.json'), '{}\n');
    // ctime cannot be set back, so the bundle is stamped in the future instead.
    writeFileSync(join(root, 'dist', 'bundle', 'main.js'), '\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(root, 'dist', 'bundle', 'main.js'), later, later);
    return root;
  }
  const stampNow = (root: string) =>
    utimesSync(join(root, 'dist', 'bundle', 'main.js'), new Date(), new Date());

  test('fresh until a source, a directory entry or an input file changes', async () => {
    const root = tree('a');
    assert.equal(fresh(root), true);
    assert.equal(fresh(join(tmp, 'none')), false, 'no bundle at all');
    // Changes made "now" are older than the stamp five seconds ahead: move the stamp back to now
    // after each change, then change again later.
    const cases: [string, (r: string) => void][] = [
      ['an edited source', (r) => writeFileSync(join(r, 'src', 'cli', 'main.ts'), 'export const x = 1;\n')],
      ['a deleted source', (r) => rmSync(join(r, 'src', 'old.ts'))],
      ['a new source', (r) => writeFileSync(join(r, 'src', 'cli', 'new.ts'), '\n')],
      ['a source renamed', (r) => renameSync(join(r, 'src', 'old.ts'), join(r, 'src', 'new.ts'))],
      ['a new directory', (r) => mkdirSync(join(r, 'src', 'cli', 'sub'))],
      ['an npm install', (r) => writeFileSync(join(r, 'node_modules', '.package-lock.json'), '{"x":1}\n')],
      ['package.json', (r) => writeFileSync(join(r, 'package.json'), '{"x":1}\n')],
    ];
    for (const [what, change] of cases) {
      const r = tree(`case-${what.replaceAll(' ', '-')}`);
      past(join(r, 'dist', 'bundle', 'main.js'), 10);
      assert.equal(fresh(r), false, `${what}: the tree was made after the stamp`);
      // The stamp has the millisecond of Date; a file's times have nanoseconds. Made in the same
      // millisecond as the stamp, the tree would be newer than it.
      await new Promise((res) => setTimeout(res, 20));
      stampNow(r);
      await new Promise((res) => setTimeout(res, 20));
      assert.equal(fresh(r), true, `${what}: stamped after the tree`);
      await new Promise((res) => setTimeout(res, 20));
      change(r);
      assert.equal(fresh(r), false, what);
    }
  });

  test('a source given back an old mtime (cp -p, touch -d) still counts: its ctime is new', async () => {
    const root = tree('b');
    stampNow(root);
    await new Promise((res) => setTimeout(res, 20));
    const f = join(root, 'src', 'cli', 'main.ts');
    writeFileSync(f, 'export const y = 2;\n');
    past(f, 3600);
    assert.equal(fresh(root), false);
  });
});

describe('bin/distill.js in a source checkout', () => {
  /** A copy of the checkout's sources sharing its node_modules (no npm ci needed). */
  let copy: string;
  const main = () => join(copy, 'dist', 'bundle', 'main.js');
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [join(copy, 'bin', 'distill.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, DISTILL_USE_DIST: '', DISTILL_USE_SOURCE: '', ...env },
    });
  const marker = (text: string) => {
    // src/cli may write to stderr: a line main.ts prints first shows which code ran.
    const f = join(copy, 'src', 'cli', 'main.ts');
    const body = readFileSync(join(ROOT, 'src', 'cli', 'main.ts'), 'utf8');
    writeFileSync(f, `process.stderr.write(${JSON.stringify(`${text}\n`)});\n${body}`);
  };

  before(() => {
    copy = join(tmp, 'checkout');
    for (const p of ['bin', 'src', 'scripts', 'package.json', 'tsconfig.json']) {
      cpSync(join(ROOT, p), join(copy, p), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  });

  test('builds the bundle when there is none, then runs it without rebuilding', { timeout: 120_000 }, () => {
    marker('marker-1');
    const first = run(['--version']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /^marker-1$/m);
    assert.ok(existsSync(main()), 'the bundle was built');
    const stamp = readFileSync(main(), 'utf8');
    const second = run(['--version']);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /^marker-1$/m);
    assert.equal(readFileSync(main(), 'utf8'), stamp);
    assert.equal(second.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });

  test('an edited source is rebuilt once, by one of several processes started together', {
    timeout: 120_000,
  }, async () => {
    marker('marker-2');
    const trace = join(tmp, 'builds.txt');
    const outs = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise<{ code: number | null; stderr: string }>((res) => {
            const p = spawn(process.execPath, [join(copy, 'bin', 'distill.js'), '--version'], {
              env: {
                ...process.env,
                DISTILL_USE_DIST: '',
                DISTILL_USE_SOURCE: '',
                DISTILL_BUNDLE_TRACE: trace,
              },
            });
            let stderr = '';
            p.stderr.on('data', (d) => {
              stderr += d;
            });
            p.on('close', (code) => res({ code, stderr }));
          }),
      ),
    );
    for (const o of outs) {
      assert.equal(o.code, 0, o.stderr);
      assert.match(o.stderr, /^marker-2$/m);
    }
    assert.equal(readFileSync(trace, 'utf8').trim().split('\n').length, 1, 'one process built the bundle');
    const left = readdirSync(join(copy, 'dist', 'bundle')).filter((n) => n.startsWith('.tmp-'));
    assert.deepEqual(left, [], 'no temporary file is left');
    assert.equal(existsSync(join(copy, 'dist', '.bundle.lock')), false, 'the lock is released');
  });

  test('a syntax error falls back to the sources, which report it; the bundle stays as it was', {
    timeout: 120_000,
  }, () => {
    const before = readFileSync(main(), 'utf8');
    const f = join(copy, 'src', 'cli', 'main.ts');
    const good = readFileSync(f, 'utf8');
    writeFileSync(f, `${good}\nconst = ;\n`);
    const r = run(['--version']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /main\.ts/);
    assert.equal(readFileSync(main(), 'utf8'), before);
    writeFileSync(f, good);
  });

  test('DISTILL_USE_DIST=1 runs the bundle as it is, stale or not', () => {
    marker('marker-3');
    const r = run(['--version'], { DISTILL_USE_DIST: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^marker-2$/m, 'the old bundle ran');
    assert.equal(fresh(copy), false);
  });

  test('without esbuild and tsx the old bundle runs, with a warning', { timeout: 60_000 }, () => {
    // A node_modules without the two tools; the bundle needs no package at run time.
    const modules = join(tmp, 'modules-without-tools');
    mkdirSync(modules);
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name !== 'esbuild' && name !== 'tsx' && name !== '.bin') {
        symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
      }
    }
    rmSync(join(copy, 'node_modules'));
    symlinkSync(modules, join(copy, 'node_modules'));
    try {
      const r = run(['--version']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stderr,
        /neither esbuild nor tsx is installed to run the changed sources; running dist\/bundle as it is/,
      );
      assert.match(r.stderr, /^marker-2$/m);
    } finally {
      rmSync(join(copy, 'node_modules'));
      symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    }
  });

  test('DISTILL_USE_SOURCE=1 runs the TypeScript sources', { timeout: 300_000 }, () => {
    const r = run(['--version'], { DISTILL_USE_SOURCE: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^marker-3$/m);
    assert.equal(fresh(copy), false, 'the bundle was not rebuilt');
  });

  test('the first npx in a checkout runs prepare, which leaves the build to bin/distill.js', {
    timeout: 120_000,
  }, () => {
    const skip = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [join(copy, 'scripts', 'bundle.mjs'), '--npx-skip'], {
        env: { ...process.env, ...env },
      }).status;
    assert.equal(skip({ npm_command: 'exec' }), 0);
    assert.equal(skip({ npm_command: 'ci' }), 1, 'npm ci builds');
    assert.equal(skip({ npm_command: 'pack' }), 1, 'npm pack builds');
    // npx with an empty cache installs the checkout there and runs its prepare: no tsc output
    // appears (the old prepare ran tsc and the bundle again, 30-40 s), and the command runs.
    const r = spawnSync('npx', ['distill', '--version'], {
      cwd: copy,
      encoding: 'utf8',
      env: {
        ...process.env,
        npm_config_cache: join(tmp, 'npm-cache'),
        DISTILL_USE_DIST: '',
        DISTILL_USE_SOURCE: '',
      },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    assert.equal(existsSync(join(copy, 'dist', 'index.js')), false, 'prepare ran tsc');
    assert.ok(
      readdirSync(join(tmp, 'npm-cache', '_npx')).length > 0,
      'npx installed the checkout into its cache (and so ran prepare)',
    );
  });
});

describe("bin/distill.js and Node's module compile cache", () => {
  // The Node that runs bin/distill.js: this one, or DISTILL_TEST_NODE (e.g. a Node 24 from the
  // store's toolchains, to check the other branch on a machine whose Node is 20).
  const node = process.env.DISTILL_TEST_NODE ?? process.execPath;
  // Not NODE_COMPILE_CACHE: that alone turns the cache on. The default directory is in TMPDIR.
  const run = (tmpdir: string, env: NodeJS.ProcessEnv = {}) => {
    mkdirSync(tmpdir, { recursive: true });
    const { NODE_COMPILE_CACHE: _, ...rest } = process.env;
    return spawnSync(node, [join(ROOT, 'bin', 'distill.js'), '--version'], {
      encoding: 'utf8',
      env: { ...rest, DISTILL_USE_DIST: '1', TMPDIR: tmpdir, ...env },
    });
  };
  const entries = (tmpdir: string) => {
    const dir = join(tmpdir, 'node-compile-cache');
    return existsSync(dir) ? readdirSync(dir, { recursive: true }).length : 0;
  };
  const hasCache =
    spawnSync(node, ['-p', "typeof require('node:module').enableCompileCache"], {
      encoding: 'utf8',
    }).stdout.trim() === 'function';

  test('kept in the temp directory on Node 22.1+, none on Node 20; off with NODE_DISABLE_COMPILE_CACHE=1', () => {
    const on = join(tmp, 'tmpdir-on');
    const r = run(on);
    assert.equal(r.status, 0, r.stderr);
    if (hasCache) assert.ok(entries(on) > 0, `Node ${node} has a compile cache: it is written to ${on}`);
    else assert.equal(entries(on), 0, 'Node 20 has no compile cache: nothing written');
    const off = join(tmp, 'tmpdir-off');
    const r2 = run(off, { NODE_DISABLE_COMPILE_CACHE: '1' });
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(entries(off), 0, 'NODE_DISABLE_COMPILE_CACHE=1: none');
  });
});
