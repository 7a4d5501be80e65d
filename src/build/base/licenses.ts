import type { Digest } from '../../oci/digest.js';
import type { LockedPackage, Lockfile } from '../../plan/lockfile.js';
import { dep5Synopses } from '../../sbom/license.js';
import type { Store } from '../../store/store.js';
import { type DebContents, openStored, type StoredEntry, unpackDeb } from './debfiles.js';

/**
 * The licences of a base's Debian packages, as their machine-readable copyright files
 * (`usr/share/doc/PKG/copyright`, DEP-5) declare them: the `License:` synopsis of each `Files:`
 * paragraph, by package name; null where the file is missing or in another format (the SBOM
 * writes NOASSERTION: a licence is never guessed). Read from the packages' files as the build
 * unpacked them from the verified .debs (each file checked against its own sha256 as it is read),
 * and kept in the base-os record beside the images, so that an SBOM made on a cache hit, which
 * reads no .deb, lists the same licences (decision 0033).
 */
export type DebLicenses = [name: string, synopses: string[] | null][];

/** Copyright files larger than this are not read (the inspect library's cap too). */
const MAX_COPYRIGHT = 1 << 20;

async function readText(store: Store, e: StoredEntry): Promise<string | undefined> {
  if (e.size === undefined || e.size > MAX_COPYRIGHT) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of await openStored(store, e)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const DOC = 'usr/share/doc/';

/**
 * Where a package's copyright file is: its own `usr/share/doc/NAME/copyright`, or, when the
 * package ships `usr/share/doc/NAME` as a link to another package's directory of the same source
 * (Debian policy 12.5: libgcc-s1 -> gcc-14-base), that one's.
 */
function copyrightPath(name: string, contents: DebContents): string {
  const link = contents.entries.find((e) => e.type === 'symlink' && e.path === `${DOC}${name}`);
  const target = link?.target?.replace(/\/+$/, '');
  if (target !== undefined && target !== '' && !target.includes('/')) return `${DOC}${target}/copyright`;
  return `${DOC}${name}/copyright`;
}

/** The licences of one architecture's packages, from their unpacked contents (by package name). */
export async function debLicenses(
  store: Store,
  packages: readonly { name: string; contents: DebContents }[],
): Promise<DebLicenses> {
  const files = new Map<string, StoredEntry>();
  for (const p of packages) {
    for (const e of p.contents.entries) {
      if (e.type === 'file' && e.path.startsWith(DOC) && e.path.endsWith('/copyright')) files.set(e.path, e);
    }
  }
  const out: DebLicenses = [];
  for (const p of packages) {
    const entry = files.get(copyrightPath(p.name, p.contents));
    const text = entry && (await readText(store, entry));
    out.push([p.name, text === undefined ? null : dep5Synopses(text)]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The .deb of a locked package: the store's copy when it is there, else fetched and verified. */
async function debOf(
  store: Store,
  p: LockedPackage,
  fetchDeb: (p: LockedPackage) => Promise<{ digest: Digest; size: number }>,
): Promise<{ digest: Digest; size: number }> {
  const digest = `sha256:${p.sha256}` as Digest;
  return (await store.size(digest)) === p.size ? { digest, size: p.size } : fetchDeb(p);
}

/** The unpacked contents of every package of a lock's architecture (the deb-contents records). */
export async function lockedContents(
  store: Store,
  lock: Lockfile,
  arch: string,
  fetchDeb: (p: LockedPackage) => Promise<{ digest: Digest; size: number }>,
): Promise<{ name: string; contents: DebContents }[]> {
  const out: { name: string; contents: DebContents }[] = [];
  for (const p of lock.architectures[arch] ?? []) {
    const what = `${p.name}_${p.version}_${p.architecture}.deb`;
    out.push({ name: p.name, contents: await unpackDeb(store, await debOf(store, p, fetchDeb), what) });
  }
  return out;
}

/** The licences of a lock's packages, per architecture: what `distill base --attest sbom` lists. */
export async function lockLicenses(
  store: Store,
  lock: Lockfile,
  archs: readonly string[],
  fetchDeb: (p: LockedPackage) => Promise<{ digest: Digest; size: number }>,
): Promise<Map<string, DebLicenses>> {
  const out = new Map<string, DebLicenses>();
  for (const arch of archs)
    out.set(arch, await debLicenses(store, await lockedContents(store, lock, arch, fetchDeb)));
  return out;
}
