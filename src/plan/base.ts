import { type BinaryPackage, DependencyError, type PackageIndex, resolve } from '../debian/resolver.js';
import { compareVersions } from '../debian/version.js';
import { DistillError } from '../errors.js';
import { hostPlatform } from '../host.js';
import { formatPlatform, normalizePlatform } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import {
  LOCKFILE_VERSION,
  type LockedPackage,
  type LockedSuite,
  type Lockfile,
  type PackageRole,
} from './lockfile.js';
import { BUSYBOX_PACKAGE, CA_PACKAGE, type Variant, variantPackages, variantSpec } from './variants.js';

/**
 * `distill base` and `distill lock`, the planning half: a base config is resolved against the
 * sources it is given (an apt source, a Node version resolver) into a Lockfile, plain data
 * that the build reads and nothing else. Planning has no side effects besides those sources.
 */
export interface ExtraFile {
  /** Absolute path in the image. */
  path: string;
  /** Text content, or `from`: a file on the build host (relative to the config file). */
  content?: string;
  from?: string;
  mode?: number;
}

export interface BaseConfig {
  variant: Variant;
  suites: string[];
  /** Debian architectures: amd64, arm64. */
  archs: string[];
  nonroot: boolean;
  debug: boolean;
  /** Extra packages, `NAME` or `NAME=VERSION`, added with their dependencies. */
  packages: string[];
  env: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  workdir?: string;
  files: ExtraFile[];
  /** Node version spec for the nodejs variants (default: the variant's major, newest). */
  node?: string;
}

export const DEFAULT_SUITES = ['trixie', 'trixie-updates', 'trixie-security'];

export function defaultBaseConfig(variant: Variant): BaseConfig {
  return {
    variant,
    suites: [...DEFAULT_SUITES],
    archs: [debianArch(hostPlatform())],
    nonroot: false,
    debug: false,
    packages: [],
    env: {},
    files: [],
  };
}

