import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withTargetArchitectures } from '../../src/build/app/cross-pm.js';
import { isDistillError } from '../../src/errors.js';
import { planNative } from '../../src/plan/native-host.js';
import {
  berryConditions,
  berryNativePackages,
  pnpmBuildsOf,
  pnpmNativePackages,
  readYaml,
} from '../../src/plan/native-lockfiles.js';
import { tempDir } from '../helpers/components.js';

/**
 * Native routes from pnpm's and yarn berry's lockfiles (issue 20): the per-platform optional
 * packages a package takes for the target, the packages whose install scripts run, and the
 * settings file the install gets for the target and gives back unchanged.
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));
const text = (app: string, f: string) => readFileSync(join(FIXTURES, app, f), 'utf8');
const pnpm11 = pnpmBuildsOf('11.29.0', undefined, undefined);
const y = (t: string) => readYaml(t, 'f.yaml');

/** A yarn berry (v8 lockfile) yarn.lock of an app with sharp, shaped as yarn 4 writes it. */
const BERRY = `__metadata:
  version: 8
  cacheKey: 10c0

"@img/sharp-linux-arm64@npm:0.35.5":
  version: 0.35.5
  resolution: "@img/sharp-linux-arm64@npm:0.35.5"
  conditions: os=linux & cpu=arm64 & libc=glibc
  languageName: node
  linkType: hard

"@img/sharp-linux-x64@npm:0.35.5":
  version: 0.35.5
  resolution: "@img/sharp-linux-x64@npm:0.35.5"
  conditions: os=linux & cpu=x64 & libc=glibc
  languageName: node
  linkType: hard

"@img/sharp-linuxmusl-arm64@npm:0.35.5":
  version: 0.35.5
  resolution: "@img/sharp-linuxmusl-arm64@npm:0.35.5"
  conditions: os=linux & cpu=arm64 & libc=musl
  languageName: node
  linkType: hard

"detect-libc@npm:^2.1.2":
  version: 2.1.2
  resolution: "detect-libc@npm:2.1.2"
  languageName: node
  linkType: hard

"sharp@npm:^0.35.5":
  version: 0.35.5
  resolution: "sharp@npm:0.35.5"
  dependencies:
    "@img/sharp-linux-arm64": "npm:0.35.5"
    "@img/sharp-linux-x64": "npm:0.35.5"
    "@img/sharp-linuxmusl-arm64": "npm:0.35.5"
    detect-libc: "npm:^2.1.2"
  dependenciesMeta:
    "@img/sharp-linux-arm64":
      optional: true
    "@img/sharp-linux-x64":
      optional: true
    "@img/sharp-linuxmusl-arm64":
      optional: true
  checksum: 10c0/00
  languageName: node
  linkType: hard
`;

