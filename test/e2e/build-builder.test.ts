import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitForAnswer } from '../helpers/apps/http.js';
import { APPS, type AppName, appCopy, checkHttp, hostEnv } from '../helpers/apps.js';
import { distill } from '../helpers/cli.js';
import { freePort, requireComponents, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';
import { packageSetArgs } from '../helpers/packages.js';

/**
 * The builder step on real apps (issue 15, points 1 and 2): h11's generated apps and our
 * fixtures built with default flags by the CLI, run in the real engine and asked over HTTP.
 * A code-only rebuild runs no install and no native compile (the log says so) and keeps the
 * node_modules layer; the production node_modules hold exactly the packages a fresh production
 * install of the same lockfile holds (the same JavaScript lists both); a pnpm workspace package
 * ships as `pnpm deploy --prod` would have it.
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/apps', import.meta.url));
const TAG = `h12-${process.pid}`;

/** The layer digests of a tag of an OCI layout. */
async function layers(layout: string, tag: string): Promise<string[]> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
  const desc = index.manifests.find(
    (m: { annotations?: Record<string, string> }) =>
      m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  const manifest = JSON.parse(await readFile(join(layout, 'blobs', 'sha256', desc.digest.slice(7)), 'utf8'));
  return manifest.layers.map((l: { digest: string }) => l.digest);
}

describe('e2e: the builder step, cached by meaning, on real apps', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const images: string[] = [];
  before(async () => {
    dir = await tempDir('distill-builder-e2e-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    removeImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  async function ready(t: TestContext, ...components: string[]): Promise<boolean> {
    if (!requireComponents(t, 'docker', ...components)) return false;
    return requireNetwork(t, DEBIAN, NPM);
  }

  /** `distill build` into the engine (and an OCI layout tag); the log is the step lines on stderr. */
  async function build(app: string, name: string, extra: string[] = [], more: NodeJS.ProcessEnv = {}) {
    const image = `distill-h12/${name}:${TAG}`;
    const started = Date.now();
    const r = await distill(
      ['build', app, '-o', `docker-daemon:${image}`, '-o', `oci:${join(dir, 'layout')}:${name}`, ...extra],
      { ...env, ...more },
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    return {
      image,
      log: r.stderr,
      seconds: (Date.now() - started) / 1000,
      layers: await layers(join(dir, 'layout'), name),
    };
  }

  /** Runs the image with PORT set and asks it the app's checks. */
  async function answers(image: string, checks: (typeof APPS)[AppName]['checks']): Promise<void> {
    const port = await freePort();
    const cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, image]).trim();
    try {
      const first = checks[0]?.path;
      await waitForAnswer(`http://127.0.0.1:${port}`, typeof first === 'string' ? first : '/', {
        timeoutMs: 30_000,
      });
      await checkHttp(`http://127.0.0.1:${port}`, checks);
    } catch (err) {
      throw new Error(`${image}: ${(err as Error).message}\n${docker(['logs', cid])}`);
    } finally {
      docker(['rm', '-f', cid]);
    }
  }

  /** The packages of the image's /app, listed by the image's own node. */
  function imagePackages(image: string): string[] {
    const out = docker([
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/nodejs/bin/node',
      image,
      ...packageSetArgs('/app'),
    ]);
    return JSON.parse(out) as string[];
  }

  /** The packages of a directory on the host. */
  function hostPackages(root: string): string[] {
    return JSON.parse(execFileSync(process.execPath, packageSetArgs(root), { encoding: 'utf8' })) as string[];
  }

  for (const name of ['npm-sqlite', 'yarn-berry-sqlite'] as const) {
    test(`${name}: a code-only rebuild runs no install and no compile, keeps the node_modules layer, and answers`, async (t) => {
      if (!(await ready(t, ...(APPS[name].components ?? [])))) return;
      const app = await appCopy(name);
      // The package managers' temporary files (yarn berry's xfs-*, npm's) stay in the scratch
      // copy: the TMPDIR distill runs with is empty after both builds. The scratch copy goes
      // elsewhere, so that what remains in TMPDIR is only what leaked.
      const tmp = join(dir, `${name}-tmp`);
      await mkdir(tmp);
      const tmpEnv = { TMPDIR: tmp, DISTILL_SCRATCH: join(dir, `${name}-scratch`) };
      const cold = await build(app, `${name}-cold`, [], tmpEnv);
      assert.match(cold.log, /install: (npm \S+ ci --include=dev|yarn \S+ install --immutable)/);
      assert.match(cold.log, /install: kept for the next build/);
      // One line of the code, as bench/build changes it.
      const index = join(app, 'src', 'index.ts');
      await writeFile(index, (await readFile(index, 'utf8')).replace(/build-marker: \d+/, 'build-marker: 1'));
      const warm = await build(app, `${name}-warm`, [], tmpEnv);
      assert.deepEqual(await readdir(tmp), [], `what the builds left in TMPDIR`);
      t.diagnostic(
        `${name}: cold ${cold.seconds.toFixed(1)} s, code-only rebuild ${warm.seconds.toFixed(1)} s`,
      );
      assert.match(warm.log, /install: cached \(what the install reads is unchanged\): no install ran/);
      assert.doesNotMatch(warm.log, /install: (npm|yarn) /, 'no install command ran, so nothing compiled');
      assert.doesNotMatch(warm.log, /prune: /);
      assert.match(warm.log, /build: (npm \S+ run build|yarn \S+ run build)/);
      assert.match(warm.log, /node_modules: cached \(the build left node_modules as the install made it\)/);
      // The last two layers are node_modules and the app (no --writable here).
      assert.equal(warm.layers.at(-2), cold.layers.at(-2), 'the node_modules layer is the same blob');
      assert.notEqual(warm.layers.at(-1), cold.layers.at(-1), 'the app layer has the new build');
      await answers(warm.image, APPS[name].checks);
      // No devDependency: the packages a fresh production install of the lockfile holds.
      const fresh = join(dir, `${name}-fresh`);
      await cp(app, fresh, { recursive: true });
      const host = await hostEnv(undefined, APPS[name].tools);
      // Build scripts do not change which packages are there: skipped, not to compile again.
      const install =
        name === 'npm-sqlite'
          ? ['npm', 'ci', '--omit=dev', '--ignore-scripts']
          : ['yarn', 'workspaces', 'focus', '--all', '--production'];
      execFileSync(install[0]!, install.slice(1), {
        cwd: fresh,
        env: { ...host, YARN_ENABLE_IMMUTABLE_INSTALLS: 'true', YARN_ENABLE_SCRIPTS: 'false' },
        stdio: 'pipe',
      });
      const got = imagePackages(warm.image);
      assert.deepEqual(got, hostPackages(fresh));
      assert.ok(!got.some((p) => p.startsWith('typescript@')), got.join(' '));
    });
  }

  test('pnpm workspace --workspace api: @repo/logger built before api; ships what pnpm deploy --prod ships', async (t) => {
    if (!(await ready(t))) return;
    const app = await appCopy('pnpm-workspace');
    const r = await build(app, 'pnpm-ws', ['--workspace', 'api']);
    const logger = r.log.indexOf('build: pnpm 11.29.0 --filter @repo/logger run build');
    const api = r.log.indexOf('build: pnpm 11.29.0 --filter api run build');
    assert.ok(logger >= 0 && api > logger, r.log);
    assert.match(r.log, /prune: pnpm 11\.29\.0 --filter api\.\.\. prune --prod/);
    await answers(r.image, APPS['pnpm-workspace'].checks);
    assert.equal(JSON.parse(docker(['image', 'inspect', r.image]))[0].Config.WorkingDir, '/app/apps/api');
    const tree = JSON.parse(
      docker([
        'run',
        '--rm',
        '--network',
        'none',
        '--entrypoint',
        '/nodejs/bin/node',
        r.image,
        '-e',
        "const fs=require('fs');console.log(JSON.stringify([fs.readdirSync('/app'),fs.readdirSync('/app/apps'),fs.readdirSync('/app/packages'),fs.readdirSync('/app/node_modules'),fs.existsSync('/app/packages/logger/dist/index.cjs')]))",
      ]),
    );
    // The package, the workspace package it depends on (built), the root's package.json and
    // node_modules; no other file of the monorepo, no package manager state.
    assert.deepEqual(tree, [
      ['apps', 'node_modules', 'package.json', 'packages'],
      ['api'],
      ['logger'],
      ['.pnpm'],
      true,
    ]);
    const src = join(dir, 'pnpm-ws-deploy-src');
    await cp(app, src, { recursive: true });
    const deployed = join(dir, 'pnpm-ws-deployed');
    execFileSync('pnpm', ['--filter', 'api', 'deploy', '--prod', deployed], {
      cwd: src,
      env: await hostEnv(undefined, ['pnpm']),
      stdio: 'pipe',
    });
    const notApi = (p: string) => !p.startsWith('api@');
    const got = imagePackages(r.image).filter(notApi);
    assert.deepEqual(got, hostPackages(deployed).filter(notApi));
    assert.deepEqual(got, ['@repo/logger@0.0.0', 'picocolors@1.1.1']);
  });

  for (const ws of ['npm-ws', 'yarn-ws'] as const) {
    const pm = ws === 'npm-ws' ? 'npm' : 'yarn';
    test(`${pm} workspace --workspace api: @ws/logger built first; ships api's production dependencies only`, async (t) => {
      if (!(await ready(t))) return;
      const app = join(dir, ws);
      await cp(join(FIXTURES, ws), app, { recursive: true });
      const r = await build(app, ws, ['--workspace', 'api']);
      const logger = r.log.search(/build: \S+ \S+ (run build --workspace|workspace) @ws\/logger/);
      const api = r.log.search(/build: \S+ \S+ (run build --workspace|workspace) api/);
      assert.ok(logger >= 0 && api > logger, r.log);
      await answers(r.image, [
        {
          what: 'the api',
          path: '/',
          status: 200,
          includes: `"app":"${ws}","logger":"@ws/logger","kind":"string"`,
        },
      ]);
      assert.equal(JSON.parse(docker(['image', 'inspect', r.image]))[0].Config.WorkingDir, '/app/apps/api');
      const notApi = (p: string) => !p.startsWith('api@');
      const got = imagePackages(r.image).filter(notApi);
      // No devDependency (the root's is-number, the packages' is-odd and kind-of), nothing of
      // the third package (semver).
      assert.deepEqual(got, ['@ws/logger@1.0.0', 'ms@2.1.3', 'picocolors@1.1.1']);
      if (pm === 'npm') {
        // What npm itself installs for that one workspace.
        const fresh = join(dir, 'npm-ws-fresh');
        await cp(join(FIXTURES, ws), fresh, { recursive: true });
        execFileSync('npm', ['ci', '--omit=dev', '--workspace', 'api'], {
          cwd: fresh,
          env: await hostEnv(),
          stdio: 'pipe',
        });
        assert.deepEqual(got, hostPackages(fresh).filter(notApi));
      }
    });
  }

  const FRESH: {
    fixture: string;
    install: string[];
    tools: ('pnpm' | 'yarn')[];
    dev: RegExp;
    /** Another packageManager pin for the copy distill builds. */
    pin?: string;
  }[] = [
    {
      fixture: 'ts-build',
      install: ['npm', 'ci', '--omit=dev'],
      tools: [],
      dev: /^(typescript|@types\/node)@/,
    },
    {
      fixture: 'pnpm-dev-deps',
      install: ['pnpm', 'install', '--frozen-lockfile', '--prod'],
      tools: ['pnpm'],
      dev: /^(tsx|esbuild|@esbuild\/linux-x64|get-tsconfig)@/,
    },
    {
      // pnpm 12 is a native executable (its own @pnpm/exe package), and records the version
      // packageManager pins in the lockfile unless told not to.
      fixture: 'pnpm-dev-deps',
      pin: 'pnpm@12.26.0',
      install: ['pnpm', 'install', '--frozen-lockfile', '--prod'],
      tools: ['pnpm'],
      dev: /^(tsx|esbuild|@esbuild\/linux-x64|get-tsconfig)@/,
    },
    {
      fixture: 'yarn-classic-build',
      install: [
        'npx',
        '--yes',
        'yarn@1.22.22',
        'install',
        '--frozen-lockfile',
        '--production',
        '--ignore-engines',
      ],
      tools: [],
      dev: /^(is-odd|is-number)@/,
    },
  ];
  for (const f of FRESH) {
    const name = f.pin !== undefined ? `${f.fixture} (${f.pin})` : f.fixture;
    test(`${name}: the production node_modules are a fresh production install's, without a devDependency`, async (t) => {
      if (!(await ready(t))) return;
      const app = join(dir, f.pin !== undefined ? `${f.fixture}-${f.pin}` : f.fixture);
      await cp(join(FIXTURES, f.fixture), app, { recursive: true });
      if (f.pin !== undefined) {
        const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
        pkg.packageManager = f.pin;
        await writeFile(join(app, 'package.json'), JSON.stringify(pkg));
      }
      const r = await build(app, f.pin !== undefined ? `${f.fixture}-12` : f.fixture);
      assert.match(r.log, /prune: /);
      if (f.pin !== undefined) assert.match(r.log, new RegExp(`install: ${f.pin.replace('@', ' ')} install`));
      await answers(r.image, [{ what: 'the app', path: '/', status: 200, includes: `"app":"${f.fixture}"` }]);
      const fresh = join(dir, `${f.fixture}-fresh`);
      await cp(join(FIXTURES, f.fixture), fresh, { recursive: true });
      execFileSync(f.install[0]!, f.install.slice(1), {
        cwd: fresh,
        env: await hostEnv(undefined, f.tools),
        stdio: 'pipe',
      });
      const got = imagePackages(r.image);
      assert.deepEqual(got, hostPackages(fresh));
      assert.deepEqual(
        got.filter((p) => f.dev.test(p)),
        [],
      );
    });
  }

  test('a build script that takes 25 s: heartbeat lines without a terminal; --no-build skips it', async (t) => {
    if (!(await ready(t))) return;
    const app = join(dir, 'slow-build');
    await cp(join(FIXTURES, 'ts-build'), app, { recursive: true });
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
    pkg.scripts.build = `node -e "setTimeout(() => require('fs').writeFileSync('built.txt', 'x'), 25000)"`;
    pkg.scripts.start = 'node server.js';
    await writeFile(join(app, 'package.json'), JSON.stringify(pkg));
    await writeFile(
      join(app, 'server.js'),
      'require(\'http\').createServer((q, s) => s.end(\'{"app":"slow"}\')).listen(process.env.PORT);\n',
    );
    const slow = await build(app, 'slow-build');
    const beats = slow.log
      .split('\n')
      .filter((l) => /^distill: still running after \d+s: npm \S+ run build/.test(l));
    assert.ok(beats.length >= 2, slow.log);
    const skipped = await build(app, 'slow-build-skipped', ['--no-build']);
    assert.doesNotMatch(skipped.log, /build: npm|still running/);
    const has = (image: string) =>
      docker([
        'run',
        '--rm',
        '--network',
        'none',
        '--entrypoint',
        '/nodejs/bin/node',
        image,
        '-p',
        "require('fs').existsSync('/app/built.txt')",
      ]).trim();
    assert.equal(has(slow.image), 'true');
    assert.equal(has(skipped.image), 'false');
  });
});
