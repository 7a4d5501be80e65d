import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDistillError } from '../../src/errors.js';
import type { Digest } from '../../src/oci/digest.js';
import { type AppPlanSources, type AppRequest, planApp } from '../../src/plan/app.js';
import type { BaseConfig } from '../../src/plan/base.js';
import { planBase } from '../../src/plan/base-plan.js';
import type { Lockfile } from '../../src/plan/lockfile.js';
import { tempDir } from '../helpers/components.js';

/**
 * planApp on the apps of test/fixtures/apps, with sources that answer from memory: what it
 * decides, where each decision comes from (the `from` fields), and that the plan is plain data
 * (what `--plan` prints is what the build reads).
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/apps', import.meta.url));
const DIGEST = `sha256:${'a'.repeat(64)}` as Digest;

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
    resolveNode: async (spec, archs, describe) => {
      asked.push(`node ${spec} ${archs.join(',')}: ${describe}`);
      return `${spec.replace(/\D.*$/, '') || '24'}.1.0`;
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
    assert.deepEqual(p.node, { version: '26.1.0', spec: '26', from: 'engines.node in package.json' });
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
    assert.deepEqual(p.entrypoint, ['/nodejs/bin/node']);
    assert.equal(p.user, '65532:65532');
    assert.ok(p.env.includes('NODE_VERSION=26.1.0') && p.env.includes('NODE_ENV=production'));
    assert.deepEqual(sources.asked, [
      'node 26 x64: the Node.js releases published for linux/amd64 (engines.node in package.json asks for "26")',
      'pm npm 11 26.1.0',
      'lock node-app  amd64',
    ]);
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
    assert.deepEqual(p.node, { version: '26.1.0', spec: '26', from: '.nvmrc' });
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
    assert.deepEqual(p.entrypoint, ['/usr/bin/tini-static', '--', '/nodejs/bin/node']);
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
    assert.equal(onImage.layers[0]!.holds, 'the layers of oci:/srv/base:cc');
    assert.ok(!sources.asked.some((a) => a.startsWith('lock')), 'no Debian base is resolved');
    await assert.rejects(
      plan('hello-offline', { base: 'oci:/srv/base:cc', packages: ['x'] }),
      (e) =>
        isDistillError(e, 'USAGE') && /with --base REF, use an image that already has them/.test(e.message),
    );
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
