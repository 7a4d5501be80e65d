import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { crossEnv, crossInstall, packageManagerNode } from '../../src/build/app/cross.js';
import { archAdvice, packageOfPath } from '../../src/build/app/cross-advice.js';
import { builderEnv, type Toolchain } from '../../src/build/app/install.js';
import { checkNativeFiles } from '../../src/build/app/native.js';
import type { AppPlan } from '../../src/plan/app.js';
import type { PlannedNativePlatform } from '../../src/plan/native-routes.js';
import { requireComponents } from '../helpers/components.js';

/**
 * The foreign install's native part (src/build/app/cross.ts) and the native check's advice for a
 * file of the wrong architecture (cross-advice.ts), from plans whose routes are written out.
 */
const ARM64: PlannedNativePlatform = {
  arch: 'arm64',
  crossToolchain: '/usr/bin/aarch64-linux-gnu-',
  emulator: '/proc/sys/fs/binfmt_misc/qemu-aarch64',
  emulatorLibs: '/usr/aarch64-linux-gnu',
  packages: [
    {
      name: 'better-sqlite3',
      version: '12.4.1',
      route: 'cross-compiled',
      why: 'install script',
      scriptsEmulated: true,
    },
    {
      name: 'sharp',
      version: '0.35.5',
      route: 'target-packages',
      why: 'optional dependencies @img/sharp-linux-arm64',
    },
    { name: '@scope/emu', version: '1.0.0', route: 'emulated', why: 'install script' },
  ],
};
const planWith = (native?: PlannedNativePlatform[]) =>
  ({ install: { lockfile: 'package-lock.json' }, ...(native && { native }) }) as unknown as AppPlan;

test('the cross install: toolchain as CC/CXX/AR/LINK, target headers, target Node first on PATH', async (t) => {
  assert.equal(crossInstall(planWith(), 'arm64'), undefined);
  assert.equal(crossInstall(planWith([ARM64]), 'amd64'), undefined);
  // A pure-JavaScript app: nothing changes for the foreign install.
  assert.equal(crossInstall(planWith([{ ...ARM64, packages: [] }]), 'arm64'), undefined);
  // ...unless the lockfile cannot say which packages run scripts (yarn berry): they may compile.
  const unknown = { ...ARM64, packages: [], scriptsUnknown: 'yarn.lock (yarn berry) does not record it' };
  assert.equal(crossInstall(planWith([unknown]), 'arm64')?.toolchain, '/usr/bin/aarch64-linux-gnu-');
  const cross = crossInstall(planWith([ARM64]), 'arm64');
  assert.deepEqual(cross, {
    toolchain: '/usr/bin/aarch64-linux-gnu-',
    emulated: true,
    libs: '/usr/aarch64-linux-gnu',
  });
  const env: NodeJS.ProcessEnv = { PATH: '/host/node/bin:/usr/bin' };
  crossEnv(cross!, '/cache/toolchains/node-24-arm64', env);
  assert.equal(env.CC, '/usr/bin/aarch64-linux-gnu-gcc');
  assert.equal(env.CXX, '/usr/bin/aarch64-linux-gnu-g++');
  assert.equal(env.AR, '/usr/bin/aarch64-linux-gnu-ar');
  assert.equal(env.LINK, '/usr/bin/aarch64-linux-gnu-g++');
  assert.equal(env.npm_config_nodedir, '/cache/toolchains/node-24-arm64');
  assert.equal(env.PATH, '/cache/toolchains/node-24-arm64/bin:/host/node/bin:/usr/bin');
  // qemu-user loads the target Node's libraries from the cross toolchain's root.
  assert.equal(env.QEMU_LD_PREFIX, '/usr/aarch64-linux-gnu');

  // Through builderEnv: the host's Node runs the package manager, the target's is first on PATH.
  const scratch = await mkdtemp(join(tmpdir(), 'distill-cross-'));
  t.after(() => rm(scratch, { recursive: true, force: true }));
  const tc = {
    nodeDir: '/host-node',
    targetNodeDir: '/target-node',
    pm: { name: 'npm', script: '/npm/bin/npm-cli.js', dir: '/npm', version: '11.0.0' },
    cacheDir: join(scratch, 'cache'),
  } as unknown as Toolchain;
  const steps = { targetArch: 'arm64' as const, cross: cross! };
  const { env: b, node } = await builderEnv(tc, scratch, steps, { PATH: '/usr/bin' });
  assert.equal(node, '/host-node/bin/node');
  assert.ok(b.PATH!.startsWith('/target-node/bin:/host-node/bin:'), b.PATH);
  assert.equal(b.npm_config_nodedir, '/target-node');
  assert.equal(b.npm_config_cpu, 'arm64');
  assert.equal(b.CC, '/usr/bin/aarch64-linux-gnu-gcc');
  // The host's own architecture: no cross settings at all.
  const { env: h } = await builderEnv(tc, scratch, {}, { PATH: '/usr/bin' });
  assert.equal(h.npm_config_nodedir, '/host-node');
  assert.equal(h.CC, undefined);
  assert.ok(h.PATH!.startsWith('/host-node/bin:'), h.PATH);
});

