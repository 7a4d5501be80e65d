import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { abortError, checkAborted, DistillError } from '../../errors.js';
import { killProcessGroup } from '../../host.js';
import type { PackageManagerTool } from '../../sources/node/pm.js';
import { buildLogTails } from './install-failure.js';

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
}

export interface InstallSteps {
  /** Run `scripts[buildScript]` between a full install and pruning to production. */
  buildScript?: string;
  /** A workspace package to install and build (npm -w, pnpm --filter). */
  workspace?: string;
  /** npm_config_arch etc. for a foreign platform's optional packages. */
  targetArch?: 'x64' | 'arm64';
}

export interface StepReport {
  step(message: string): void;
  /** Output of the commands, as it comes (shown live with --verbose). */
  output?(chunk: string): void;
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
  const shim = async (name: string, script: string) => {
    const p = join(shims, name);
    await writeFile(p, `#!/bin/sh\nexec '${node}' '${script}' "$@"\n`);
    await chmod(p, 0o755);
  };
  const pmName = tc.pm.name === 'npm' ? 'npm' : tc.pm.name === 'pnpm' ? 'pnpm' : 'yarn';
  await shim(pmName, tc.pm.script);
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
  // npm warns about settings it does not know; pnpm's store is set only where pnpm reads it.
  if (tc.pm.name === 'pnpm') env.npm_config_store_dir = join(tc.cacheDir, 'pnpm-store');
  delete env.NODE_ENV;
  if (steps.targetArch !== undefined) {
    env.npm_config_arch = steps.targetArch;
    env.npm_config_cpu = steps.targetArch;
    env.npm_config_platform = 'linux';
    env.npm_config_os = 'linux';
    env.npm_config_libc = 'glibc';
  }
  return { env, node };
}

/** The commands, in order, for a package manager. */
export function installCommands(
  pm: PackageManagerTool['name'],
  steps: InstallSteps,
): { what: string; args: string[] }[] {
  const ws = steps.workspace;
  const build = steps.buildScript;
  switch (pm) {
    case 'npm': {
      const w = ws !== undefined ? ['--workspace', ws] : [];
      if (build === undefined) return [{ what: 'install', args: ['ci', '--omit=dev', ...w] }];
      return [
        { what: 'install', args: ['ci', '--include=dev', ...w] },
        { what: 'build', args: ['run', build, ...w] },
        { what: 'prune', args: ['prune', '--omit=dev', ...w] },
      ];
    }
    case 'pnpm': {
      const f = ws !== undefined ? ['--filter', `${ws}...`] : [];
      const prod = { what: 'install', args: ['install', '--frozen-lockfile', '--prod', ...f] };
      if (build === undefined) return [prod];
      return [
        { what: 'install', args: ['install', '--frozen-lockfile', ...f] },
        { what: 'build', args: ['run', ...(ws !== undefined ? ['--filter', ws] : []), build] },
        { what: 'prune', args: prod.args },
      ];
    }
    case 'yarn-classic': {
      const prod = {
        what: 'install',
        args: ['install', '--frozen-lockfile', '--production=true', '--non-interactive'],
      };
      if (build === undefined) return [prod];
      return [
        { what: 'install', args: ['install', '--frozen-lockfile', '--non-interactive'] },
        { what: 'build', args: ws !== undefined ? ['workspace', ws, 'run', build] : ['run', build] },
        { what: 'prune', args: prod.args },
      ];
    }
    case 'yarn-berry': {
      const prod = { what: 'install', args: ['workspaces', 'focus', '--all', '--production'] };
      if (build === undefined) return [prod];
      return [
        { what: 'install', args: ['install', '--immutable'] },
        { what: 'build', args: ws !== undefined ? ['workspace', ws, 'run', build] : ['run', build] },
        { what: 'prune', args: prod.args },
      ];
    }
  }
}

const OUT_OF_SYNC = [
  /can only install packages when your package\.json and package-lock\.json/,
  /ERR_PNPM_OUTDATED_LOCKFILE/,
  /Your lockfile needs to be updated/,
  /YN0028|lockfile would have been modified/,
];

function tail(text: string, lines = 40): string {
  // npm's warnings about settings it does not know (node-gyp's nodedir is one) are noise here.
  const all = text
    .trimEnd()
    .split('\n')
    .filter((l) => !/^npm warn Unknown (env|user|project) config/.test(l));
  return (all.length > lines ? ['...', ...all.slice(-lines)] : all).join('\n');
}

