import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Where the kernel shows binfmt_misc registrations. */
export const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/**
 * Makes this machine run aarch64 ELF files through Debian's qemu-user-static: mounts binfmt_misc
 * when it is not (as systemd does at boot) and enables the qemu-aarch64 registration that
 * binfmt-support keeps (update-binfmts). Returns why it could not, or undefined when the entry is
 * enabled. Needs root, qemu-user-static and binfmt-support (.ci/run installs them).
 */
export function enableQemuAarch64(): string | undefined {
  try {
    if (!existsSync(`${BINFMT_DIR}/status`)) {
      execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR], { stdio: 'pipe' });
    }
    execFileSync('update-binfmts', ['--enable', 'qemu-aarch64'], { stdio: 'pipe' });
  } catch (err) {
    return `binfmt_misc for qemu-aarch64 could not be enabled: ${(err as Error).message}`;
  }
  const entry = `${BINFMT_DIR}/qemu-aarch64`;
  if (!existsSync(entry) || !readFileSync(entry, 'utf8').startsWith('enabled')) {
    return `${entry} is not enabled after update-binfmts --enable qemu-aarch64`;
  }
  return undefined;
}
