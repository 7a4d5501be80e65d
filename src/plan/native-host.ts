import { constants } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { DistillError } from '../errors.js';
import { hostEnv, hostPlatform } from '../host.js';
import { debianArch } from './base.js';
import {
  berryNativePackages,
  type NativeLockRead,
  pnpmBuildsOf,
  pnpmNativePackages,
  readYaml,
} from './native-lockfiles.js';
import {
  type NativeFound,
  nativePackagesOf,
  nativeRoutes,
  type PlannedNativePlatform,
} from './native-routes.js';

/**
 * What this host offers for building another architecture's native code (decision 0024): a
 * cross toolchain (`PREFIXgcc` and `PREFIXg++`, found on PATH or named by --cross-toolchain)
 * and a binfmt_misc registration that runs the target's ELF files (qemu-user-static). Both are
 * read at plan time; PATH and the binfmt_misc directory come from the request so that a test or
 * a user can show the build what a machine without them looks like.
 */
export interface CrossHostOptions {
  /** The PATH the toolchain is looked up on. */
  path: string;
  /** Where binfmt_misc is mounted (default /proc/sys/fs/binfmt_misc; DISTILL_BINFMT_DIR). */
  binfmtDir?: string;
  /** `--cross-toolchain PREFIX`: e.g. aarch64-linux-gnu- or /opt/cross/bin/aarch64-linux-gnu-. */
  crossToolchain?: string;
  /** Where the target's libraries are looked for (default /). */
  libRoot?: string;
}

export interface CrossHost {
  /** The prefix that was looked for. */
  wantedToolchain: string;
  /** The prefix found (absolute when it was not on PATH). */
  crossToolchain?: string;
  binfmtDir: string;
  /** The binfmt_misc entry that runs the target's ELF files (only with `emulatorLibs`). */
  emulator?: string;
  /** Where the target's dynamic loader and C library are: `/` (multiarch libc6:ARCH) or QEMU_LD_PREFIX. */
  emulatorLibs?: string;
  /** A binfmt_misc entry was found, but no C library of the target for it to load programs with. */
  emulatorWithoutLibs?: string;
}

export const DEFAULT_BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** GNU triplet prefixes of Debian's cross toolchains, and ELF e_machine of each architecture. */
const TRIPLET: Record<string, string> = { arm64: 'aarch64-linux-gnu-', amd64: 'x86_64-linux-gnu-' };
const E_MACHINE: Record<string, number> = { arm64: 0xb7, amd64: 0x3e };
/** The target's dynamic loader (what an emulated Node needs first), relative to a library root. */
const LOADER: Record<string, string> = {
  arm64: 'lib/ld-linux-aarch64.so.1',
  amd64: 'lib64/ld-linux-x86-64.so.2',
};

/**
 * Where qemu-user finds the target's libraries for a dynamically linked program (the official
 * Node is one): the host's own root when libc6:ARCH is installed (multiarch), else the cross
 * libraries Debian's crossbuild-essential-ARCH installs in /usr/TRIPLET (libc6-ARCH-cross,
 * libstdc++6-ARCH-cross), which qemu reads through QEMU_LD_PREFIX.
 */
async function findTargetLibs(arch: string, root: string): Promise<string | undefined> {
  const loader = LOADER[arch];
  const triplet = TRIPLET[arch]?.slice(0, -1);
  if (loader === undefined || triplet === undefined) return undefined;
  for (const dir of [root, join(root, 'usr', triplet)]) {
    if (await executable(join(dir, loader))) return dir;
  }
  return undefined;
}

async function executable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory on PATH (or the absolute prefix) where both PREFIXgcc and PREFIXg++ are. */
async function findToolchain(prefix: string, path: string): Promise<string | undefined> {
  const has = async (p: string) => (await executable(`${p}gcc`)) && (await executable(`${p}g++`));
  if (isAbsolute(prefix)) return (await has(prefix)) ? prefix : undefined;
  for (const dir of path.split(':').filter(Boolean)) {
    if (await has(join(dir, prefix))) return join(dir, prefix);
  }
  return undefined;
}

