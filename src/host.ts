/**
 * The one module outside cli/ that reads the process distill runs in (the architecture test
 * holds every other `process.*` to cli/): the host's operating system and architecture, this
 * process's pid, the Node.js version running it, and the environment and working directory that
 * library functions fall back to when their caller passes none. And the one thing the library
 * does to processes: stop the process group of a command it started itself. Everything else that
 * is process state (argv, exit status, stdout and stderr, signals, the umask) belongs to cli/.
 */
import { createRequire } from 'node:module';
import { normalizePlatform } from './oci/platform.js';
import type { Platform } from './oci/types.js';

const load = createRequire(import.meta.url);

/**
 * node:child_process, loaded on first use rather than with the bundle: with net and dgram it costs
 * about 5 ms, which a build that runs no command (a warm one outside a git checkout) need not pay.
 */
export function childProcess(): typeof import('node:child_process') {
  return load('node:child_process') as typeof import('node:child_process');
}

/** The platform this process runs on, in OCI terms (linux/amd64, linux/arm64/v8, ...). */
export function hostPlatform(): Platform {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  return normalizePlatform({
    os: process.platform === 'win32' ? 'windows' : process.platform,
    architecture: arch,
  });
}

export function hostPid(): number {
  return process.pid;
}

/** The version of the Node.js running distill, e.g. v20.20.2. */
export function runningNodeVersion(): string {
  return process.version;
}

/** The environment a library call reads when its caller gives none. */
export function hostEnv(): NodeJS.ProcessEnv {
  return process.env;
}

export function hostCwd(): string {
  return process.cwd();
}

/**
 * Kills the process group `pid` leads (a child spawned `detached`), with everything its commands
 * started; a group already gone is no error.
 */
export function killProcessGroup(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone already.
  }
}
