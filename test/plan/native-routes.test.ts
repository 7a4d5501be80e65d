import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDistillError } from '../../src/errors.js';
import { type AppPlanSources, planApp } from '../../src/plan/app.js';
import type { Lockfile } from '../../src/plan/lockfile.js';
import { planNative, probeCrossHost } from '../../src/plan/native-host.js';
import { nativePackagesOf, nativeRoutes } from '../../src/plan/native-routes.js';
import { tempDir } from '../helpers/components.js';

/**
 * The native routes of a foreign platform (decision 0024): which packages of a package-lock.json
 * carry machine code and how, and what the host offers (a cross toolchain on PATH, a binfmt_misc
 * registration), read from directories shaped as the real ones are.
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));
const lock = (app: string) => readFileSync(join(FIXTURES, app, 'package-lock.json'), 'utf8');

/** Debian's qemu-user-static registration for aarch64, as /proc/sys/fs/binfmt_misc shows it. */
const QEMU_AARCH64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;
const QEMU_X86_64 = QEMU_AARCH64.replace('aarch64', 'x86_64').replace('0200b700', '02003e00');

describe('native routes for a foreign platform', () => {
  let dir = '';
  let bin = '';
  before(async () => {
    dir = await tempDir('distill-native-routes-');
    bin = join(dir, 'bin');
    await mkdir(bin);
    for (const tool of ['aarch64-linux-gnu-gcc', 'aarch64-linux-gnu-g++']) {
      await writeFile(join(bin, tool), '#!/bin/sh\nexit 0\n');
      await chmod(join(bin, tool), 0o755);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function binfmt(name: string, entries: Record<string, string>, status = 'enabled') {
    const d = join(dir, name);
    await mkdir(d);
    await writeFile(join(d, 'status'), `${status}\n`);
    await writeFile(join(d, 'register'), '');
    for (const [n, text] of Object.entries(entries)) await writeFile(join(d, n), text);
    return d;
  }

  test('better-sqlite3 compiles at install; sharp takes the target platform packages', () => {
    const sqlite = nativePackagesOf(lock('native-sqlite'), 'package-lock.json', 'arm64', false);
    assert.deepEqual(
      sqlite.map((p) => [p.name, p.kind]),
      [['better-sqlite3', 'compile']],
    );
    const sharpArm = nativePackagesOf(lock('sharp-app'), 'package-lock.json', 'arm64', false);
    assert.equal(sharpArm.length, 1);
    assert.equal(sharpArm[0]!.kind, 'target-packages');
    assert.equal(
      sharpArm[0]!.why,
      'optional dependencies @img/sharp-libvips-linux-arm64, @img/sharp-linux-arm64',
    );
    const sharpAmd = nativePackagesOf(lock('sharp-app'), 'package-lock.json', 'amd64', false);
    assert.equal(
      sharpAmd[0]!.why,
      'optional dependencies @img/sharp-libvips-linux-x64, @img/sharp-linux-x64',
    );
  });

  test('a package with no binary package for the target falls back to its install script', () => {
    const text = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'x' },
        'node_modules/a': {
          version: '1.0.0',
          hasInstallScript: true,
          optionalDependencies: { 'a-win': '1.0.0' },
        },
        'node_modules/a-win': { version: '1.0.0', optional: true, os: ['win32'], cpu: ['x64'] },
        'node_modules/devtool': { version: '2.0.0', dev: true, hasInstallScript: true },
      },
    });
    assert.deepEqual(
      nativePackagesOf(text, 'package-lock.json', 'arm64', false).map((p) => [p.name, p.kind]),
      [['a', 'compile']],
    );
    // With a build script the devDependencies are installed too.
    assert.deepEqual(
      nativePackagesOf(text, 'package-lock.json', 'arm64', true).map((p) => p.name),
      ['a', 'devtool'],
    );
    assert.throws(
      () => nativePackagesOf('{', '/app/package-lock.json', 'arm64', false),
      (e) => isDistillError(e) && e.code === 'APP_INVALID' && e.message.includes('/app/package-lock.json'),
    );
  });

  test('the host: a cross toolchain on PATH and an enabled binfmt_misc registration', async () => {
    const enabled = await binfmt('binfmt-on', { 'qemu-aarch64': QEMU_AARCH64, 'qemu-x86_64': QEMU_X86_64 });
    // The target's loader where Debian's libc6-arm64-cross puts it, and amd64's as multiarch has it.
    const root = join(dir, 'root');
    for (const loader of ['usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1', 'lib64/ld-linux-x86-64.so.2']) {
      await mkdir(join(root, loader, '..'), { recursive: true });
      await writeFile(join(root, loader), '');
      await chmod(join(root, loader), 0o755);
    }
    const opts = { path: `/nonexistent:${bin}`, binfmtDir: enabled, libRoot: root };
    const host = await probeCrossHost('arm64', opts);
    assert.equal(host.crossToolchain, join(bin, 'aarch64-linux-gnu-'));
    assert.equal(host.emulator, join(enabled, 'qemu-aarch64'));
    assert.equal(host.emulatorLibs, join(root, 'usr', 'aarch64-linux-gnu'));
    // No toolchain for amd64 in bin; the x86_64 entry is found for amd64, its loader in the root.
    const amd = await probeCrossHost('amd64', { ...opts, path: bin });
    assert.equal(amd.crossToolchain, undefined);
    assert.equal(amd.emulator, join(enabled, 'qemu-x86_64'));
    assert.equal(amd.emulatorLibs, root);
    // A registration without the target's C library cannot run the target's Node: no emulation.
    const bare = await probeCrossHost('arm64', { ...opts, libRoot: join(dir, 'empty-root') });
    assert.equal(bare.emulator, undefined);
    assert.equal(bare.emulatorWithoutLibs, join(enabled, 'qemu-aarch64'));
    assert.throws(
      () =>
        nativeRoutes('arm64', { ...bare, crossToolchain: undefined } as typeof bare, [
          { name: 'addon', version: '1.0.0', kind: 'compile', why: 'install script' },
        ]),
      (e) =>
        isDistillError(e) &&
        e.code === 'CROSS_TOOLCHAIN_MISSING' &&
        e.message.includes('qemu-aarch64 is registered, but there is no arm64 C library'),
    );
  });

  test('a disabled entry, binfmt_misc disabled or not mounted: no emulation', async () => {
    const entryOff = await binfmt('entry-off', {
      'qemu-aarch64': QEMU_AARCH64.replace(/^enabled/, 'disabled'),
    });
    const allOff = await binfmt('all-off', { 'qemu-aarch64': QEMU_AARCH64 }, 'disabled');
    for (const d of [entryOff, allOff, join(dir, 'not-mounted')]) {
      const host = await probeCrossHost('arm64', { path: '', binfmtDir: d });
      assert.equal(host.emulator, undefined, d);
    }
  });

  test('--cross-toolchain names a prefix; one without gcc and g++ is a usage error', async () => {
    const host = await probeCrossHost('arm64', { path: '', crossToolchain: join(bin, 'aarch64-linux-gnu-') });
    assert.equal(host.crossToolchain, join(bin, 'aarch64-linux-gnu-'));
    await assert.rejects(
      probeCrossHost('arm64', { path: bin, crossToolchain: 'riscv64-linux-gnu-' }),
      (e) => isDistillError(e) && e.code === 'USAGE' && e.message.includes('riscv64-linux-gnu-gcc'),
    );
  });

  test('routes: cross-compiled (scripts emulated with qemu), emulated, target packages', () => {
    const native = [
      ...nativePackagesOf(lock('native-sqlite'), 'l', 'arm64', false),
      ...nativePackagesOf(lock('sharp-app'), 'l', 'arm64', false),
    ];
    const base = { wantedToolchain: 'aarch64-linux-gnu-', binfmtDir: '/b' };
    const both = nativeRoutes(
      'arm64',
      { ...base, crossToolchain: '/usr/bin/aarch64-linux-gnu-', emulator: '/b/q' },
      native,
    );
    assert.deepEqual(
      both.map((p) => [p.name, p.route, p.scriptsEmulated ?? false]),
      [
        ['better-sqlite3', 'cross-compiled', true],
        ['sharp', 'target-packages', false],
      ],
    );
    const emu = nativeRoutes('arm64', { ...base, emulator: '/b/q' }, native);
    assert.equal(emu[0]!.route, 'emulated');
    // sharp alone needs nothing of the host.
    const sharpOnly = nativeRoutes('arm64', base, native.slice(1));
    assert.equal(sharpOnly[0]!.route, 'target-packages');
  });

  test('no toolchain and no emulation: an error naming the packages and the Debian packages', () => {
    const native = nativePackagesOf(lock('native-sqlite'), 'l', 'arm64', false);
    assert.throws(
      () => nativeRoutes('arm64', { wantedToolchain: 'aarch64-linux-gnu-', binfmtDir: '/none' }, native),
      (e) =>
        isDistillError(e) &&
        e.code === 'CROSS_TOOLCHAIN_MISSING' &&
        /linux\/arm64: better-sqlite3 \d+\.\d+\.\d+ runs an install script/.test(e.message) &&
        e.message.includes('apt-get install crossbuild-essential-arm64') &&
        e.message.includes('qemu-user-static') &&
        e.message.includes('aarch64-linux-gnu-gcc') &&
        e.message.includes('/none'),
    );
  });

  test('planNative: nothing for a host-only build; undecided for another lockfile', async () => {
    const app = join(FIXTURES, 'native-sqlite');
    assert.deepEqual(
      await planNative(app, 'package-lock.json', ['amd64'], false, {}, undefined, 'amd64'),
      {},
    );
    const off = join(dir, 'not-mounted');
    const request = { crossHost: { path: bin, binfmtDir: off } };
    const plan = await planNative(
      app,
      'package-lock.json',
      ['amd64', 'arm64'],
      false,
      request,
      undefined,
      'amd64',
    );
    assert.deepEqual(plan.native, [
      {
        arch: 'arm64',
        crossToolchain: join(bin, 'aarch64-linux-gnu-'),
        packages: [
          {
            name: 'better-sqlite3',
            version: JSON.parse(lock('native-sqlite')).packages['node_modules/better-sqlite3'].version,
            why: 'install script',
            route: 'cross-compiled',
          },
        ],
      },
    ]);
    const pnpm = await planNative(
      app,
      'pnpm-lock.yaml',
      ['amd64', 'arm64'],
      false,
      request,
      undefined,
      'amd64',
    );
    assert.equal(pnpm.native?.[0]?.packages, 'undecided');
  });

  test('planApp stops with CROSS_TOOLCHAIN_MISSING; with a toolchain the plan has the routes', async (t) => {
    // The fake toolchain in bin is aarch64's: the foreign platform must be arm64.
    if (process.arch !== 'x64') return t.skip('an amd64 host plans arm64 as the foreign platform');
    const sources: AppPlanSources = {
      nodeReleases: async () => ({ versions: ['24.3.0'], ltsCodenames: [], source: 'memory' }),
      resolvePackageManager: async (_n, spec) => (/^\d+\.\d+\.\d+$/.test(spec) ? spec : `${spec}.0.0`),
      lockAppBase: async (config) =>
        ({
          lockfileVersion: 1,
          request: { variant: config.variant, packages: config.packages, debug: config.debug },
          suites: [],
          architectures: Object.fromEntries(config.archs.map((a) => [a, []])),
        }) as unknown as Lockfile,
      baseManifests: async () => ({}),
      appSecrets: async () => ({ secrets: { include: [], leftOut: [], kept: [] }, warnings: [] }),
    };
    const request = {
      dir: join(FIXTURES, 'native-sqlite'),
      platforms: ['linux/amd64', 'linux/arm64'],
      sourceDateEpoch: 0,
    };
    const none = { crossHost: { path: join(dir, 'no-bin'), binfmtDir: join(dir, 'not-mounted') } };
    await assert.rejects(
      planApp({ ...request, ...none }, sources),
      (e) =>
        isDistillError(e) && e.code === 'CROSS_TOOLCHAIN_MISSING' && e.message.includes('better-sqlite3'),
    );
    const plan = await planApp(
      { ...request, crossHost: { path: bin, binfmtDir: join(dir, 'not-mounted') } },
      sources,
    );
    assert.deepEqual(
      plan.native?.map((n) => [
        n.arch,
        n.crossToolchain,
        n.packages === 'undecided' ? n.packages : n.packages[0]?.route,
      ]),
      [['arm64', join(bin, 'aarch64-linux-gnu-'), 'cross-compiled']],
    );
    const single = await planApp({ ...request, platforms: ['linux/amd64'] }, sources);
    assert.equal('native' in single, false);
  });
});
