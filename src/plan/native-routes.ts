import { DistillError } from '../errors.js';
import type { CrossHost } from './native-host.js';

/**
 * How each native package of an app gets its machine code for a platform other than the host's
 * (decision 0024): read from package-lock.json at plan time, so that `--plan` shows it and a
 * build that cannot work stops before anything is installed or layered.
 *
 * - `target-packages`: the package takes its binaries from per-platform optional dependencies
 *   (sharp's @img/sharp-linux-arm64, @esbuild/linux-arm64, @node-rs/*); the install picks the
 *   target's (npm --cpu/--os/--libc). Needs nothing of the host.
 * - `cross-compiled`: an install script (node-gyp, a prebuild-install fallback, cmake-js) builds
 *   it; node-gyp runs for the target architecture against the target Node's headers with the
 *   cross toolchain as CC/CXX/AR/LINK. With a binfmt_misc registration for the target, the
 *   scripts also run on the target's Node under emulation (`scriptsEmulated`).
 * - `emulated`: no cross toolchain, but the host runs target code: install scripts run on the
 *   target Node under qemu-user (a postinstall that loads the addon, a prebuilt download that
 *   checks itself). A compile from source in this route makes host code, which the native check
 *   refuses, naming the cross toolchain to install.
 */
export type NativeRoute = 'target-packages' | 'cross-compiled' | 'emulated';

export interface PlannedNativePackage {
  /** Its path in the lockfile, e.g. node_modules/better-sqlite3. */
  name: string;
  version: string;
  route: NativeRoute;
  /** Why it is native: `install script` or the optional dependencies it takes binaries from. */
  why: string;
  /** `cross-compiled` with the scripts running on the target Node under emulation. */
  scriptsEmulated?: boolean;
}

/** One foreign platform's native packages and what the host offers for them. */
export interface PlannedNativePlatform {
  /** Debian architecture: arm64, amd64. */
  arch: string;
  /** The cross toolchain's prefix (aarch64-linux-gnu-) when found; absent: none. */
  crossToolchain?: string;
  /** The binfmt_misc entry that runs the target's ELF files (e.g. .../qemu-aarch64); absent: none. */
  emulator?: string;
  /** With `emulator`: the target's library root, `/` or what QEMU_LD_PREFIX is set to. */
  emulatorLibs?: string;
  /** Routes are read from the lockfile; `undecided`: yarn 1's, which records neither (the native check judges). */
  packages: PlannedNativePackage[] | 'undecided';
  /**
   * With `undecided` (yarn 1) and `emulator`: the package manager itself runs on the target's
   * Node under emulation, the one way yarn 1 picks another machine's optional packages (it
   * reads process.arch), its install scripts seeing the target too (decision 0041).
   */
  installEmulated?: true;
  /**
   * The lockfile does not say which packages run install scripts (yarn berry's; pnpm's v9 when
   * builds are not limited to an allow-list): why. Packages that compile are then not listed; the
   * install still gets the cross toolchain and target headers, and the native check judges.
   */
  scriptsUnknown?: string;
}

/** A native package found in a lockfile, before the host decides its route. */
export interface NativeFound {
  name: string;
  version: string;
  kind: 'target-packages' | 'compile';
  why: string;
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  hasInstallScript?: boolean;
  optionalDependencies?: Record<string, string>;
  cpu?: string[];
  os?: string[];
  libc?: string[];
}

/** Debian architecture -> Node's process.arch, as package.json `cpu` spells it. */
export const NODE_CPU: Record<string, string> = { amd64: 'x64', arm64: 'arm64' };

/** Debian packages that give the host what a route needs, per target architecture. */
export const CROSS_PACKAGES: Record<string, { toolchain: string; emulator: string }> = {
  arm64: { toolchain: 'crossbuild-essential-arm64', emulator: 'qemu-user-static binfmt-support' },
  amd64: { toolchain: 'crossbuild-essential-amd64', emulator: 'qemu-user-static binfmt-support' },
};