/**
 * The enabled binfmt_misc entry whose magic matches a 64-bit little-endian ELF executable of
 * `arch` (class 2 at byte 4, e_machine at byte 18), or undefined. The entries' format is the
 * kernel's Documentation/admin-guide/binfmt-misc.rst: lines `enabled`, `interpreter PATH`,
 * `magic HEX`.
 */
async function findEmulator(arch: string, dir: string): Promise<string | undefined> {
  const machine = E_MACHINE[arch];
  if (machine === undefined) return undefined;
  const status = await readFile(join(dir, 'status'), 'utf8').catch(() => 'disabled');
  if (status.trim() !== 'enabled') return undefined;
  const names = await readdir(dir).catch(() => [] as string[]);
  const want = machine.toString(16).padStart(2, '0');
  for (const name of names.filter((n) => n !== 'status' && n !== 'register').sort()) {
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    const lines = text.split('\n');
    if (lines[0] !== 'enabled') continue;
    const magic = lines.find((l) => l.startsWith('magic '))?.slice(6) ?? '';
    const offset = lines.find((l) => l.startsWith('offset '))?.slice(7) ?? '0';
    if (offset !== '0' || !magic.startsWith('7f454c46')) continue;
    if (magic.slice(8, 10) === '02' && magic.slice(36, 38) === want) return join(dir, name);
  }
  return undefined;
}

export async function probeCrossHost(arch: string, opts: CrossHostOptions): Promise<CrossHost> {
  const wanted = opts.crossToolchain ?? TRIPLET[arch] ?? `${arch}-linux-gnu-`;
  const binfmtDir = opts.binfmtDir ?? DEFAULT_BINFMT_DIR;
  const [toolchain, emulator, libs] = await Promise.all([
    findToolchain(wanted, opts.path),
    findEmulator(arch, binfmtDir),
    findTargetLibs(arch, opts.libRoot ?? '/'),
  ]);
  if (opts.crossToolchain !== undefined && toolchain === undefined) {
    throw new DistillError(
      'USAGE',
      `--cross-toolchain ${opts.crossToolchain}: there is no executable ${opts.crossToolchain}gcc and ${opts.crossToolchain}g++ ${isAbsolute(wanted) ? '' : 'on PATH '}; give the prefix of a cross compiler (e.g. aarch64-linux-gnu-, from crossbuild-essential-arm64)`,
    );
  }
  return {
    wantedToolchain: wanted,
    binfmtDir,
    ...(toolchain !== undefined && { crossToolchain: toolchain }),
    ...(emulator !== undefined && libs !== undefined && { emulator, emulatorLibs: libs }),
    ...(emulator !== undefined && libs === undefined && { emulatorWithoutLibs: emulator }),
  };
}

/** What planNative reads of the request (AppRequest's crossToolchain and crossHost). */
export interface NativeRequest {
  crossToolchain?: string;
  crossHost?: { path?: string; binfmtDir?: string };
}

/** The package manager that installs (the plan's packageManager). */
export interface NativePm {
  name: 'npm' | 'pnpm' | 'yarn-classic' | 'yarn-berry';
  version: string;
}

/** pnpm before 10 has no pnpm-workspace.yaml setting for another platform's optional packages. */
const PNPM_ARCH_MAJOR = 10;

type LockReader = (arch: string) => NativeLockRead | undefined;

