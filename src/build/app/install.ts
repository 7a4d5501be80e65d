import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { checkAborted, DistillError } from '../../errors.js';
import type { PackageManagerTool } from '../../sources/node/pm.js';
import { crossEnv, packageManagerNode } from './cross.js';
import { withTargetArchitectures } from './cross-pm.js';
import { buildLogTails } from './install-failure.js';
import { type InstallSteps, installCommands, type PmCommand } from './pmcommands.js';
import { type CommandProgress, NPM_NOISE, runCommand } from './run.js';

export type { InstallSteps } from './pmcommands.js';

/**
 * The builder step, without a container: the package manager runs in a scratch copy of the app
 * with the *target* Node first on PATH (so `node`, `npm`, `npx`, `pnpm` and `yarn` in scripts
 * are the image's), native addons compiled against that Node's own headers (npm_config_nodedir,
 * which node-gyp reads), and the package manager's download cache inside distill's cache.
 */
export interface Toolchain {
  /** An extracted Node release: bin/node and include/node. */
  nodeDir: string;
  pm: PackageManagerTool;
  /** Where the package manager keeps its downloads between builds. */
  cacheDir: string;
  /** A foreign platform's whole Node release (its headers, and its bin/node for emulated scripts). */
  targetNodeDir?: string;
}

export interface StepReport {
  step(message: string): void;
  /** Output of the commands, as it comes (shown live with --verbose). */
  output?(chunk: string): void;
  /** A heartbeat every second while a command runs: elapsed time and its last output line. */
  progress?(p: CommandProgress): void;
}

/** The install's temporary directory, inside the scratch copy; removed once the install is done. */
export const SCRATCH_TMP = '.distill-tmp';

/** Variables a parent npm or npx sets for its own scripts; they would steer ours. */
const PARENT_NPM =
  /^(npm_lifecycle_|npm_package_|npm_execpath$|npm_node_execpath$|npm_command$|npm_config_(local_prefix|prefix|global|user_agent|cache|argv)$|INIT_CWD$)/;

export async function builderEnv(
  tc: Toolchain,
  scratch: string,
  steps: InstallSteps,
  base: NodeJS.ProcessEnv,
) {
  const node = join(tc.nodeDir, 'bin', 'node');
  const shims = join(scratch, '.distill-bin');
  await mkdir(shims, { recursive: true });
  // The package managers' temporary files (yarn's yarn--*, berry's xfs-*, v8-compile-cache) go
  // into the scratch copy, not the machine's /tmp, where yarn leaves them behind.
  await mkdir(join(scratch, SCRATCH_TMP), { recursive: true });
  const shim = async (name: string, script: string, exe?: string, runner = node) => {
    const p = join(shims, name);
    await writeFile(
      p,
      `#!/bin/sh\nexec ${exe !== undefined ? `'${exe}'` : `'${runner}' '${script}'`} "$@"\n`,
    );
    await chmod(p, 0o755);
  };
  const pmName = tc.pm.name === 'npm' ? 'npm' : tc.pm.name === 'pnpm' ? 'pnpm' : 'yarn';
  // A script's nested yarn 1 runs where the install's does (packageManagerNode).
  await shim(pmName, tc.pm.script, tc.pm.exec, packageManagerNode(steps.cross, tc.targetNodeDir, node));
  if (tc.pm.name === 'npm') await shim('npx', join(tc.pm.dir, 'bin', 'npx-cli.js'));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!PARENT_NPM.test(k)) env[k] = v;
  Object.assign(env, {
    PATH: `${join(tc.nodeDir, 'bin')}:${shims}:${base.PATH ?? '/usr/bin:/bin'}`,
    TMPDIR: join(scratch, SCRATCH_TMP),
    CI: 'true',
    // node-gyp compiles with this many jobs (its default is one).
    JOBS: String(Math.max(1, availableParallelism())),
    npm_config_nodedir: tc.nodeDir,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_progress: 'false',
    npm_config_cache: join(tc.cacheDir, 'npm'),
    YARN_CACHE_FOLDER: join(tc.cacheDir, tc.pm.name === 'yarn-berry' ? 'yarn-berry' : 'yarn'),
    YARN_ENABLE_GLOBAL_CACHE: 'false',
    YARN_ENABLE_TELEMETRY: '0',
    YARN_NODE_LINKER: 'node-modules',
    YARN_ENABLE_IMMUTABLE_INSTALLS: 'true',
    COREPACK_ENABLE_STRICT: '0',
  });
  // npm warns about settings it does not know; pnpm's are set only where pnpm reads them.
  if (tc.pm.name === 'pnpm') {
    env.npm_config_store_dir = join(tc.cacheDir, 'pnpm-store');
    // distill runs the pnpm that packageManager pins, and a script's nested `pnpm` is this one:
    // pnpm must not switch to (11) or record (12: packageManagerDependencies in the lockfile,
    // which a frozen install then refuses to add) the pinned version itself. pnpm 12 reads its
    // settings from pnpm_config_* only.
    env.npm_config_manage_package_manager_versions = 'false';
    env.pnpm_config_pm_on_fail = 'ignore';
    env.pnpm_config_store_dir = env.npm_config_store_dir;
  }
  delete env.NODE_ENV;
  if (steps.targetArch !== undefined) {
    env.npm_config_arch = steps.targetArch;
    env.npm_config_cpu = steps.targetArch;
    env.npm_config_platform = 'linux';
    env.npm_config_os = 'linux';
    env.npm_config_libc = 'glibc';
    if (steps.cross !== undefined && tc.targetNodeDir !== undefined)
      crossEnv(steps.cross, tc.targetNodeDir, env);
  }
  return { env, node };
}

