import { randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DIR_MODE } from '../../store/modes.js';
import { isOwnerGone, ownerToken, parseOwner } from '../../store/owner.js';

/**
 * Scratch copies of killed builds are reclaimed: a copy holds the app's files (and whatever
 * secrets they hold), in RAM when it is on a tmpfs, so one left by `kill -9` must not stay until
 * the next reboot. Each copy `<parent>/<name>` has a marker `<parent>.owners/<name>` (beside the
 * copies, not among them) written before the copy is made and removed after it, holding its
 * owner's token (src/store/owner.ts: pid, process start time, so that a reused pid is not taken
 * for the owner, boot and pid namespace; the store's temp files carry the same). A build sweeps
 * the copies whose owner is surely gone; a live owner's copy, or one whose owner cannot be judged
 * (another host or pid namespace sharing the directory, no /proc), is never touched.
 *
 * Safe with other builds running: a sweeper first takes the marker (an atomic rename, which one
 * sweeper wins), checks it still names the dead owner, then renames the copy away and removes
 * it. While the marker exists nobody else can claim the name; once it is taken, a new owner's
 * `mkdir` of the name fails as long as the dead copy is there, so a live copy is never renamed.
 * Copies made by versions without markers are left alone.
 */
/** Where the marker of the copy `<parent>/<name>` is. */
function markerOf(parent: string, name: string): string {
  return join(`${parent}.owners`, name);
}

const hex = () => randomBytes(4).toString('hex');

function hasCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** How old a taken marker must be before a later sweep takes it for a killed sweeper's. */
const TAKEN_MAX_AGE_MS = 3600_000;

/**
 * Makes `<parent>/<name>` for this process, its marker first; false when the name is taken
 * (by a live copy, a dead one not yet swept, or an older version's).
 */
export async function claimScratch(parent: string, name: string): Promise<boolean> {
  const marker = markerOf(parent, name);
  await mkdir(dirname(marker), { recursive: true, mode: DIR_MODE });
  try {
    await writeFile(marker, `${ownerToken()}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if (hasCode(err, 'EEXIST')) return false;
    throw err;
  }
  try {
    // Only its owner reads the copy: it holds the app's files, secrets included.
    await mkdir(join(parent, name), { mode: 0o700 });
    return true;
  } catch (err) {
    await unlink(marker).catch(() => {});
    if (hasCode(err, 'EEXIST')) return false;
    throw err;
  }
}

/** Removes a copy this process claimed, then its marker. */
export async function releaseScratch(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true }).catch(() => {});
  await unlink(markerOf(dirname(dir), basename(dir))).catch(() => {});
}

async function ownerIn(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
}

/** Takes the marker of a dead owner's copy and removes the copy; see the module comment. */
async function sweepOne(parent: string, name: string, token: string): Promise<boolean> {
  const marker = markerOf(parent, name);
  const taken = `${marker}.sweep-${hex()}`;
  try {
    await rename(marker, taken);
  } catch {
    return false; // another sweeper took it
  }
  if ((await ownerIn(taken)) !== token) {
    // Replaced between the read and the rename: a new owner's. Put it back (never over another).
    await link(taken, marker).catch(() => {});
    await unlink(taken).catch(() => {});
    return false;
  }
  const trash = join(parent, `${name}.trash-${hex()}`);
  await rename(join(parent, name), trash).catch(() => {});
  await rm(trash, { recursive: true, force: true });
  await unlink(taken).catch(() => {});
  return true;
}

/**
 * Removes from `parent` the copies whose owner is gone, and what a sweeper killed midway left
 * (renamed copies, taken markers). Returns the names of the copies removed.
 */
export async function sweepScratch(parent: string): Promise<string[]> {
  for (const entry of await readdir(parent).catch(() => [] as string[])) {
    if (/\.trash-[0-9a-f]{8}$/.test(entry))
      await rm(join(parent, entry), { recursive: true, force: true }).catch(() => {});
  }
  const markers = `${parent}.owners`;
  const removed: string[] = [];
  for (const entry of await readdir(markers).catch(() => [] as string[])) {
    if (/\.sweep-[0-9a-f]{8}$/.test(entry)) {
      // A marker a sweeper took: after an hour, that sweeper was killed before it was done. Only
      // the marker goes; its copy's name may be a new owner's by now. (ctime: the rename that
      // took it set it; its mtime is the owner's.)
      const ctime = await stat(join(markers, entry)).then(
        (st) => st.ctimeMs,
        () => Date.now(),
      );
      if (Date.now() - ctime > TAKEN_MAX_AGE_MS) await unlink(join(markers, entry)).catch(() => {});
      continue;
    }
    const token = await ownerIn(join(markers, entry));
    // Only whole tokens: a marker always has one (a bare pid is an older name elsewhere).
    const owner = parseOwner(token ?? '');
    if (owner?.start === undefined || !isOwnerGone(owner)) continue;
    if (await sweepOne(parent, entry, token!)) removed.push(entry);
  }
  return removed;
}
