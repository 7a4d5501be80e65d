import type { Store } from '../../store/store.js';
import { canonicalPath, type DebContents, openStored } from './debfiles.js';

const COPYRIGHT = /^usr\/share\/doc\/[^/]+\/copyright$/;
const NAMED = /\/usr\/share\/common-licenses\/([A-Za-z0-9.+-]*[A-Za-z0-9+])/g;
const COMMON = 'usr/share/common-licenses/';

/**
 * The common licences (base-files' /usr/share/common-licenses/NAME) that the copyright files of
 * `pkgs` name, and the files those names link to (GPL -> GPL-3): what an image whose packages are
 * `pkgs` must keep of them (the slim OS, src/plan/variants.ts excludedPath). Read from the stored
 * package contents, every byte verified against its sha256 as it is read.
 */
export async function namedLicences(
  store: Store,
  pkgs: readonly { contents: DebContents }[],
): Promise<Set<string>> {
  const named = new Set<string>();
  const links = new Map<string, string>();
  for (const { contents } of pkgs) {
    for (const e of contents.entries) {
      const path = canonicalPath(e.path);
      if (e.type === 'symlink' && path.startsWith(COMMON) && e.target !== undefined) {
        links.set(path.slice(COMMON.length), e.target.replace(/^.*\//, ''));
      }
      if (e.type !== 'file' || !COPYRIGHT.test(path)) continue;
      const chunks: Buffer[] = [];
      for await (const c of await openStored(store, e)) chunks.push(c as Buffer);
      // `GPL-2+` in a path names the GPL-2 file.
      for (const m of Buffer.concat(chunks).toString('utf8').matchAll(NAMED))
        named.add(m[1]!.replace(/\+$/, ''));
    }
  }
  for (const n of [...named]) {
    const target = links.get(n);
    if (target !== undefined) named.add(target);
  }
  return named;
}
