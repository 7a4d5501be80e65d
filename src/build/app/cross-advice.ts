import type { AppPlan } from '../../plan/app.js';
import { CROSS_PACKAGES, type PlannedNativePackage } from '../../plan/native-routes.js';
import { nativePlatform } from './cross.js';

/** The package a file in an install belongs to: the last node_modules/NAME (or @scope/NAME) of its path. */
export function packageOfPath(path: string): string | undefined {
  const i = path.lastIndexOf('node_modules/');
  if (i < 0) return undefined;
  const parts = path.slice(i + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : parts[0];
}

/**
 * What to say when a file of another architecture would land in a foreign platform's image
 * (issue 20, point 4): the package, the route the plan gave it (native-routes.ts) and what fixes
 * it. Undefined for the host's own platform, where the native check's general advice stands.
 */
export function archAdvice(
  plan: AppPlan,
  arch: string,
): ((path: string, built: string) => string) | undefined {
  const n = nativePlatform(plan, arch);
  if (n === undefined) return undefined;
  const debs = CROSS_PACKAGES[arch] ?? {
    toolchain: `crossbuild-essential-${arch}`,
    emulator: 'qemu-user-static',
  };
  const routes = n.packages === 'undecided' ? [] : n.packages;
  return (path, built) => {
    const name = packageOfPath(path);
    const p: PlannedNativePackage | undefined = routes.find((r) => r.name === name);
    const pkg = name ?? 'its package';
    if (n.packages === 'undecided' && n.installEmulated === true) {
      return `${pkg}'s install for linux/${arch} left ${built} code, although yarn 1 ran on the ${arch} Node under qemu-user (so it picked that machine's optional packages): ${n.crossToolchain === undefined ? `a compile from source used this machine's compiler; install the cross toolchain (apt-get install ${debs.toolchain}, or name one with --cross-toolchain PREFIX) and build again, or` : 'the package ships or downloads it for another machine;'} use a version of ${pkg} that ships linux/${arch} binaries, or build this platform on a linux/${arch} machine`;
    }
    if (n.packages === 'undecided') {
      return `${pkg}'s install for linux/${arch} left ${built} code (${plan.install.lockfile} of yarn 1 records neither per-platform packages nor install scripts, so distill could not plan a route, and yarn 1 picks optional packages for the machine it runs on); install ${debs.emulator} so that distill runs yarn 1 on the ${arch} Node under emulation, build it with npm, pnpm or yarn berry, or build on a linux/${arch} machine`;
    }
    if (p === undefined && n.scriptsUnknown !== undefined) {
      return `${pkg}'s install for linux/${arch} left ${built} code (${n.scriptsUnknown}, so its route was not planned); ${n.crossToolchain === undefined ? `install the cross toolchain (apt-get install ${debs.toolchain}) so that its compile makes linux/${arch} code, ` : ''}set npm_config_build_from_source=true if it downloads a prebuilt file, or build this platform on a linux/${arch} machine`;
    }
    if (p === undefined) {
      return `${pkg} ships this file prebuilt for ${built} and has no install step that could make one for linux/${arch}: use a version of ${pkg} that ships linux/${arch} binaries, or build this platform on a linux/${arch} machine`;
    }
    const which = `${pkg} ${p.version} took the ${p.route} route`;
    switch (p.route) {
      case 'target-packages':
        return `${which} (${p.why}), yet the install kept ${built} binaries: make sure the lockfile has the linux/${arch} packages (npm install --os=linux --cpu=${arch === 'amd64' ? 'x64' : arch} --libc=glibc adds them to package-lock.json) and build again`;
      case 'emulated':
        return `${which} (its install scripts ran on the ${arch} Node under qemu), but its compile used this machine's compiler: install the cross toolchain (apt-get install ${debs.toolchain}, or name one with --cross-toolchain PREFIX) and build again`;
      case 'cross-compiled':
        return `${which} (node-gyp with ${n.crossToolchain ?? 'the cross toolchain'}gcc), but this file was not made by that compile (the package ships or downloads it for ${built}); set npm_config_build_from_source=true for the build, or use a version of ${pkg} whose install builds through node-gyp`;
    }
  };
}