/** How the lockfile's native packages are read for an architecture; undefined: they cannot be (yarn 1). */
async function lockReader(
  appDir: string,
  lockfile: string | undefined,
  withDev: boolean,
  pm: NativePm | undefined,
): Promise<LockReader> {
  if (lockfile === undefined) return () => undefined;
  const file = join(appDir, lockfile);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return () => undefined;
  if (lockfile === 'package-lock.json' || lockfile === 'npm-shrinkwrap.json') {
    return (arch) => ({ found: nativePackagesOf(text, file, arch, withDev) });
  }
  if (lockfile === 'pnpm-lock.yaml') {
    const lock = await readYaml(text, file);
    const wsFile = join(appDir, 'pnpm-workspace.yaml');
    const wsText = await readFile(wsFile, 'utf8').catch(() => undefined);
    const ws = wsText !== undefined ? await readYaml(wsText, wsFile) : undefined;
    const pkg = await readFile(join(appDir, 'package.json'), 'utf8')
      .then((t) => (JSON.parse(t) as { pnpm?: unknown }).pnpm)
      .catch(() => undefined);
    const builds = pnpmBuildsOf(pm?.version ?? '10.0.0', ws, pkg);
    return (arch) => pnpmNativePackages(lock, file, arch, withDev, builds);
  }
  if (lockfile === 'yarn.lock' && /^__metadata:/m.test(text)) {
    const lock = await readYaml(text, file);
    return (arch) => berryNativePackages(lock, file, arch);
  }
  return () => undefined;
}

/** pnpm before 10 would install the host's optional packages: stop before anything is installed. */
function checkPm(arch: string, pm: NativePm | undefined, found: NativeFound[]): void {
  if (pm?.name !== 'pnpm' || Number(pm.version.split('.')[0]) >= PNPM_ARCH_MAJOR) return;
  const target = found.filter((p) => p.kind === 'target-packages');
  if (target.length === 0) return;
  throw new DistillError(
    'CROSS_INSTALL_UNSUPPORTED',
    `linux/${arch}: ${target.map((p) => `${p.name} ${p.version}`).join(', ')} ${target.length === 1 ? 'takes its' : 'take their'} binaries from per-platform optional packages, and pnpm ${pm.version} installs only this machine's (supportedArchitectures in pnpm-workspace.yaml, which distill sets for the target, needs pnpm ${PNPM_ARCH_MAJOR} or later): pin "packageManager": "pnpm@${PNPM_ARCH_MAJOR}" or later in package.json, or build this platform on a linux/${arch} machine. Nothing was installed or written.`,
  );
}

/**
 * The native routes of every platform other than the host's (none for a host-only build, so its
 * plan is what it was). Routes come from package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml
 * or yarn berry's yarn.lock (native-lockfiles.ts); with yarn 1's they are `undecided` and the
 * native check after the install judges alone.
 */
export async function planNative(
  appDir: string,
  lockfile: string | undefined,
  archs: readonly string[],
  withDev: boolean,
  request: NativeRequest,
  pm?: NativePm,
  hostArch: string = debianArch(hostPlatform()),
): Promise<{ native?: PlannedNativePlatform[] }> {
  const foreign = archs.filter((a) => a !== hostArch);
  if (foreign.length === 0) return {};
  const opts: CrossHostOptions = {
    path: request.crossHost?.path ?? hostEnv().PATH ?? '',
    ...(request.crossHost?.binfmtDir !== undefined && { binfmtDir: request.crossHost.binfmtDir }),
    ...(request.crossToolchain !== undefined && { crossToolchain: request.crossToolchain }),
  };
  const read = await lockReader(appDir, lockfile, withDev, pm);
  const native: PlannedNativePlatform[] = [];
  for (const arch of foreign) {
    const host = await probeCrossHost(arch, opts);
    const facts = {
      arch,
      ...(host.crossToolchain !== undefined && { crossToolchain: host.crossToolchain }),
      ...(host.emulator !== undefined && { emulator: host.emulator, emulatorLibs: host.emulatorLibs! }),
    };
    const got = read(arch);
    if (got === undefined) {
      native.push({
        ...facts,
        packages: 'undecided',
        ...(host.emulator !== undefined && { installEmulated: true as const }),
      });
      continue;
    }
    checkPm(arch, pm, got.found);
    native.push({
      ...facts,
      packages: nativeRoutes(arch, host, got.found),
      ...(got.scriptsUnknown !== undefined && { scriptsUnknown: got.scriptsUnknown }),
    });
  }
  return { native };
}
