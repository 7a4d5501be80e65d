import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { readDeb } from '../../debian/deb.js';
import { formatMd5sums } from '../../debian/status.js';
import { DistillError } from '../../errors.js';
import type { LayerEntry } from '../../layers/entries.js';
import { type Digest, Digester } from '../../oci/digest.js';
import type { Store } from '../../store/store.js';

/**
 * A .deb unpacked into the store: the contents of all regular files of its data.tar go, one
 * after the other, into one "pack" blob (thousands of small files as separate blobs cost a
 * temp file and a rename each, seconds for tzdata and libc6), and a meta record keyed by the
 * .deb's digest lists the entries with each file's sha256, size and offset in the pack, the
 * control text, md5sums and the maintainer scripts. Reading a file back is a ranged read of
 * the pack verified against the file's own sha256. A second build from the same .deb reads
 * only the record.
 */
export interface StoredEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode: number;
  uid: number;
  gid: number;
  target?: string;
  /** sha256 of a file's content. */
  digest?: Digest;
  size?: number;
  /** Where a file's bytes are: this offset in the package's pack blob. */
  pack?: Digest;
  offset?: number;
}

export interface DebContents {
  controlText: string;
  md5sumsText?: string;
  scripts: string[];
  /** The postinst script's text, when there is one (distill does what it must, or warns). */
  postinst?: string;
  entries: StoredEntry[];
}

declare module '../../store/records.js' {
  interface RecordValues {
    'deb-contents': DebContents;
  }
}

export async function unpackDeb(
  store: Store,
  deb: { digest: Digest; size: number },
  what: string,
): Promise<DebContents> {
  const records = store.record('deb-contents');
  const key = { deb: deb.digest };
  const cached = await records.get(key, { usable: (c) => allBlobsPresent(store, c) });
  if (cached) return cached;
  const entries: StoredEntry[] = [];
  const pack = new PassThrough();
  const packed = store.put(pack, undefined, { what: `the files of ${what}` });
  packed.catch(() => {});
  let offset = 0;
  let info: Awaited<ReturnType<typeof readDeb>>;
  try {
    info = await readDeb(await store.open(deb.digest, deb.size), {
      source: what,
      computeMd5: true,
      onDataEntry: async (e, body) => {
        const base = { path: e.path, mode: e.mode, uid: e.uid, gid: e.gid };
        if (e.type === 'file') {
          const d = new Digester();
          for await (const chunk of body) {
            d.update(chunk as Buffer);
            if (!pack.write(chunk)) await once(pack, 'drain');
          }
          entries.push({ ...base, type: 'file', digest: d.digest(), size: d.size, offset });
          offset += d.size;
        } else if (e.type === 'directory') {
          entries.push({ ...base, type: 'dir' });
        } else if (e.type === 'symlink') {
          entries.push({ ...base, type: 'symlink', target: e.linkname ?? '' });
        } else if (e.type === 'link') {
          entries.push({ ...base, type: 'hardlink', target: e.linkname ?? '' });
        }
      },
    });
    pack.end();
  } catch (err) {
    pack.destroy(err as Error);
    await packed.catch(() => {});
    throw err;
  }
  const packDigest = (await packed).digest;
  for (const e of entries) if (e.type === 'file') e.pack = packDigest;
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
  await records.put(key, contents);
  return contents;
}

async function allBlobsPresent(store: Store, c: DebContents): Promise<boolean> {
  const packs = new Set(c.entries.map((e) => e.pack).filter((p): p is Digest => p !== undefined));
  for (const p of packs) if (!(await store.has(p))) return false;
  return true;
}

/** A stored file's bytes, verified against its own sha256 as they are read. */
export function openStored(store: Store, e: StoredEntry): Promise<Readable> {
  if (e.digest === undefined || e.size === undefined || e.pack === undefined || e.offset === undefined) {
    throw new DistillError('INTERNAL', `${e.path} has no stored content`, { userError: false });
  }
  return store.openRange(e.pack, e.offset, e.size, e.digest);
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
        return {
          type: 'file',
          path,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          source: { kind: 'stream', size: e.size!, open: () => openStored(store, e) },
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
