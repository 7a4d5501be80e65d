import { PassThrough } from 'node:stream';
import { readDeb } from '../../debian/deb.js';
import { formatMd5sums } from '../../debian/status.js';
import { DistillError } from '../../errors.js';
import type { LayerEntry } from '../../layers/entries.js';
import type { Digest } from '../../oci/digest.js';
import type { Store } from '../../store/store.js';

/**
 * A .deb unpacked into the store: every regular file of its data.tar becomes a blob (named by
 * its sha256), and a meta record keyed by the .deb's digest lists the entries, the control
 * text, md5sums and which maintainer scripts it has. The second build from the same .deb reads
 * only that record: no decompression, no re-hashing of file contents.
 */
export interface StoredEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  target?: string;
  digest?: Digest;
  size?: number;
}

export interface DebContents {
  controlText: string;
  md5sumsText?: string;
  scripts: string[];
  /** The postinst script's text, when there is one (distill does what it must, or warns). */
  postinst?: string;
  entries: StoredEntry[];
}

const META_VERSION = 2;

export async function unpackDeb(
  store: Store,
  deb: { digest: Digest; size: number },
  what: string,
): Promise<DebContents> {
  const key = `deb-contents:v${META_VERSION}:${deb.digest}`;
  const cached = await store.getMeta<DebContents>(key);
  if (cached && (await allBlobsPresent(store, cached))) return cached;
  const entries: StoredEntry[] = [];
  const info = await readDeb(await store.open(deb.digest, deb.size), {
    source: what,
    computeMd5: true,
    onDataEntry: async (e, body) => {
      const base = { path: e.path, mode: e.mode, uid: e.uid, gid: e.gid };
      if (e.type === 'file') {
        const pass = new PassThrough();
        body.pipe(pass);
        const r = await store.put(pass, undefined, { what: `${e.path} of ${what}` });
        entries.push({ ...base, type: 'file', digest: r.digest, size: r.size });
      } else if (e.type === 'directory') {
        entries.push({ ...base, type: 'dir' });
      } else if (e.type === 'symlink') {
        entries.push({ ...base, type: 'symlink', target: e.linkname ?? '' });
      } else if (e.type === 'link') {
        entries.push({ ...base, type: 'hardlink', target: e.linkname ?? '' });
      }
    },
  });
  // Packages built without dh_md5sums ship none; scanners still want one, so it is computed.
  const md5sumsText =
    info.md5sumsText ??
    (info.dataMd5sums && info.dataMd5sums.size > 0 ? formatMd5sums(info.dataMd5sums) : undefined);
  const contents: DebContents = {
    controlText: info.controlText,
    ...(md5sumsText !== undefined && { md5sumsText }),
    scripts: Object.keys(info.scripts).sort(),
    ...(info.scripts.postinst !== undefined && { postinst: info.scripts.postinst }),
    entries,
  };
  await store.putMeta(key, contents);
  return contents;
}

async function allBlobsPresent(store: Store, c: DebContents): Promise<boolean> {
  for (const e of c.entries) if (e.digest !== undefined && !(await store.has(e.digest))) return false;
  return true;
}

/** Merged-/usr: Debian 13 keeps /bin, /sbin and /lib* as links into /usr. */
const USRMERGE = new Set(['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']);

/** A package path under a merged-/usr link, moved to where the link points. */
export function canonicalPath(path: string): string {
  const slash = path.indexOf('/');
  const first = slash < 0 ? path : path.slice(0, slash);
  if (slash >= 0 && USRMERGE.has(first)) return `usr/${path}`;
  return path;
}

/** Layer entries for stored entries, contents opened from the store when the layer is written. */
export function toLayerEntries(store: Store, entries: readonly StoredEntry[]): LayerEntry[] {
  return entries.map((e): LayerEntry => {
    const path = canonicalPath(e.path);
    switch (e.type) {
      case 'file': {
        const digest = e.digest!;
        const size = e.size!;
        return {
          type: 'file',
          path,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          source: { kind: 'stream', size, open: () => store.open(digest, size) },
        };
      }
      case 'dir':
        return { type: 'dir', path, mode: e.mode, uid: e.uid, gid: e.gid };
      case 'symlink':
        return { type: 'symlink', path, target: e.target!, uid: e.uid, gid: e.gid };
      case 'hardlink':
        return { type: 'hardlink', path, target: canonicalPath(e.target!) };
      default:
        throw new DistillError('INTERNAL', `unknown entry type for ${e.path}`, { userError: false });
    }
  });
}
