import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { type Builder, makeBuilder, runPhases } from '../../src/build/app/install.js';
import { replayKey, runBuildScript } from '../../src/build/app/script-replay.js';
import { isDistillError } from '../../src/errors.js';
import { Store } from '../../src/store/store.js';
import { hostNpm } from '../helpers/app-fixture.js';
import { IN_CI, requireComponents, tempDir } from '../helpers/components.js';
import { writeTree } from '../helpers/tree.js';

/**
 * The build script replayed without npm (src/build/app/script-replay.ts), with the machine's npm
 * and Node: the environment, arguments, directory and order of the scripts a replay runs are
 * exactly those of a plain `npm run build`; anything npm reads that changes, and a script-shell
 * of the user's, make npm run it again.
 */
const DUMP = `const fs = require('fs');
const name = process.argv[2];
fs.mkdirSync('out', { recursive: true });
fs.appendFileSync('out/order', name + '\\n');
fs.writeFileSync('out/' + name + '.json', JSON.stringify({ env: process.env, argv: process.argv.slice(2), cwd: process.cwd() }));
if (name === 'build' && fs.existsSync('fail')) process.exit(3);
`;

function ready(t: TestContext): boolean {
  if (!requireComponents(t, 'npm', 'sh')) return false;
  if (hostNpm() !== undefined) return true;
  if (IN_CI) throw new Error("CI=true and the machine's npm was not found");
  t.skip("the machine's npm was not found");
  return false;
}

describe('the build script replayed as npm ran it', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-script-replay-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function builder(app: string, steps: string[]): Promise<Builder> {
    const npm = hostNpm()!;
    const tc = {
      nodeDir: dirname(dirname(process.execPath)),
      pm: {
        name: 'npm' as const,
        version: npm.version,
        dir: npm.dir,
        script: join(npm.dir, 'bin', 'npm-cli.js'),
      },
      cacheDir: join(dir, 'pm-cache'),
    };
    const env = { PATH: process.env.PATH, HOME: join(dir, 'home') };
    return makeBuilder(
      app,
      tc,
      { buildScript: 'build' },
      { step: (m) => steps.push(m) },
      env,
      'package-lock.json',
    );
  }

  /** An app of `name` whose scripts dump what they were given, its own store, and its builder. */
  async function setup(name: string, version: string, extra: Record<string, string> = {}) {
    const app = join(dir, name);
    await writeTree(app, {
      'package.json': JSON.stringify({ name, version, scripts: scripts() }),
      'dump.js': DUMP,
      ...extra,
    });
    const steps: string[] = [];
    return { app, store: new Store(join(dir, `store-${name}`)), steps, b: await builder(app, steps) };
  }

  const scripts = (extra = '') => ({
    prebuild: 'node dump.js prebuild',
    build: `node dump.js build${extra}`,
    postbuild: 'node dump.js postbuild',
  });

  async function dumps(app: string) {
    const order = (await readFile(join(app, 'out', 'order'), 'utf8')).trim().split('\n');
    const out: Record<string, unknown> = {};
    for (const n of order) out[n] = JSON.parse(await readFile(join(app, 'out', `${n}.json`), 'utf8'));
    await rm(join(app, 'out'), { recursive: true, force: true });
    return { order, out };
  }

  test("pre, main and post scripts get npm's exact environment; a changed package.json runs npm again", async (t) => {
    if (!ready(t)) return;
    const { app, store, steps, b } = await setup('replayed', '1.2.3');
    assert.ok(replayKey(b) !== undefined);

    // What npm itself gives the scripts, with nothing of distill's in between.
    await runPhases(b, ['build']);
    const plain = await dumps(app);
    assert.deepEqual(plain.order, ['prebuild', 'build', 'postbuild']);
    const env = (plain.out.build as { env: Record<string, string> }).env;
    assert.equal(env.npm_lifecycle_event, 'build');
    assert.equal(env.npm_package_version, '1.2.3');

    // Recorded: npm runs it, through the recorder; then replayed: npm does not start.
    steps.length = 0;
    await runBuildScript(b, store);
    assert.ok(!steps.some((s) => s.includes('npm not started')), steps.join('\n'));
    assert.deepEqual(await dumps(app), plain);
    steps.length = 0;
    await runBuildScript(b, store);
    assert.deepEqual(steps, [
      `build: npm ${b.tc.pm.version} run build (as npm ran it before: 3 sh -c, npm not started)`,
    ]);
    assert.deepEqual(await dumps(app), plain, 'the same environment, arguments, directory and order as npm');
    assert.ok(!existsSync(join(app, '.distill-tmp')), 'the scratch TMPDIR goes, as after npm');

    // The script changes in package.json: a new key, npm runs the new script.
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'replayed', version: '1.2.3', scripts: scripts(' again') }),
    );
    steps.length = 0;
    await runBuildScript(b, store);
    assert.ok(!steps.some((s) => s.includes('npm not started')), steps.join('\n'));
    const changed = await dumps(app);
    assert.deepEqual((changed.out.build as { argv: string[] }).argv, ['build', 'again']);
  });

  test('a failing replayed script is APP_BUILD_FAILED and stops there, as npm does', async (t) => {
    if (!ready(t)) return;
    const { app, store, steps, b } = await setup('fails', '1.0.0');
    await runBuildScript(b, store);
    await dumps(app);
    await writeFile(join(app, 'fail'), '');
    steps.length = 0;
    await assert.rejects(runBuildScript(b, store), (err) => {
      assert.ok(isDistillError(err) && err.code === 'APP_BUILD_FAILED', String(err));
      assert.match(err.message, /the build script "build" failed \(exit code 3\)/);
      return true;
    });
    assert.ok(
      steps.some((s) => s.includes('npm not started')),
      steps.join('\n'),
    );
    assert.deepEqual((await dumps(app)).order, ['prebuild', 'build'], 'postbuild does not run');
  });

  test("a script-shell of the user's is never replaced: npm runs the script every time", async (t) => {
    if (!ready(t)) return;
    const { app, store, steps, b } = await setup('shell', '1.0.0', { '.npmrc': 'script-shell=/bin/sh\n' });
    assert.equal(replayKey(b), undefined);
    await runBuildScript(b, store);
    await runBuildScript(b, store);
    assert.ok(!steps.some((s) => s.includes('npm not started')), steps.join('\n'));
    assert.deepEqual((await dumps(app)).order, [
      'prebuild',
      'build',
      'postbuild',
      'prebuild',
      'build',
      'postbuild',
    ]);
  });
});