test('yarn 1 with emulation: the package manager itself runs on the target Node', async (t) => {
  const yarn1: PlannedNativePlatform = {
    arch: 'arm64',
    crossToolchain: '/usr/bin/aarch64-linux-gnu-',
    emulator: '/proc/sys/fs/binfmt_misc/qemu-aarch64',
    emulatorLibs: '/usr/aarch64-linux-gnu',
    packages: 'undecided',
    installEmulated: true,
  };
  const cross = crossInstall(planWith([yarn1]), 'arm64')!;
  assert.equal(cross.pmOnTarget, true);
  assert.equal(packageManagerNode(cross, '/target-node', '/host-node/bin/node'), '/target-node/bin/node');
  // Every other install keeps the host's Node for the package manager.
  const npmCross = crossInstall(planWith([ARM64]), 'arm64');
  assert.equal(packageManagerNode(npmCross, '/target-node', '/host-node/bin/node'), '/host-node/bin/node');
  assert.equal(packageManagerNode(undefined, undefined, '/host-node/bin/node'), '/host-node/bin/node');
  // A script's nested `yarn` runs where the install's does.
  const scratch = await mkdtemp(join(tmpdir(), 'distill-cross-yarn1-'));
  t.after(() => rm(scratch, { recursive: true, force: true }));
  const tc = {
    nodeDir: '/host-node',
    targetNodeDir: '/target-node',
    pm: { name: 'yarn-classic', script: '/yarn/bin/yarn.js', dir: '/yarn', version: '1.22.22' },
    cacheDir: join(scratch, 'cache'),
  } as unknown as Toolchain;
  await builderEnv(tc, scratch, { targetArch: 'arm64', cross }, { PATH: '/usr/bin' });
  assert.match(
    await readFile(join(scratch, '.distill-bin', 'yarn'), 'utf8'),
    /exec '\/target-node\/bin\/node' '\/yarn\/bin\/yarn\.js'/,
  );
  // The advice then says yarn 1 ran emulated; without emulation, that emulation is the way.
  const advise = archAdvice(planWith([yarn1]), 'arm64')!;
  assert.match(
    advise('app/node_modules/x/y.node', 'amd64'),
    /although yarn 1 ran on the arm64 Node under qemu-user/,
  );
  const bare = archAdvice(planWith([{ arch: 'arm64', packages: 'undecided' }]), 'arm64')!;
  assert.match(
    bare('app/node_modules/x/y.node', 'amd64'),
    /install qemu-user-static binfmt-support so that distill runs yarn 1/,
  );
});

test('the package a native file belongs to', () => {
  assert.equal(packageOfPath('app/node_modules/better-sqlite3/build/Release/x.node'), 'better-sqlite3');
  assert.equal(packageOfPath('app/node_modules/a/node_modules/@s/b/lib/x.node'), '@s/b');
  assert.equal(packageOfPath('app/lib/x.node'), undefined);
});

test('advice for a foreign-arch file names the package, its route and the fix', () => {
  assert.equal(archAdvice(planWith([ARM64]), 'amd64'), undefined);
  const advise = archAdvice(planWith([ARM64]), 'arm64')!;
  const cc = advise('app/node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'amd64');
  assert.match(
    cc,
    /^better-sqlite3 12\.4\.1 took the cross-compiled route \(node-gyp with \/usr\/bin\/aarch64-linux-gnu-gcc\)/,
  );
  assert.match(cc, /npm_config_build_from_source=true/);
  const emu = advise('app/node_modules/@scope/emu/x.node', 'amd64');
  assert.match(emu, /^@scope\/emu 1\.0\.0 took the emulated route/);
  assert.match(emu, /apt-get install crossbuild-essential-arm64/);
  const tp = advise('app/node_modules/sharp/x.node', 'amd64');
  assert.match(tp, /took the target-packages route/);
  assert.match(tp, /npm install --os=linux --cpu=arm64 --libc=glibc/);
  const none = advise('app/node_modules/prebuilt-only/bin/tool', 'amd64');
  assert.match(none, /^prebuilt-only ships this file prebuilt for amd64 and has no install step/);
  const undecided = archAdvice(planWith([{ arch: 'arm64', packages: 'undecided' }]), 'arm64')!;
  assert.match(
    undecided('app/node_modules/x/y.node', 'amd64'),
    /yarn 1 records neither per-platform packages/,
  );
  const unknown = archAdvice(
    planWith([
      {
        arch: 'arm64',
        packages: [],
        scriptsUnknown: 'yarn.lock (yarn berry) does not record which packages run build scripts',
      },
    ]),
    'arm64',
  )!;
  assert.match(
    unknown('app/node_modules/x/y.node', 'amd64'),
    /^x's install for linux\/arm64 left amd64 code \(yarn\.lock \(yarn berry\) does not record.*apt-get install crossbuild-essential-arm64/,
  );
});

test("the native check puts the route's advice in its problem", async (t) => {
  if (!requireComponents(t, 'gcc')) return;
  if (process.arch !== 'x64') return t.skip('gcc makes an amd64 file only on an amd64 host');
  const dir = await mkdtemp(join(tmpdir(), 'distill-cross-elf-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'a.c'), 'int a(void) { return 1; }\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', 'a.node', 'a.c'], { cwd: dir, stdio: 'pipe' });
  const bytes = await readFile(join(dir, 'a.node'));
  const path = 'app/node_modules/better-sqlite3/build/Release/better_sqlite3.node';
  const advice = archAdvice(planWith([ARM64]), 'arm64')!;
  const r = await checkNativeFiles(
    [{ path, size: bytes.length, read: async (o, l) => bytes.subarray(o, o + l) }],
    { arch: 'arm64', libraries: new Map(), skipLibraries: true, archAdvice: advice },
  );
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.kind, 'arch');
  assert.equal(
    r.problems[0]!.message,
    `${path} is built for amd64, but the image is linux/arm64; ${advice(path, 'amd64')}`,
  );
});