/**
 * Runs the install steps in `dir`. A failing command is APP_BUILD_FAILED (or APP_INVALID for a
 * lockfile out of sync) with the end of its output in the message.
 */
export async function runInstall(
  dir: string,
  tc: Toolchain,
  steps: InstallSteps,
  report: StepReport,
  baseEnv: NodeJS.ProcessEnv,
  lockfileName: string,
  signal?: AbortSignal,
): Promise<void> {
  const { env, node } = await builderEnv(tc, dir, steps, baseEnv);
  const pmLabel = `${tc.pm.name.replace(/-.*/, '')} ${tc.pm.version}`;
  for (const cmd of installCommands(tc.pm.name, steps)) {
    checkAborted(signal);
    report.step(`${cmd.what}: ${pmLabel} ${cmd.args.join(' ')}`);
    const { code, output, tarError } = await runCaptured(
      node,
      [tc.pm.script, ...cmd.args],
      { cwd: dir, env, ...(signal && { signal }) },
      report.output,
    );
    if (code === 0 && tarError !== undefined) {
      // npm warns about a file it could not unpack (a full disk, a permission) and still exits 0,
      // leaving a package with missing or empty files: that install cannot be layered.
      throw new DistillError(
        'APP_BUILD_FAILED',
        `${pmLabel} ${cmd.args.join(' ')} could not write every file of the packages it unpacked ("${tarError}"), yet exited 0; the install is incomplete, so nothing was built`,
      );
    }
    if (code === 0) continue;
    if (cmd.what !== 'build' && OUT_OF_SYNC.some((re) => re.test(output))) {
      throw new DistillError(
        'APP_INVALID',
        `${lockfileName} is out of sync with package.json (${pmLabel} refuses to install from it); run ${tc.pm.name.replace(/-.*/, '')} install, commit the updated ${lockfileName}, and build again`,
      );
    }
    if (cmd.what === 'build') {
      throw new DistillError(
        'APP_BUILD_FAILED',
        `the build script "${steps.buildScript}" failed (exit code ${code}); fix it (its output follows) or choose another with --build-script\n${tail(output)}${await buildLogTails(output)}`,
      );
    }
    throw new DistillError(
      'APP_BUILD_FAILED',
      `${pmLabel} ${cmd.args.join(' ')} failed (exit code ${code}); its output follows\n${tail(output)}${await buildLogTails(output)}`,
    );
  }
  // Not part of the app: gone before anything is layered.
  await rm(join(dir, SCRATCH_TMP), { recursive: true, force: true });
}

/**
 * Stops a command and everything it started: each command leads its own process group (it is
 * spawned detached), and the whole group is killed, as its scripts and compilers would otherwise
 * go on writing into the scratch copy. SIGKILL, not SIGTERM: npm answers SIGTERM by rolling back
 * what it installed, which took 2.3 s, for a copy that is removed anyway (decision 0005).
 */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  killProcessGroup(child.pid);
}

function runCaptured(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; signal?: AbortSignal },
  onOutput?: (chunk: string) => void,
): Promise<{ code: number; output: string; tarError?: string }> {
  return new Promise((resolve, reject) => {
    const { signal } = opts;
    // Its own process group, so that an interrupted build stops it and everything it started.
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const onAbort = () => killGroup(child);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Only the end is shown on failure; keep at most 1 MiB of it.
    let output = '';
    // The first line of npm's "warn tar TAR_ENTRY_ERROR", found wherever it is in the output.
    let tarError: string | undefined;
    const take = (b: Buffer) => {
      const s = b.toString('utf8');
      onOutput?.(s);
      const from = Math.max(0, output.length - 256);
      output += s;
      if (tarError === undefined) {
        const m = /[^\n]*TAR_ENTRY_ERROR[^\n]*(?=\n)/.exec(output.slice(from));
        if (m) tarError = m[0].trim();
      }
      if (output.length > 1 << 20) output = output.slice(-(1 << 19));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new DistillError('APP_BUILD_FAILED', `cannot run ${cmd}: ${err.message}`, { cause: err }));
    });
    // Stopped: done at 'exit', not 'close', as a grandchild holding the pipes would delay 'close'.
    child.on('exit', () => {
      if (signal?.aborted) reject(abortError(signal));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return reject(abortError(signal));
      resolve({
        code: code ?? (sig ? 128 : 1),
        output,
        ...(tarError !== undefined && { tarError }),
      });
    });
  });
}
