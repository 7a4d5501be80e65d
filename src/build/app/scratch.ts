import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { freemem, tmpdir } from 'node:os';
import { resolve } from 'node:path';

/**
 * Where a build's scratch copy of the app (and the node_modules the install writes there) lives.
 *
 * An install writes thousands of small files that live only until the layer is made. On a disk
 * filesystem each create and write is journaled: npm ci of the bench's medium app (4,177 files)
 * spent 4.3-5.5 s of system time with node_modules on ext4 against 1.2-1.6 s on tmpfs, and took
 * 5.3-6.8 s instead of 7.3-8.8 s (measured alternately on the same machine). So the scratch goes
 * to a RAM-backed filesystem when one is there with room to spare (in the filesystem, and in
 * memory, a container's limit included), and to the temporary directory on disk otherwise. An
 * install that runs out of space in RAM is run again on disk.
 *
 * DISTILL_SCRATCH names the directories to use instead, colon-separated, tried in that order.
 */
export interface ScratchRoot {
  /** The directory under which `distill-build/<key>` is made. */
  dir: string;
  /** RAM-backed (tmpfs): an install that runs out of space there is run again on the next root. */
  ram: boolean;
}

/** Free space a RAM-backed filesystem must have, and memory the machine must have available. */
export const RAM_MIN_FREE = 2 * 1024 ** 3;
export const RAM_MIN_AVAILABLE = 4 * 1024 ** 3;

export interface Mount {
  point: string;
  fstype: string;
  /** Per-mount options (rw, noexec, ...). */
  options: string[];
}

/** The mounts of /proc/self/mountinfo (proc(5)): "id parent dev root point options [tags] - type source super". */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    const point = fields[4];
    const options = fields[5];
    const fstype = fields[dash + 1];
    if (dash < 6 || point === undefined || options === undefined || fstype === undefined) continue;
    // Spaces, tabs, newlines and backslashes in mount points are octal escapes.
    const unescaped = point.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    mounts.push({ point: unescaped, fstype, options: options.split(',') });
  }
  return mounts;
}

/** The mount a path is on: the last-mounted one whose point is the longest prefix of the path. */
export function mountOf(path: string, mounts: Mount[]): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const inside = m.point === '/' || path === m.point || path.startsWith(`${m.point}/`);
    if (inside && (best === undefined || m.point.length >= best.point.length)) best = m;
  }
  return best;
}

/** Why a directory cannot take a RAM scratch, or undefined when it can. */
export function ramUnsuitable(
  mount: Mount | undefined,
  freeBytes: number,
  availableBytes: number,
): string | undefined {
  if (mount === undefined) return 'no mount found';
  if (mount.fstype !== 'tmpfs') return `${mount.fstype}, not tmpfs`;
  // Install scripts run binaries they unpack (esbuild, node-gyp's outputs).
  if (mount.options.includes('noexec')) return 'mounted noexec';
  if (mount.options.includes('ro')) return 'mounted read-only';
  if (freeBytes < RAM_MIN_FREE) return `${Math.floor(freeBytes / 2 ** 20)} MiB free`;
  if (availableBytes < RAM_MIN_AVAILABLE)
    return `${Math.floor(availableBytes / 2 ** 20)} MiB of memory available`;
  return undefined;
}

/**
 * Memory this process may still use: the machine's available memory, or less when a cgroup v2
 * limit (a container's, a CI job's) leaves less, since tmpfs pages are charged to the cgroup of
 * whoever writes them. Every level from the process's cgroup up to the root counts.
 */
export function availableMemory(read: (path: string) => string | undefined = readOrUndefined): number {
  let available = freemem();
  const self = read('/proc/self/cgroup')
    ?.split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);
  if (self === undefined) return available;
  let dir = self.replace(/\/+$/, '');
  for (;;) {
    const max = read(`/sys/fs/cgroup${dir}/memory.max`)?.trim();
    const current = read(`/sys/fs/cgroup${dir}/memory.current`)?.trim();
    if (max !== undefined && max !== 'max' && current !== undefined) {
      available = Math.min(available, Math.max(0, Number(max) - Number(current)));
    }
    if (dir === '') break;
    dir = dir.slice(0, dir.lastIndexOf('/'));
  }
  return available;
}

export function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The roots to try, in order: the temporary directory or /dev/shm when RAM-backed with room,
 * then one on disk.
 */
export async function scratchRoots(env: NodeJS.ProcessEnv): Promise<ScratchRoot[]> {
  const disk = tmpdir();
  // Without Linux's /proc there are no mounts to read: no RAM scratch unless named.
  const mounts = parseMountinfo(readOrUndefined('/proc/self/mountinfo') ?? '');
  const chosen = (env.DISTILL_SCRATCH ?? '').split(':').filter((d) => d !== '');
  if (chosen.length > 0) {
    // Named roots are used as given, in order; a tmpfs one passes a full install to the next.
    return chosen.map((d) => {
      const dir = resolve(d);
      return { dir, ram: mountOf(dir, mounts)?.fstype === 'tmpfs' };
    });
  }
  if (mounts.length === 0) return [{ dir: disk, ram: false }];
  const memory = availableMemory();
  for (const dir of [disk, '/dev/shm']) {
    const free = await statfs(dir).then(
      (s) => s.bavail * s.bsize,
      () => -1,
    );
    if (free < 0) continue;
    if (ramUnsuitable(mountOf(dir, mounts), free, memory) !== undefined) continue;
    // When the temporary directory itself is the RAM one, /var/tmp is on disk (FHS).
    return [
      { dir, ram: true },
      { dir: dir === disk ? '/var/tmp' : disk, ram: false },
    ];
  }
  return [{ dir: disk, ram: false }];
}

/** Whether a failure was a filesystem running out of space (an fs error, or a command's output). */
export function outOfSpace(err: unknown): boolean {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC') return true;
  const message = err instanceof Error ? err.message : String(err);
  return /ENOSPC|no space left on device/i.test(message);
}
