import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distill, distillProcess } from '../helpers/cli.js';
import { freePort, requireComponents, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * `distill build` against the npm registry, Debian's archive and the real Docker engine: the
 * bundled example as the README runs it, then apps of the kinds people ship (a TypeScript build,
 * a native addon compiled from source, prebuilt platform packages, a pnpm workspace, a yarn app,
 * a start script that runs a dependency's bin), each loaded into Docker and asked over HTTP.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'fixtures', 'apps');
const TAG = `t${process.pid}`;

async function waitForHttp(url: string, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return await r.text();
      last = new Error(`HTTP ${r.status}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${String(last)}`);
}

describe('e2e: distill build with the npm registry, Debian and the Docker engine', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const images: string[] = [];
  const containers: string[] = [];
  before(async () => {
    dir = await tempDir('distill-build-e2e-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    for (const c of containers) {
      try {
        docker(['rm', '-f', c]);
      } catch {
        // gone
      }
    }
    removeImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  async function ready(t: Parameters<typeof requireComponents>[0]): Promise<boolean> {
    if (!requireComponents(t, 'docker')) return false;
    return requireNetwork(t, DEBIAN, NPM);
  }

  /** Builds a fixture into the engine, runs it with PORT set, and returns what GET path says. */
  async function buildAndAsk(
    app: string,
    extra: string[] = [],
    opts: { path?: string; port?: number } = {},
  ): Promise<{ body: string; image: string }> {
    const src = join(FIXTURES, app);
    const copy = join(dir, `app-${app}`);
    await cp(src, copy, { recursive: true });
    const image = `distill-e2e/${app}:${TAG}`;
    const r = await distill(['build', copy, '-q', '-o', `docker-daemon:${image}`, ...extra], env);
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    const port = opts.port ?? (await freePort());
    const cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, image]).trim();
    containers.push(cid);
    try {
      const body = await waitForHttp(`http://127.0.0.1:${port}${opts.path ?? '/'}`);
      return { body, image };
    } catch (err) {
      throw new Error(`${app}: ${(err as Error).message}\n${docker(['logs', cid])}`);
    } finally {
      docker(['rm', '-f', cid]);
    }
  }

  test("README's first command: examples/hello answers HTTP as 65532, has no shell and no npm", async (t) => {
    if (!(await ready(t))) return;
    const app = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
    // As a user runs it: the installed entry point, in a separate process.
    const r = distillProcess(['build', app], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /built sha256:[0-9a-f]{64} \(linux\/amd64\)/);
    assert.match(r.stdout, /-> oci:.*\.distill\/image:latest/);
    assert.match(r.stdout, /Load it into Docker: +distill copy oci:\S+ docker-daemon:hello:latest/);
    assert.ok(existsSync(join(app, '.distill', 'image', 'index.json')));

    const image = `distill-e2e/hello:${TAG}`;
    const c = distillProcess(
      ['copy', '-q', `oci:${join(app, '.distill', 'image')}:latest`, `docker-daemon:${image}`],
      env,
    );
    assert.equal(c.code, 0, c.stderr);
    images.push(image);
    const port = await freePort();
    const cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, image]).trim();
    containers.push(cid);
    const body = JSON.parse(await waitForHttp(`http://127.0.0.1:${port}/`)) as { hello: string; uid: number };
    assert.equal(body.hello, 'world');
    assert.equal(body.uid, 65532);
    assert.throws(() => docker(['exec', cid, '/bin/sh', '-c', 'true']));
    // Node itself checks where npm, npx, corepack or a shell could be.
    const probe = docker([
      'exec',
      cid,
      '/nodejs/bin/node',
      '-e',
      "const fs=require('fs');console.log(['/bin/sh','/usr/bin/sh','/bin/bash','/usr/bin/npm','/usr/local/bin/npm','/nodejs/bin/npm','/nodejs/lib/node_modules/npm','/usr/lib/node_modules/npm','/nodejs/bin/corepack'].filter(p=>fs.existsSync(p)).join(',')||'none')",
    ]).trim();
    assert.equal(probe, 'none');
    const inspect = JSON.parse(docker(['image', 'inspect', image]))[0].Config;
    assert.equal(inspect.User, '65532:65532');
    assert.deepEqual(inspect.Entrypoint, ['/usr/bin/tini', '-s', '--', '/nodejs/bin/node']);
    assert.deepEqual(inspect.Cmd, ['index.js']);
    assert.equal(inspect.WorkingDir, '/app');
    assert.ok(inspect.Env.includes('NODE_ENV=production'));
    assert.equal(inspect.Labels['org.opencontainers.image.version'], '1.0.0');
    docker(['rm', '-f', cid]);

    // A rebuild after a code change leaves one image in .distill/image, not two.
    const blobs = () => readdirSync(join(app, '.distill', 'image', 'blobs', 'sha256')).sort();
    const first = blobs();
    await appendFile(join(app, 'index.js'), '\n// changed\n');
    const again = distillProcess(['build', app], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /removed 3 blobs of earlier builds/);
    const second = blobs();
    assert.equal(second.length, first.length);
    assert.equal(
      second.filter((b) => !first.includes(b)).length,
      3,
      'manifest, config and app layer are new',
    );
  });

  test('by default tini is PID 1: docker stop ends an app that ignores SIGTERM by that signal; --no-init opts out', async (t) => {
    if (!(await ready(t))) return;
    const app = join(dir, 'hello-init');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    const image = `distill-e2e/hello-init:${TAG}`;
    const r = await distill(
      ['build', app, '-q', '--healthcheck', '/', '-p', '8080', '-o', `docker-daemon:${image}`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    const port = await freePort();
    const cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, image]).trim();
    containers.push(cid);
    const body = JSON.parse(await waitForHttp(`http://127.0.0.1:${port}/`)) as { pid: number };
    assert.notEqual(body.pid, 1, 'node is not PID 1 under tini');
    const cfg = JSON.parse(docker(['image', 'inspect', image]))[0].Config;
    assert.deepEqual(cfg.Entrypoint, ['/usr/bin/tini', '-s', '--', '/nodejs/bin/node']);
    assert.deepEqual(Object.keys(cfg.ExposedPorts), ['8080/tcp']);
    assert.equal(cfg.Healthcheck.Test[0], 'CMD');
    assert.equal(cfg.Healthcheck.Test[1], '/nodejs/bin/node');
    // The healthcheck runs the image's node, with the container's PORT.
    const health = docker(['exec', cid, ...cfg.Healthcheck.Test.slice(1)]);
    assert.equal(health, '');
    // examples/hello has no SIGTERM handler: tini passes the signal on and node dies of it
    // (143 = 128 + SIGTERM), where node as PID 1 would ignore it until docker's SIGKILL (137).
    const start = Date.now();
    docker(['stop', '-t', '30', cid]);
    t.diagnostic(`docker stop took ${Date.now() - start} ms`);
    const state = JSON.parse(docker(['inspect', cid]))[0].State;
    assert.equal(state.ExitCode, 143, JSON.stringify(state));
    assert.equal(state.OOMKilled, false);

    // --init is still accepted and means the default; --no-init leaves node as PID 1.
    const plans = await Promise.all(
      [['--init'], ['--no-init']].map((flag) => distill(['build', app, '--plan', ...flag], env)),
    );
    assert.deepEqual(JSON.parse(plans[0]!.stdout).entrypoint, cfg.Entrypoint);
    assert.deepEqual(JSON.parse(plans[1]!.stdout).entrypoint, ['/nodejs/bin/node']);
    const both = await distill(['build', app, '--init', '--no-init'], env);
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--init and --no-init contradict each other/);
    const bare = `distill-e2e/hello-no-init:${TAG}`;
    const n = await distill(['build', app, '-q', '--no-init', '-o', `docker-daemon:${bare}`], env);
    assert.equal(n.code, 0, n.stderr);
    images.push(bare);
    const pid1 = docker(['run', '-d', '--network', 'none', bare]).trim();
    containers.push(pid1);
    await new Promise((r) => setTimeout(r, 1000));
    docker(['stop', '-t', '1', pid1]);
    assert.equal(
      JSON.parse(docker(['inspect', pid1]))[0].State.ExitCode,
      137,
      'killed: PID 1 ignored SIGTERM',
    );
  });

  test('a TypeScript app with a build step', async (t) => {
    if (!(await ready(t))) return;
    const { body, image } = await buildAndAsk('ts-build');
    assert.deepEqual(JSON.parse(body), { app: 'ts-build', compiled: true });
    // The build ran in the builder step; devDependencies stayed out of the image.
    const ls = docker([
      'run',
      '--rm',
      '--network',
      'none',
      image,
      '-e',
      "const fs=require('fs');console.log(fs.existsSync('dist/server.js'),fs.existsSync('node_modules/typescript'))",
    ]).trim();
    assert.equal(ls, 'true false');
  });

  test('a native addon compiled from source against the image Node (better-sqlite3)', async (t) => {
    if (!(await ready(t))) return;
    if (!requireComponents(t, 'g++', 'make', 'python3')) return;
    const { body, image } = await buildAndAsk('native-sqlite');
    const answer = JSON.parse(body) as { app: string; sum: number; version: string; abi: string };
    assert.equal(answer.app, 'native-sqlite');
    assert.equal(answer.sum, 55);
    assert.match(answer.version, /^3\.\d+/);
    const abi = docker(['run', '--rm', '--network', 'none', image, '-p', 'process.versions.modules']).trim();
    assert.equal(answer.abi, abi);
  });

  test('prebuilt platform packages (sharp)', async (t) => {
    if (!(await ready(t))) return;
    const { body } = await buildAndAsk('sharp-app');
    assert.deepEqual(JSON.parse(body), { app: 'sharp-app', format: 'png', width: 4, height: 4 });
  });

  test('a pnpm workspace, one package of it with --workspace', async (t) => {
    if (!(await ready(t))) return;
    const { body, image } = await buildAndAsk('pnpm-ws', ['--workspace', '@pw/api']);
    const answer = JSON.parse(body) as { app: string; hello: string };
    assert.equal(answer.app, 'pnpm-ws');
    assert.equal(answer.hello, 'api');
    const cfg = JSON.parse(docker(['image', 'inspect', image]))[0].Config;
    assert.equal(cfg.WorkingDir, '/app/packages/api');
  });

  test('a yarn (classic) app, Node from .nvmrc', async (t) => {
    if (!(await ready(t))) return;
    const { body, image } = await buildAndAsk('yarn-app');
    assert.deepEqual(JSON.parse(body), { app: 'yarn-app' });
    const version = docker(['run', '--rm', '--network', 'none', image, '-p', 'process.versions.node']).trim();
    assert.match(version, /^26\./);
  });

  test("a start script that runs a dependency's bin (http-server)", async (t) => {
    if (!(await ready(t))) return;
    const { body, image } = await buildAndAsk('bin-app', [], { port: 18473, path: '/index.json' });
    assert.deepEqual(JSON.parse(body), { app: 'bin-app' });
    const cfg = JSON.parse(docker(['image', 'inspect', image]))[0].Config;
    assert.deepEqual(cfg.Cmd, [
      'node_modules/http-server/bin/http-server',
      'public',
      '-p',
      '18473',
      '--silent',
    ]);
  });

  test('--debug and --package extend the base; --base REF takes another image', async (t) => {
    if (!(await ready(t))) return;
    const app = join(dir, 'hello-extras');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    const image = `distill-e2e/hello-extras:${TAG}`;
    const r = await distill(
      ['build', app, '-q', '--debug', '--package', 'libpng16-16t64', '-o', `docker-daemon:${image}`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    const out = docker([
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      '/busybox/sh',
      image,
      '-c',
      'ls /usr/lib/*/libpng16.so.16 >/dev/null && echo png; test -d /app/node_modules/express && echo app',
    ]).trim();
    assert.equal(out, 'png\napp');

    // Any image as the OS base: here distill's own cc base, from an OCI layout.
    const baseLayout = join(dir, 'cc-base');
    // cc has what Node 24 links against; Node 26 also needs libatomic1, which cc lacks.
    const b = await distill(['base', 'cc', '--nonroot', '-q', '-o', `oci:${baseLayout}:cc`], env);
    assert.equal(b.code, 0, b.stderr);
    const onBase = `distill-e2e/hello-on-cc:${TAG}`;
    const c = await distill(
      ['build', app, '-q', '--node', '24', '--base', `oci:${baseLayout}:cc`, '-o', `docker-daemon:${onBase}`],
      env,
    );
    assert.equal(c.code, 0, c.stderr);
    images.push(onBase);
    const port = await freePort();
    const cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, onBase]).trim();
    containers.push(cid);
    assert.equal(
      (JSON.parse(await waitForHttp(`http://127.0.0.1:${port}/`)) as { hello: string }).hello,
      'world',
    );
    docker(['rm', '-f', cid]);
    const refused = await distill(['build', app, '--base', `oci:${baseLayout}:cc`, '--debug'], env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /with --base REF, use an image that already has them/);

    // A base distill did not make is read for its libraries and libc before anything installs:
    // Node 26 links libatomic, which cc lacks; a musl base cannot run the official Node at all.
    const never = join(dir, 'never-written');
    const n26 = await distill(
      ['build', app, '-q', '--node', '26', '--base', `oci:${baseLayout}:cc`, '-o', `oci:${never}:x`],
      env,
    );
    assert.equal(n26.code, 1, n26.stderr);
    assert.match(
      n26.stderr,
      /Node 26\.\d+\.\d+ would not run on oci:\S+: nodejs\/bin\/node needs libatomic\.so\.1, which the image lacks; use a base image that has it/,
    );
    const muslRoot = join(dir, 'musl-root');
    await mkdir(join(muslRoot, 'lib'), { recursive: true });
    await writeFile(join(muslRoot, 'lib', 'ld-musl-x86_64.so.1'), 'a stand-in for the musl loader');
    const muslImage = `distill-e2e/musl-like:${TAG}`;
    execFileSync('sh', ['-c', `tar -C ${muslRoot} -c . | /usr/bin/docker import - ${muslImage}`]);
    images.push(muslImage);
    const musl = await distill(
      ['build', app, '-q', '--node', '24', '--base', `docker-daemon:${muslImage}`, '-o', `oci:${never}:x`],
      env,
    );
    assert.equal(musl.code, 1, musl.stderr);
    assert.match(
      musl.stderr,
      /has musl as its libc .* the official Node binary needs glibc; use a glibc base/,
    );
    assert.ok(!existsSync(never), 'no output written');
  });

  test('--plan prints the resolved plan without building', async (t) => {
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const app = join(dir, 'hello-plan');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
    const r = await distill(['build', app, '--plan', '--node', '24'], env);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.match(plan.node.version, /^24\.\d+\.\d+$/);
    assert.equal(plan.node.from, '--node');
    assert.equal(plan.packageManager.name, 'npm');
    assert.deepEqual(plan.cmd.args, ['index.js']);
    // The base's lock, as the build takes it: libc6 among the locked packages.
    assert.ok(plan.base.lock.architectures.amd64.some((p: { name: string }) => p.name === 'libc6'));
    assert.equal(existsSync(join(app, '.distill')), false, 'nothing was built');
  });

  test('issue 15: .node-version 18.14.0 within engines >=18.0.0 plans Node 18.14.0 and says why', async (t) => {
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const app = join(dir, 'hello-pinned');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
    await writeFile(join(app, 'package.json'), JSON.stringify({ ...pkg, engines: { node: '>=18.0.0' } }));
    await writeFile(join(app, '.node-version'), '18.14.0\n');
    const r = await distill(['build', app, '--plan'], env);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.equal(plan.node.version, '18.14.0');
    assert.equal(plan.node.from, '.node-version');
    assert.deepEqual(
      plan.node.stated.map((s: { source: string; spec: string }) => `${s.source} ${s.spec}`),
      ['engines.node >=18.0.0', '.node-version 18.14.0'],
    );
    assert.ok(Number(plan.node.stated[0].alone.split('.')[0]) > 18, 'engines alone gives a newer line');
    assert.equal(plan.node.endOfLife.line, '18');
    // Both warnings on stderr, as the plan keeps them.
    const warned = r.stderr.split('\n').filter((l) => l.startsWith('distill: warning: '));
    assert.deepEqual(
      warned.map((l) => l.slice('distill: warning: '.length)),
      plan.node.warnings,
    );
    assert.match(r.stderr, /decided by \.node-version "18\.14\.0", the most specific/);
    assert.match(r.stderr, /Node 18\.14\.0 is past its end of life: the 18\.x line ended on 2025-04-30/);
  });
});

