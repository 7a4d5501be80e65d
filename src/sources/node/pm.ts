import { join } from 'node:path';
import { DistillError, wrapError } from '../../errors.js';
import { hostPlatform } from '../../host.js';
import { extractArchiveDir } from './archive.js';
import { downloadNpmTarball, type TarballRecord } from './download.js';
import { fetchNpmPackument, type NodeSourceOptions } from './remote.js';
import { nodeVersionSatisfies, parseExactVersion, pickNodeVersion, sortVersionsDesc } from './versions.js';

/**
 * The package managers `distill build` runs, as npm packages: fetched from the npm registry
 * (integrity verified like the Node runtime), extracted once into
 * `<store>/toolchains/<package>-<version>/` and run with the target Node. Nothing of the host's
 * npm, pnpm or yarn is used, so a build does not depend on what the machine has installed.
 */
export type PackageManagerName = 'npm' | 'pnpm' | 'yarn-classic' | 'yarn-berry';

interface ToolSpec {
  /** The npm package that ships it. */
  pkg: string;
  /** Its CLI script, relative to the package. */
  bin: string;
}

const TOOLS: Record<PackageManagerName, ToolSpec> = {
  npm: { pkg: 'npm', bin: 'bin/npm-cli.js' },
  pnpm: { pkg: 'pnpm', bin: 'bin/pnpm.cjs' },
  'yarn-classic': { pkg: 'yarn', bin: 'bin/yarn.js' },
  'yarn-berry': { pkg: '@yarnpkg/cli-dist', bin: 'bin/yarn.js' },
};

export interface PackageManagerTool {
  name: PackageManagerName;
  version: string;
  /** Directory of the extracted package. */
  dir: string;
  /** Its CLI script: run as `<node> <script> ...`. */
  script: string;
  /** A native executable run as it is instead (pnpm 12 and later); `script` is that file too. */
  exec?: string;
}

/**
 * pnpm 12 ships as a native executable: the `pnpm` package holds a shell stub and a loader, and
 * the binary comes from the optional package `@pnpm/exe.<os>-<cpu>` of the machine. distill
 * fetches that package for the machine that runs the install (linux, glibc), verified by its
 * integrity like every other tarball.
 */
export function nativePnpm(name: PackageManagerName, version: string): string | undefined {
  if (name !== 'pnpm' || Number(version.split('.')[0]) < 12) return undefined;
  const cpu = hostPlatform().architecture === 'arm64' ? 'arm64' : 'x64';
  return `@pnpm/exe.linux-${cpu}`;
}

async function fetchNativePnpm(
  pkg: string,
  version: string,
  dir: string,
  opts: NodeSourceOptions,
): Promise<PackageManagerTool> {
  const exe = await extractArchiveDir(opts.store, dir, ['pnpm'], async () => {
    const pk = await fetchNpmPackument(pkg, opts);
    const entry = pk.versions.get(version);
    if (!entry) {
      throw new DistillError(
        'PACKAGE_MANAGER_UNKNOWN',
        `pnpm ${version} runs as a native executable from ${pkg}, which has no ${version} on the registry (${pk.url}); pin another pnpm in "packageManager"`,
      );
    }
    return downloadNpmTarball(pkg, entry, pk.url, opts);
  });
  const file = join(exe, 'pnpm');
  return { name: 'pnpm', version, dir: exe, script: file, exec: file };
}

/**
 * The exact version a spec means: an exact version as is, else the newest release (no
 * prerelease, not newer than the `latest` dist-tag) matching the spec whose own engines.node
 * accepts the Node version that will run it.
 */
export async function resolvePackageManager(
  name: PackageManagerName,
  spec: string,
  nodeVersion: string,
  opts: NodeSourceOptions,
): Promise<{ version: string; integrity?: string; record: () => Promise<TarballRecord> }> {
  const { pkg } = TOOLS[name];
  const pk = await fetchNpmPackument(pkg, opts);
  const latest = pk.distTags.latest;
  const candidates = [...pk.versions.values()].filter(
    (v) =>
      !v.version.includes('-') &&
      parseExactVersion(v.version) !== undefined &&
      (latest === undefined || sortVersionsDesc([v.version, latest])[0] === latest) &&
      (v.enginesNode === undefined || nodeVersionSatisfies(nodeVersion, v.enginesNode)),
  );
  let version: string;
  const exact = parseExactVersion(spec);
  if (exact && pk.versions.has(spec)) version = spec;
  else {
    try {
      version = pickNodeVersion(
        spec,
        candidates.map((v) => v.version),
        { source: `the ${pkg} releases on the npm registry that run on Node ${nodeVersion}` },
      );
    } catch (err) {
      throw new DistillError(
        'PACKAGE_MANAGER_UNKNOWN',
        `no ${pkg} release matches "${spec}" and runs on Node ${nodeVersion} (${pk.url}); set "packageManager" in package.json to a version that exists`,
        { cause: err },
      );
    }
  }
  const entry = pk.versions.get(version)!;
  return {
    version,
    // The registry's SRI of the tarball: what the provenance names the package manager by.
    ...(entry.dist.integrity !== undefined && { integrity: entry.dist.integrity }),
    record: () => downloadNpmTarball(pkg, entry, pk.url, opts),
  };
}

/** The package manager extracted and ready to run (downloaded on first use). */
export async function fetchPackageManager(
  name: PackageManagerName,
  spec: string,
  nodeVersion: string,
  opts: NodeSourceOptions,
): Promise<PackageManagerTool> {
  const { pkg, bin } = TOOLS[name];
  try {
    // An exact version already extracted needs no registry round trip.
    const exact = parseExactVersion(spec) ? spec : undefined;
    const dirFor = (v: string, p = pkg) => join(opts.store.root, 'toolchains', `${p.replace('/', '+')}-${v}`);
    const native = (v: string) => nativePnpm(name, v);
    if (exact && native(exact) !== undefined) {
      return await fetchNativePnpm(native(exact)!, exact, dirFor(exact, native(exact)), opts);
    }
    if (exact) {
      const dir = await extractArchiveDir(opts.store, dirFor(exact), [bin], async () => {
        const r = await resolvePackageManager(name, exact, nodeVersion, opts);
        return r.record();
      });
      return { name, version: exact, dir, script: join(dir, bin) };
    }
    const r = await resolvePackageManager(name, spec, nodeVersion, opts);
    const exe = native(r.version);
    if (exe !== undefined) return await fetchNativePnpm(exe, r.version, dirFor(r.version, exe), opts);
    const dir = await extractArchiveDir(opts.store, dirFor(r.version), [bin], r.record);
    return { name, version: r.version, dir, script: join(dir, bin) };
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, `getting ${pkg}@${spec}`);
  }
}