export function matches(list: string[] | undefined, value: string): boolean {
  if (list === undefined) return true;
  const neg = list.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
  if (neg.includes(value)) return false;
  const pos = list.filter((v) => !v.startsWith('!'));
  return pos.length === 0 || pos.includes(value);
}

/** Whether a lock entry is a per-platform binary package (it names a `cpu` or an `os`). */
const platformSpecific = (e: LockEntry | undefined) =>
  e !== undefined && (e.cpu !== undefined || e.os !== undefined);

/** The packages of a package-lock.json (v2/v3) that carry machine code, and how, for `arch`. */
export function nativePackagesOf(
  lockText: string,
  file: string,
  arch: string,
  withDev: boolean,
): NativeFound[] {
  let lock: { packages?: Record<string, LockEntry> };
  try {
    lock = JSON.parse(lockText) as typeof lock;
  } catch (err) {
    throw new DistillError('APP_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const pkgs = lock.packages ?? {};
  const cpu = NODE_CPU[arch] ?? arch;
  const out: NativeFound[] = [];
  for (const [path, e] of Object.entries(pkgs)) {
    if (path === '' || !path.includes('node_modules/') || (e.dev === true && !withDev)) continue;
    if (platformSpecific(e)) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const version = e.version ?? '?';
    const platformDeps = Object.keys(e.optionalDependencies ?? {}).filter((d) =>
      platformSpecific(pkgs[`node_modules/${d}`]),
    );
    if (platformDeps.length > 0) {
      const mine = platformDeps.filter((d) => {
        const dep = pkgs[`node_modules/${d}`]!;
        return matches(dep.os, 'linux') && matches(dep.cpu, cpu) && matches(dep.libc, 'glibc');
      });
      if (mine.length > 0) {
        out.push({ name, version, kind: 'target-packages', why: `optional dependencies ${mine.join(', ')}` });
        continue;
      }
    }
    if (e.hasInstallScript === true) out.push({ name, version, kind: 'compile', why: 'install script' });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Each native package's route for `arch` on this host; a package no route serves is an error. */
export function nativeRoutes(
  arch: string,
  host: CrossHost,
  native: readonly NativeFound[],
): PlannedNativePackage[] {
  const emulated = host.emulator !== undefined;
  const routes = native.map((p): PlannedNativePackage => {
    const base = { name: p.name, version: p.version, why: p.why };
    if (p.kind === 'target-packages') return { ...base, route: 'target-packages' };
    if (host.crossToolchain !== undefined) {
      return { ...base, route: 'cross-compiled', ...(emulated && { scriptsEmulated: true }) };
    }
    return { ...base, route: 'emulated' };
  });
  const stuck = native.filter((p) => p.kind === 'compile');
  if (stuck.length > 0 && host.crossToolchain === undefined && !emulated) {
    throw noRouteError(arch, host, stuck);
  }
  return routes;
}

function noRouteError(arch: string, host: CrossHost, stuck: { name: string; version: string }[]) {
  const pkgs = CROSS_PACKAGES[arch] ?? {
    toolchain: `crossbuild-essential-${arch}`,
    emulator: 'qemu-user-static binfmt-support',
  };
  const names = stuck.map((p) => `${p.name} ${p.version}`).join(', ');
  return new DistillError(
    'CROSS_TOOLCHAIN_MISSING',
    `linux/${arch}: ${names} ${stuck.length === 1 ? 'runs an install script that builds' : 'run install scripts that build'} native code, and this machine can neither cross-compile for ${arch} (no ${host.wantedToolchain}gcc and ${host.wantedToolchain}g++ on PATH; --cross-toolchain PREFIX names another) nor run ${arch} code (${host.emulatorWithoutLibs !== undefined ? `${host.emulatorWithoutLibs} is registered, but there is no ${arch} C library for it to load programs with` : `no enabled binfmt_misc registration for ${arch} in ${host.binfmtDir}`}). ` +
      `On Debian or Ubuntu: apt-get install ${pkgs.toolchain} (cross-compile) and ${pkgs.emulator} (run install scripts under emulation); on macOS or elsewhere, build this platform on a linux/${arch} machine. Nothing was installed or written.`,
  );
}