const DEBIAN_ARCHS: Record<string, string> = {
  amd64: 'amd64',
  'arm64/v8': 'arm64',
  'arm/v7': 'armhf',
  '386': 'i386',
  ppc64le: 'ppc64el',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** OCI platform -> Debian architecture, the inverse of debianToOci (the host's: debianArch(hostPlatform())). */
export function debianArch(platform: Platform): string {
  const p = normalizePlatform(platform);
  const arch =
    p.os === 'linux' ? DEBIAN_ARCHS[[p.architecture, p.variant].filter(Boolean).join('/')] : undefined;
  if (arch === undefined) {
    throw new DistillError(
      'USAGE',
      `${formatPlatform(p)} is not a platform Debian publishes packages for; use linux/amd64 or linux/arm64`,
    );
  }
  return arch;
}

/** Debian architecture -> OCI platform. */
export function debianToOci(arch: string): { os: 'linux'; architecture: string; variant?: string } {
  switch (arch) {
    case 'amd64':
      return { os: 'linux', architecture: 'amd64' };
    case 'arm64':
      return { os: 'linux', architecture: 'arm64', variant: 'v8' };
    case 'armhf':
      return { os: 'linux', architecture: 'arm', variant: 'v7' };
    case 'i386':
      return { os: 'linux', architecture: '386' };
    case 'ppc64el':
      return { os: 'linux', architecture: 'ppc64le' };
    case 's390x':
    case 'riscv64':
      return { os: 'linux', architecture: arch };
    default:
      throw new DistillError('USAGE', `architecture "${arch}" is not one distill builds; use amd64 or arm64`);
  }
}

/** Debian architecture -> the Node binaries' name for it. */
export function debianToNodeArch(arch: string): 'x64' | 'arm64' {
  if (arch === 'amd64') return 'x64';
  if (arch === 'arm64') return 'arm64';
  throw new DistillError('USAGE', `Node.js binaries for ${arch} are not published; use amd64 or arm64`);
}

/** What planning needs from the outside world. */
export interface PlanSources {
  release(suite: string): Promise<{
    suite: string;
    codename: string;
    version?: string;
    date: string;
    mirror: string;
    /** SHA-256 of the InRelease whose signature was verified (kept in the lock for provenance). */
    inReleaseSha256?: string;
  }>;
  packages(suite: string, arch: string): Promise<PackageIndex>;
  /** Only the named packages' stanzas (much less memory than a whole index); optional. */
  packagesNamed?(suite: string, arch: string, names: ReadonlySet<string>): Promise<PackageIndex>;
  resolveNode(spec: string): Promise<string>;
}

function newest(indexes: readonly PackageIndex[], name: string, arch: string): BinaryPackage | undefined {
  let best: BinaryPackage | undefined;
  for (const index of indexes) {
    for (const p of index.packages) {
      if (p.name !== name || (p.architecture !== arch && p.architecture !== 'all')) continue;
      if (!best || compareVersions(p.version, best.version) > 0) best = p;
    }
  }
  return best;
}

function locked(p: BinaryPackage, role: PackageRole, reason?: string): LockedPackage {
  if (p.filename === undefined || p.sha256 === undefined || p.size === undefined) {
    throw new DistillError(
      'DEB822_INVALID',
      `${p.suite}: package ${p.name} ${p.version} has no Filename, SHA256 or Size in its index`,
    );
  }
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    size: p.size,
    sha256: p.sha256,
    filename: p.filename,
    suite: p.suite,
    role,
    ...(reason !== undefined && { reason }),
  };
}

/** Resolves a config into a lockfile: the newest version of every package across the suites. */
export async function lockBase(config: BaseConfig, sources: PlanSources): Promise<Lockfile> {
  const spec = variantSpec(config.variant);
  const suites: LockedSuite[] = [];
  const releases = await Promise.all(config.suites.map((s) => sources.release(s)));
  for (const [i, s] of config.suites.entries()) {
    const r = releases[i]!;
    suites.push({
      name: s,
      codename: r.codename,
      ...(r.version !== undefined && { version: r.version }),
      date: r.date,
      mirror: r.mirror,
      ...(r.inReleaseSha256 !== undefined && { inReleaseSha256: r.inReleaseSha256 }),
    });
  }
  const suiteNames = config.suites.join(', ');
  const architectures: Record<string, LockedPackage[]> = {};
  for (const arch of config.archs) {
    debianToOci(arch);
    const chosen = new Map<string, LockedPackage>();
    const fixed: [string, PackageRole][] = variantPackages(spec, suites[0]?.codename ?? '').map((n) => [
      n,
      'base',
    ]);
    fixed.push([CA_PACKAGE, 'ca']);
    if (config.debug) fixed.push([BUSYBOX_PACKAGE, 'debug']);
    // Hand-listed packages need only their own stanzas; resolving extras needs whole indexes.
    const names = new Set(fixed.map(([n]) => n));
    const indexes: PackageIndex[] = await Promise.all(
      config.suites.map((s) =>
        config.packages.length === 0 && sources.packagesNamed
          ? sources.packagesNamed(s, arch, names)
          : sources.packages(s, arch),
      ),
    );
    for (const [name, role] of fixed) {
      const p = newest(indexes, name, arch);
      if (!p) {
        throw new DependencyError([`${config.variant} (${arch})`, name], `none in ${suiteNames}`);
      }
      chosen.set(name, locked(p, role));
    }
    if (config.packages.length > 0) {
      const installed = [...chosen.values()].filter((p) => p.role === 'base').map((p) => p.name);
      const resolution = resolve({ indexes, arch, requests: config.packages, alreadyInstalled: installed });
      for (const r of resolution.packages) {
        chosen.set(r.name, locked(r.package, 'extra', r.reason));
      }
    }
    // Sorted by name, as the lockfile is written: a build from a fresh resolve and one from
    // the lockfile see the packages in the same order.
    architectures[arch] = [...chosen.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }
  const lock: Lockfile = {
    lockfileVersion: LOCKFILE_VERSION,
    request: { variant: config.variant, packages: [...config.packages], debug: config.debug },
    suites,
    architectures,
  };
  if (spec.nodeMajor !== undefined) {
    const version = await sources.resolveNode(config.node ?? String(spec.nodeMajor));
    if (Number(version.split('.')[0]) !== spec.nodeMajor && config.node === undefined) {
      throw new DistillError('INTERNAL', `resolved Node ${version} for ${config.variant}`, {
        userError: false,
      });
    }
    lock.node = { version };
  }
  return lock;
}

/** Checks that a lockfile was made for this request (variant, packages, debug). */
export function checkLockMatches(lock: Lockfile, config: BaseConfig, file: string): void {
  const want = { variant: config.variant, packages: [...config.packages].sort(), debug: config.debug };
  const have = { ...lock.request, packages: [...lock.request.packages].sort() };
  if (JSON.stringify(want) !== JSON.stringify(have)) {
    throw new DistillError(
      'LOCKFILE_INVALID',
      `${file} was made for ${describe(have)}, not ${describe(want)}; run distill lock with the same options`,
    );
  }
  for (const arch of config.archs) {
    if (!lock.architectures[arch]) {
      throw new DistillError(
        'LOCKFILE_INVALID',
        `${file} has no packages for ${arch} (it has ${Object.keys(lock.architectures).join(', ')}); run distill lock --arch ${config.archs.join(',')}`,
      );
    }
  }
}

function describe(r: { variant: string; packages: string[]; debug: boolean }): string {
  return `${r.variant}${r.debug ? ' --debug' : ''}${r.packages.map((p) => ` --package ${p}`).join('')}`;
}

export interface Outdated {
  arch: string;
  name: string;
  locked: string;
  available: string;
  suite: string;
}

/** Locked packages that have a newer version in the suites now (`distill lock --check`). */
export async function checkLock(
  lock: Lockfile,
  sources: Pick<PlanSources, 'packages' | 'packagesNamed'>,
): Promise<Outdated[]> {
  const out: Outdated[] = [];
  for (const [arch, pkgs] of Object.entries(lock.architectures)) {
    const names = new Set(pkgs.map((p) => p.name));
    const indexes: PackageIndex[] = [];
    for (const s of lock.suites) {
      indexes.push(
        sources.packagesNamed
          ? await sources.packagesNamed(s.name, arch, names)
          : await sources.packages(s.name, arch),
      );
    }
    for (const p of pkgs) {
      const now = newest(indexes, p.name, arch);
      if (now && compareVersions(now.version, p.version) > 0) {
        out.push({ arch, name: p.name, locked: p.version, available: now.version, suite: now.suite });
      }
    }
  }
  return out.sort((a, b) => (a.arch + a.name < b.arch + b.name ? -1 : 1));
}
