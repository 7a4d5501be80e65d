import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { hostPid } from '../host.js';

/**
 * Who owns a temporary file, so that the leftovers of a killed process (`kill -9`, a crash, a
 * power cut) can be swept later while the files of running processes are never touched.
 *
 * A temp name carries an owner token `<pid>-<start>-<boot>-<ctx>`: the pid, the process's start
 * time (field 22 of /proc/<pid>/stat, clock ticks since boot: a reused pid has another one), a
 * short hash of the boot id, and a short hash of the host name and pid namespace (pids mean the
 * same thing only within one of those). A token is "gone" when:
 * - it was made on this host and pid namespace in an earlier boot, or
 * - in this boot, no process has that pid, or the one that has it started at another time.
 * A token from another host, pid namespace (a container sharing the cache), or on a system
 * without /proc (or with hidepid) cannot be judged: such a temp is taken as abandoned only after
 * a day without a write.
 *
 * Linux only reads /proc here; nothing signals or inspects other processes beyond that.
 */
export interface Owner {
  pid: number;
  /** Start time in clock ticks since boot; undefined when unknown (no /proc, old names). */
  start?: string;
  boot?: string;
  ctx?: string;
}

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined when there is no such process. */
export function processStartTime(pid: number | 'self'): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 is the command name in parentheses and may itself hold spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return rest[19]; // fields 3.. are rest[0..]; field 22 is rest[19]
}

let self: { owner: Owner; token: string; procfs: boolean } | undefined;

function selfIdentity(): { owner: Owner; token: string; procfs: boolean } {
  if (self) return self;
  const start = processStartTime('self');
  // /proc mounted with hidepid hides other users' processes (pid 1 among them): then a missing
  // /proc/<pid> proves nothing, and no owner can be judged.
  const procfs = start !== undefined && processStartTime(1) !== undefined;
  let pidNs = 'none';
  try {
    pidNs = readlinkSync('/proc/self/ns/pid');
  } catch {
    // not Linux, or /proc not mounted
  }
  const owner: Owner = {
    pid: hostPid(),
    start: start ?? '0',
    boot: short(readOr('/proc/sys/kernel/random/boot_id', 'unknown-boot')),
    ctx: short(`${hostname()}|${pidNs}`),
  };
  self = { owner, token: `${owner.pid}-${owner.start}-${owner.boot}-${owner.ctx}`, procfs };
  return self;
}

/** This process's owner token (`<pid>-<start>-<boot>-<ctx>`), to put in temp names and markers. */
export function ownerToken(): string {
  return selfIdentity().token;
}

/** The token's parts; a bare `<pid>` (names written by older versions) gives just the pid. */
export function parseOwner(token: string): Owner | undefined {
  const m = /^(\d+)(?:-(\d+)-([0-9a-f]{8})-([0-9a-f]{8}))?$/.exec(token);
  if (!m) return undefined;
  const pid = Number(m[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return m[2] === undefined ? { pid } : { pid, start: m[2], boot: m[3]!, ctx: m[4]! };
}

/**
 * `gone`: the owner has surely ended (see the module comment); `alive`: this process or one that
 * is surely the owner; `unknown`: another host, pid namespace or a system without /proc, or an
 * older name without a start time whose pid is in use.
 */
export function ownerState(owner: Owner): 'alive' | 'gone' | 'unknown' {
  const me = selfIdentity();
  if (!me.procfs) return 'unknown';
  if (owner.ctx !== undefined && owner.ctx !== me.owner.ctx) return 'unknown';
  if (owner.boot !== undefined && owner.boot !== me.owner.boot) return 'gone';
  const start = processStartTime(owner.pid);
  if (start === undefined) return 'gone'; // no such process
  if (owner.start === undefined || owner.start === '0') return 'unknown';
  return start === owner.start ? 'alive' : 'gone';
}

/** True only when the owner is surely gone; never for a live process or this one. */
export function isOwnerGone(owner: Owner): boolean {
  return ownerState(owner) === 'gone';
}

/**
 * A temp whose owner cannot be judged is abandoned when nothing has written to it for this long:
 * a writer changes its file (or directory) all the time, and none takes a day.
 */
export const UNJUDGED_TEMP_MS = 24 * 3600 * 1000;

/** Whether the temp `name` in `dir` is abandoned: its owner is gone, or unknown and idle a day. */
export async function isAbandonedTemp(dir: string, name: string, owner: Owner): Promise<boolean> {
  const state = ownerState(owner);
  if (state !== 'unknown') return state === 'gone';
  const st = await lstat(join(dir, name)).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > UNJUDGED_TEMP_MS;
}

/** `<prefix><owner token>-<12 hex><suffix>`: a temp file name whose owner a sweep can judge. */
export function ownedTempName(prefix = '', suffix = ''): string {
  return `${prefix}${ownerToken()}-${randomBytes(6).toString('hex')}${suffix}`;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The owner of a temp name made by ownedTempName(prefix, suffix) (also the older
 * `<prefix><pid>-<hex><suffix>` form); undefined when the name is not one.
 */
export function ownerOfTempName(name: string, prefix = '', suffix = ''): Owner | undefined {
  const re = new RegExp(
    `^${escapeRe(prefix)}(\\d+(?:-\\d+-[0-9a-f]{8}-[0-9a-f]{8})?)-[0-9a-f]+${escapeRe(suffix)}$`,
  );
  const m = re.exec(name);
  return m ? parseOwner(m[1]!) : undefined;
}

/**
 * Removes the entries of `dir` named like ownedTempName(prefix, suffix) that are abandoned
 * (files or whole directories); entries of live owners and every other name are kept.
 * Safe while other distill processes write to `dir`. Returns the names removed.
 */
export async function sweepOwnedTemps(
  dir: string,
  opts: { prefix?: string; suffix?: string } = {},
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = ownerOfTempName(name, opts.prefix, opts.suffix);
    if (!owner || !(await isAbandonedTemp(dir, name, owner))) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => {});
    removed.push(name);
  }
  return removed;
}
