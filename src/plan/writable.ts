import { posix } from 'node:path';
import { DistillError } from '../errors.js';
import type { DirEntry } from '../layers/entries.js';
import type { AppDir } from '../sources/app/read.js';
import type { PlannedLayer } from './app.js';
import { NODE_DIR } from './layout.js';

/**
 * Writable places for the app user (issue 15 point 7): everything distill puts in an image is
 * owned by root, so an app that creates a data directory died with EACCES, and a named volume
 * mounted there was root-owned too (Docker copies the image directory's ownership and mode into
 * an empty named volume the first time it is mounted). `--writable DIR` makes DIR an empty
 * directory owned by the user the app runs as; `--volume DIR` does that and declares it a VOLUME.
 * Both can also be listed in package.json (`distill.writable`, `distill.volumes`).
 */
export interface WritableRequest {
  /** `--writable DIR` (repeatable). */
  writable?: string[];
  /** `--volume DIR` (repeatable). */
  volumes?: string[];
}

export interface WritablePlan {
  /** Every directory made writable, volumes included: absolute, normalized, sorted. */
  writable: string[];
  /** The directories declared as VOLUME: absolute, normalized, sorted. */
  volumes: string[];
}

/**
 * Where a writable directory may not go, and why: what the runtime mounts, Node itself, and the
 * directories whose owner or mode the layer's parent entries would change (a layer lists every
 * parent of its entries, as root 0755).
 */
const REFUSED: [string, string][] = [
  ['/proc', 'which the container runtime mounts'],
  ['/sys', 'which the container runtime mounts'],
  ['/dev', 'which the container runtime mounts'],
  [NODE_DIR, "Node's own directory, which stays read-only"],
  ['/tmp', 'which every user may write already (mode 1777)'],
  ['/var/tmp', 'which every user may write already (mode 1777)'],
  ['/var/lock', 'which every user may write already (mode 1777)'],
  ['/home', "the users' homes (the app user's own, /home/nonroot, is writable by it already)"],
  ['/root', "root's home"],
];
/** Top-level names that are links into /usr in merged-/usr Debian (a directory there would replace the link). */
const USR_LINKS = new Set(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']);

function normalizeDir(raw: unknown, workdir: string, bad: (why: string) => DistillError): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw bad('is not a directory path');
  if (raw.includes('\0') || raw.includes('\n')) throw bad('has a NUL or newline in it');
  const dir = posix.normalize(posix.isAbsolute(raw) ? raw : posix.join(workdir, raw)).replace(/\/+$/, '');
  if (dir === '' || dir === '/') throw bad('is the root directory');
  const refused = REFUSED.find(([r]) => dir === r || dir.startsWith(`${r}/`));
  if (refused !== undefined)
    throw bad(`is ${dir === refused[0] ? '' : 'under '}${refused[0]}, ${refused[1]}`);
  const top = dir.split('/')[1]!;
  if (USR_LINKS.has(top)) throw bad(`is under /${top}, a link to /usr/${top} in the image`);
  return dir;
}

/** A package.json list: an array of strings (a single string is a list of one). */
function listField(app: AppDir, field: 'writable' | 'volumes'): unknown[] {
  const own = app.packageJson.distill as Record<string, unknown> | undefined;
  const v = own?.[field];
  if (v === undefined) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v;
  throw new DistillError(
    'APP_INVALID',
    `package.json: distill.${field} must be a list of directories, e.g. ["/app/data"], not ${JSON.stringify(v)}`,
  );
}

/**
 * The writable directories and volumes of a build: the flags' and package.json's, each checked
 * and made absolute (a relative one is under the image's working directory), merged and sorted;
 * and `user`, who will own them, checked when there are some.
 */
export function planWritable(
  request: WritableRequest,
  app: AppDir,
  workdir: string,
  user: string,
): WritablePlan {
  const dirs = (list: unknown[], name: string, code: 'USAGE' | 'APP_INVALID') =>
    list.map((raw) =>
      normalizeDir(raw, workdir, (why) => {
        const what =
          code === 'USAGE'
            ? `--${name} ${String(raw)}`
            : `package.json: distill.${name} entry ${JSON.stringify(raw)}`;
        return new DistillError(code, `${what} ${why}; give a directory such as /app/data or /var/lib/app`);
      }),
    );
  const volumes = [
    ...dirs(request.volumes ?? [], 'volume', 'USAGE'),
    ...dirs(listField(app, 'volumes'), 'volumes', 'APP_INVALID'),
  ];
  const writable = [
    ...volumes,
    ...dirs(request.writable ?? [], 'writable', 'USAGE'),
    ...dirs(listField(app, 'writable'), 'writable', 'APP_INVALID'),
  ];
  if (writable.length > 0) writableOwner(user);
  const sorted = (l: string[]) => [...new Set(l)].sort();
  return { writable: sorted(writable), volumes: sorted(volumes) };
}

/** The plan's `writable` and `volumes`, each only when there are some. */
export function writableFields(p: WritablePlan): { writable?: string[]; volumes?: string[] } {
  return {
    ...(p.writable.length > 0 && { writable: p.writable }),
    ...(p.volumes.length > 0 && { volumes: p.volumes }),
  };
}

/**
 * Who owns the writable directories: the user the app runs as, which must then be numeric
 * (`UID` or `UID:GID`; a UID alone owns them with the group of the same number), since the
 * names of another image's users are not known when distill lays out the directories.
 */
export function writableOwner(user: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) {
    throw new DistillError(
      'USAGE',
      `--user ${user}: writable directories and volumes are owned by the user the app runs as, so give it as UID or UID:GID (the default is 65532:65532)`,
    );
  }
  const uid = Number(m[1]);
  return { uid, gid: m[2] !== undefined ? Number(m[2]) : uid };
}

/**
 * The entries of the writable layer: each directory, empty, mode 0755, owned by `user`; the
 * layer lists their parents as root 0755, which they are in Debian (the ones that are not, like
 * /tmp and /home/nonroot, are refused by planWritable).
 */
export function writableEntries(dirs: readonly string[], user: string): DirEntry[] {
  const { uid, gid } = writableOwner(user);
  return dirs.map((path) => ({ type: 'dir', path, mode: 0o755, uid, gid }));
}

/** The layer of the writable directories, after the app's, as the plan lists it. */
export function writableLayer(dirs: readonly string[], user: string): PlannedLayer {
  return {
    name: 'writable',
    holds: `empty directories owned by ${user}: ${dirs.join(', ')}`,
    key: ['the directories and their owner'],
    createdBy: `distill build: writable directories ${dirs.join(' ')}`,
  };
}
