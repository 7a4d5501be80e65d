import { join } from 'node:path';
import type { AppPlan } from '../../plan/app.js';
import type { PlannedNativePlatform } from '../../plan/native-routes.js';

/**
 * The foreign install's native part (decision 0024), from the plan's routes for one platform:
 * node-gyp builds for the target architecture against the target Node's headers
 * (npm_config_nodedir = the target's release, npm_config_arch) with the cross toolchain as
 * CC/CXX/AR/LINK; with a binfmt_misc registration, the target's Node is first on PATH, so an
 * install script's `node` (node-gyp's and prebuild-install's too) runs target code under
 * qemu-user while the package manager itself stays on the host's Node.
 */
export interface CrossInstall {
  /** The cross toolchain's prefix, e.g. /usr/bin/aarch64-linux-gnu-. */
  toolchain?: string;
  /** Install scripts run on the target's Node under emulation. */
  emulated: boolean;
  /** With `emulated`: QEMU_LD_PREFIX, where qemu-user finds the target's libraries (absent: /). */
  libs?: string;
  /** The package manager itself runs on the target's Node (yarn 1: the plan's `installEmulated`). */
  pmOnTarget?: true;
}

/** The plan's routes for `arch`, or undefined for the host's own architecture. */
export function nativePlatform(plan: AppPlan, arch: string): PlannedNativePlatform | undefined {
  return plan.native?.find((n) => n.arch === arch);
}

/** What the install for `arch` does differently; undefined when nothing is (host arch, no native packages). */
export function crossInstall(plan: AppPlan, arch: string): CrossInstall | undefined {
  const n = nativePlatform(plan, arch);
  // No native package: the install is what it was (no target headers to fetch, the same key),
  // unless the lockfile cannot say which packages run scripts (then they may compile).
  const none = Array.isArray(n?.packages) && n.packages.length === 0 && n.scriptsUnknown === undefined;
  if (n === undefined || none) return undefined;
  return {
    ...(n.crossToolchain !== undefined && { toolchain: n.crossToolchain }),
    emulated: n.emulator !== undefined,
    ...(n.emulator !== undefined &&
      n.emulatorLibs !== undefined &&
      n.emulatorLibs !== '/' && { libs: n.emulatorLibs }),
    ...(n.installEmulated === true && { pmOnTarget: true as const }),
  };
}

/** The Node that runs the package manager: the target's for `pmOnTarget`, else `hostNode`. */
export function packageManagerNode(
  cross: CrossInstall | undefined,
  targetNodeDir: string | undefined,
  hostNode: string,
): string {
  return cross?.pmOnTarget === true && targetNodeDir !== undefined
    ? join(targetNodeDir, 'bin', 'node')
    : hostNode;
}

/**
 * The builder environment's changes for a cross install: `targetNodeDir` is the target's whole
 * release (bin/node, include/node).
 */
export function crossEnv(cross: CrossInstall, targetNodeDir: string, env: NodeJS.ProcessEnv): void {
  env.npm_config_nodedir = targetNodeDir;
  if (cross.toolchain !== undefined) {
    const t = cross.toolchain;
    Object.assign(env, { CC: `${t}gcc`, CXX: `${t}g++`, AR: `${t}ar`, LINK: `${t}g++` });
    // cmake-js and autotools-style scripts read these too.
    Object.assign(env, { CC_target: `${t}gcc`, CXX_target: `${t}g++`, STRIP: `${t}strip` });
  }
  if (cross.emulated) env.PATH = `${join(targetNodeDir, 'bin')}:${env.PATH ?? ''}`;
  if (cross.emulated && cross.libs !== undefined) env.QEMU_LD_PREFIX = cross.libs;
}