describe('e2e: distill build is reproducible and caches by layer', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-build-repro-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function layers(layout: string, tag: string): Promise<string[]> {
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const desc = index.manifests.find(
      (m: { annotations?: Record<string, string> }) =>
        m.annotations?.['org.opencontainers.image.ref.name'] === tag,
    );
    const manifest = JSON.parse(
      await readFile(join(layout, 'blobs', 'sha256', desc.digest.slice(7)), 'utf8'),
    );
    return manifest.layers.map((l: { digest: string }) => l.digest);
  }

  test('two builds from empty caches give the same digest; a code change moves only the app layer; a lockfile change only node_modules and app', async (t) => {
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const app = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
    const layout = join(dir, 'out');
    const epoch = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = await distill(['build', app, '-q', '--format', 'json', '-o', `oci:${layout}:a`], {
      ...epoch,
      DISTILL_CACHE: join(dir, 'cache-a'),
    });
    assert.equal(a.code, 0, a.stderr);
    const b = await distill(['build', app, '-q', '--format', 'json', '-o', `oci:${layout}:b`], {
      ...epoch,
      DISTILL_CACHE: join(dir, 'cache-b'),
    });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(a.stdout).digest, JSON.parse(b.stdout).digest);
    const first = await layers(layout, 'a');
    assert.equal(first.length, 5, 'OS, tini, Node, node_modules, app');

    await writeFile(join(app, 'index.js'), `${await readFile(join(app, 'index.js'), 'utf8')}// changed\n`);
    const c = await distill(['build', app, '-q', '-o', `oci:${layout}:c`], {
      ...epoch,
      DISTILL_CACHE: join(dir, 'cache-a'),
    });
    assert.equal(c.code, 0, c.stderr);
    const code = await layers(layout, 'c');
    assert.deepEqual(code.slice(0, 4), first.slice(0, 4));
    assert.notEqual(code[4], first[4]);

    // Another dependency: package.json and package-lock.json from the fixture that adds one.
    for (const f of ['package.json', 'package-lock.json']) {
      await cp(join(FIXTURES, 'hello-more-deps', f), join(app, f));
    }
    const d = await distill(['build', app, '-q', '-o', `oci:${layout}:d`], {
      ...epoch,
      DISTILL_CACHE: join(dir, 'cache-a'),
    });
    assert.equal(d.code, 0, d.stderr);
    const lock = await layers(layout, 'd');
    assert.deepEqual(lock.slice(0, 3), first.slice(0, 3));
    assert.notEqual(lock[3], first[3]);
    assert.notEqual(lock[4], code[4]);
    execFileSync('skopeo', ['inspect', `oci:${layout}:d`], { stdio: 'pipe' });
  });
});