describe('native routes from pnpm and yarn berry lockfiles', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-native-lockfiles-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('pnpm v9: esbuild takes the target linux package, for arm64 and for amd64', async () => {
    const lock = await y(text('pnpm-esbuild', 'pnpm-lock.yaml'));
    const arm = pnpmNativePackages(lock, 'pnpm-lock.yaml', 'arm64', false, pnpm11);
    assert.deepEqual(arm.found, [
      {
        name: 'esbuild',
        version: '0.28.2',
        kind: 'target-packages',
        why: 'optional dependencies @esbuild/linux-arm64',
      },
    ]);
    assert.equal(arm.scriptsUnknown, undefined, 'pnpm 11 runs no script outside allowBuilds');
    const amd = pnpmNativePackages(lock, 'pnpm-lock.yaml', 'amd64', false, pnpm11);
    assert.equal(amd.found[0]!.why, 'optional dependencies @esbuild/linux-x64');
  });

  test('pnpm v9: devDependencies count with a build script; allowBuilds names what may compile', async () => {
    const lock = await y(text('pnpm-dev-deps', 'pnpm-lock.yaml'));
    const builds = pnpmBuildsOf('11.29.0', await y(text('pnpm-dev-deps', 'pnpm-workspace.yaml')), undefined);
    assert.deepEqual(builds.allowed, ['esbuild']);
    assert.deepEqual(pnpmNativePackages(lock, 'l', 'arm64', false, builds).found, []);
    const dev = pnpmNativePackages(lock, 'l', 'arm64', true, builds).found;
    // esbuild is allowed to build, but its binaries are per-platform packages: target-packages.
    assert.deepEqual(
      dev.filter((p) => p.name === 'esbuild').map((p) => [p.kind, p.why]),
      [['target-packages', 'optional dependencies @esbuild/linux-arm64']],
    );
    const compiles = pnpmNativePackages(
      lock,
      'l',
      'arm64',
      true,
      pnpmBuildsOf('11.29.0', await y('onlyBuiltDependencies: [picocolors]\n'), undefined),
    ).found;
    assert.deepEqual(
      compiles.filter((p) => p.kind === 'compile').map((p) => p.name),
      ['picocolors'],
    );
  });

  test('pnpm 9 without an allow-list runs every script, which lockfile v9 does not record', async () => {
    const lock = await y(text('pnpm-esbuild', 'pnpm-lock.yaml'));
    const r = pnpmNativePackages(
      lock,
      'pnpm-lock.yaml',
      'arm64',
      false,
      pnpmBuildsOf('9.15.0', undefined, undefined),
    );
    assert.match(r.scriptsUnknown ?? '', /pnpm-lock\.yaml \(lockfile v9\) does not record install scripts/);
    const all = pnpmBuildsOf('11.29.0', await y('dangerouslyAllowAllBuilds: true\n'), undefined);
    assert.match(
      pnpmNativePackages(lock, 'l', 'arm64', false, all).scriptsUnknown ?? '',
      /dangerouslyAllowAllBuilds/,
    );
  });

  test('pnpm v6 lockfiles: requiresBuild marks what compiles, top-level dependencies are the importer', async () => {
    const v6 = `lockfileVersion: '6.0'
dependencies:
  bcrypt:
    specifier: ^5.1.1
    version: 5.1.1
packages:
  /bcrypt@5.1.1:
    resolution: {integrity: sha512-x}
    requiresBuild: true
    dependencies:
      node-addon-api: 5.1.0
  /node-addon-api@5.1.0:
    resolution: {integrity: sha512-y}
`;
    const r = pnpmNativePackages(
      await y(v6),
      'l',
      'arm64',
      false,
      pnpmBuildsOf('8.15.0', undefined, undefined),
    );
    assert.deepEqual(r.found, [{ name: 'bcrypt', version: '5.1.1', kind: 'compile', why: 'install script' }]);
    assert.equal(r.scriptsUnknown, undefined);
  });

  test('yarn berry: conditions pick the target linux/glibc package; scripts are unknown', async () => {
    assert.deepEqual(berryConditions('os=linux & cpu=arm64 & libc=glibc'), {
      os: ['linux'],
      cpu: ['arm64'],
      libc: ['glibc'],
    });
    const r = berryNativePackages(await y(BERRY), 'yarn.lock', 'arm64');
    assert.deepEqual(r.found, [
      {
        name: 'sharp',
        version: '0.35.5',
        kind: 'target-packages',
        why: 'optional dependencies @img/sharp-linux-arm64',
      },
    ]);
    assert.match(r.scriptsUnknown ?? '', /yarn berry/);
    assert.match(berryNativePackages(await y(BERRY), 'yarn.lock', 'amd64').found[0]!.why, /sharp-linux-x64$/);
  });

  test('bad YAML is APP_INVALID naming the file', async () => {
    await assert.rejects(
      readYaml('a: [', '/app/pnpm-lock.yaml'),
      (e) => isDistillError(e) && e.code === 'APP_INVALID' && e.message.includes('/app/pnpm-lock.yaml'),
    );
  });

  test('planNative: pnpm routes; pnpm before 10 stops with CROSS_INSTALL_UNSUPPORTED; yarn 1 undecided', async () => {
    const none = { crossHost: { path: join(dir, 'no-bin'), binfmtDir: join(dir, 'not-mounted') } };
    const app = join(FIXTURES, 'pnpm-esbuild');
    const plan = await planNative(
      app,
      'pnpm-lock.yaml',
      ['amd64', 'arm64'],
      false,
      none,
      { name: 'pnpm', version: '11.29.0' },
      'amd64',
    );
    // esbuild needs nothing of the host: no toolchain and no emulation is no error.
    assert.deepEqual(plan.native, [
      {
        arch: 'arm64',
        packages: [
          {
            name: 'esbuild',
            version: '0.28.2',
            why: 'optional dependencies @esbuild/linux-arm64',
            route: 'target-packages',
          },
        ],
      },
    ]);
    await assert.rejects(
      planNative(
        app,
        'pnpm-lock.yaml',
        ['amd64', 'arm64'],
        false,
        none,
        { name: 'pnpm', version: '9.15.0' },
        'amd64',
      ),
      (e) =>
        isDistillError(e) &&
        e.code === 'CROSS_INSTALL_UNSUPPORTED' &&
        e.message.includes('esbuild 0.28.2 takes its binaries') &&
        e.message.includes('pnpm 9.15.0') &&
        e.message.includes('Nothing was installed'),
    );
    const yarn1 = await planNative(
      join(FIXTURES, 'yarn-app'),
      'yarn.lock',
      ['amd64', 'arm64'],
      false,
      none,
      { name: 'yarn-classic', version: '1.22.22' },
      'amd64',
    );
    assert.equal(yarn1.native?.[0]?.packages, 'undecided');
  });

  test('the settings file gets supportedArchitectures while the install runs, then is as it was', async () => {
    const ws = join(dir, 'ws');
    await rm(ws, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(ws);
    const mine = '# mine\npackages:\n  - "packages/*"\nallowBuilds:\n  esbuild: true\n';
    await writeFile(join(ws, 'pnpm-workspace.yaml'), mine);
    const seen = await withTargetArchitectures(ws, 'pnpm', 'arm64', () =>
      readFile(join(ws, 'pnpm-workspace.yaml'), 'utf8'),
    );
    const parsed = (await import('yaml')).parse(seen) as Record<string, unknown>;
    assert.deepEqual(parsed.supportedArchitectures, { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] });
    assert.deepEqual(parsed.packages, ['packages/*']);
    assert.equal(await readFile(join(ws, 'pnpm-workspace.yaml'), 'utf8'), mine);
    // None before: made for the install, gone after, also when the install fails.
    await assert.rejects(
      withTargetArchitectures(ws, 'yarn-berry', 'x64', async () => {
        assert.match(await readFile(join(ws, '.yarnrc.yml'), 'utf8'), /cpu:\s*\n?\s*- x64|cpu: \[ x64 \]/);
        throw new Error('install failed');
      }),
      /install failed/,
    );
    await assert.rejects(readFile(join(ws, '.yarnrc.yml')), { code: 'ENOENT' });
    // npm reads the environment; a host build changes nothing.
    assert.equal(await withTargetArchitectures(ws, 'npm', 'arm64', async () => 'ran'), 'ran');
    assert.equal(await withTargetArchitectures(ws, 'pnpm', undefined, async () => 'ran'), 'ran');
  });
});