const OUT_OF_SYNC = [
  /can only install packages when your package\.json and package-lock\.json/,
  /ERR_PNPM_OUTDATED_LOCKFILE|ERR_PNPM_FROZEN_LOCKFILE_WITH_OUTDATED_LOCKFILE/,
  /Your lockfile needs to be updated/,
  /YN0028|lockfile would have been modified/,
];

function tail(text: string, lines = 40): string {
  // npm's warnings about settings it does not know (node-gyp's nodedir is one) are noise here.
  const all = text
    .trimEnd()
    .split('\n')
    .filter((l) => !NPM_NOISE.test(l));
  return (all.length > lines ? ['...', ...all.slice(-lines)] : all).join('\n');
}

/** A scratch copy ready for the package manager: its environment (builderEnv), and what messages name. */
export interface Builder {
  dir: string;
  tc: Toolchain;
  steps: InstallSteps;
  report: StepReport;
  env: NodeJS.ProcessEnv;
  /** The target Node's binary. */
  node: string;
  lockfileName: string;
  signal?: AbortSignal;
}

export async function makeBuilder(
  dir: string,
  tc: Toolchain,
  steps: InstallSteps,
  report: StepReport,
  baseEnv: NodeJS.ProcessEnv,
  lockfileName: string,
  signal?: AbortSignal,
): Promise<Builder> {
  const { env, node } = await builderEnv(tc, dir, steps, baseEnv);
  return { dir, tc, steps, report, env, node, lockfileName, ...(signal && { signal }) };
}

/** The error of a build script that exited `code`, with the end of its output. */
export async function buildScriptFailed(
  b: Builder,
  label: string,
  code: number,
  output: string,
): Promise<DistillError> {
  return new DistillError(
    'APP_BUILD_FAILED',
    `the build script "${b.steps.buildScript}" failed (exit code ${code}) in ${label}; fix it (its output follows), choose another with --build-script, or skip it with --no-build\n${tail(output)}${await buildLogTails(output)}`,
  );
}

/**
 * Runs the commands of `phases` (installCommands' order) in the builder's directory. A failing
 * command is APP_BUILD_FAILED (or APP_INVALID for a lockfile out of sync) with the end of its
 * output in the message.
 */
export async function runPhases(b: Builder, phases: readonly PmCommand['what'][]): Promise<void> {
  // pnpm and yarn berry take a foreign platform's optional packages from their settings file.
  await withTargetArchitectures(b.dir, b.tc.pm.name, b.steps.targetArch, () => runPhasesIn(b, phases));
}

async function runPhasesIn(b: Builder, phases: readonly PmCommand['what'][]): Promise<void> {
  const { tc, report, signal } = b;
  const pmLabel = `${tc.pm.name.replace(/-.*/, '')} ${tc.pm.version}`;
  // TMPDIR (see builderEnv): there while these commands run, gone before anything is kept or layered.
  const tmp = join(b.dir, SCRATCH_TMP);
  await mkdir(tmp, { recursive: true });
  for (const cmd of installCommands(tc.pm.name, b.steps)) {
    if (!phases.includes(cmd.what)) continue;
    checkAborted(signal);
    const label = `${pmLabel} ${cmd.args.join(' ')}`;
    report.step(`${cmd.what}: ${label}`);
    const [file, args] =
      tc.pm.exec !== undefined
        ? [tc.pm.exec, cmd.args]
        : [packageManagerNode(b.steps.cross, tc.targetNodeDir, b.node), [tc.pm.script, ...cmd.args]];
    const { code, output, tarError } = await runCommand(file, args, {
      cwd: b.dir,
      env: b.env,
      label,
      ...(signal && { signal }),
      ...(report.output && { onOutput: report.output }),
      ...(report.progress && { onProgress: report.progress }),
    });
    if (code === 0 && tarError !== undefined) {
      // npm warns about a file it could not unpack (a full disk, a permission) and still exits 0,
      // leaving a package with missing or empty files: that install cannot be layered.
      throw new DistillError(
        'APP_BUILD_FAILED',
        `${label} could not write every file of the packages it unpacked ("${tarError}"), yet exited 0; the install is incomplete, so nothing was built`,
      );
    }
    if (code === 0) continue;
    if (cmd.what !== 'build' && OUT_OF_SYNC.some((re) => re.test(output))) {
      throw new DistillError(
        'APP_INVALID',
        `${b.lockfileName} is out of sync with package.json (${pmLabel} refuses to install from it); run ${tc.pm.name.replace(/-.*/, '')} install, commit the updated ${b.lockfileName}, and build again`,
      );
    }
    if (cmd.what === 'build') throw await buildScriptFailed(b, label, code, output);
    throw new DistillError(
      'APP_BUILD_FAILED',
      `${label} failed (exit code ${code}); its output follows\n${tail(output)}${await buildLogTails(output)}`,
    );
  }
  await rm(tmp, { recursive: true, force: true });
}
