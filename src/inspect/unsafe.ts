/**
 * Layer entries that extractors mishandle, found while merging (the merge itself applies them the
 * way containerd does, confined to the image root). Inside a container an absolute symlink is
 * resolved against the container's root and cannot leave it; what goes wrong is unpacking a layer
 * onto a disk with a tool that does not confine names and links to the directory it unpacks into:
 *
 * - absolute-name     an entry named `/etc/x`: written at /etc/x of the machine unpacking it;
 * - parent-reference  a name with `..` components (one that climbs above the root is skipped by the
 *                     merge; one that stays inside still means something else to a tool that
 *                     resolves it on disk through links);
 * - hardlink-outside  a hardlink whose target is absolute or has `..` (`/etc/shadow`): the
 *                     unpacking machine's file linked into the tree;
 * - symlink-outside   a symlink whose relative target climbs above the root with `..`: harmless in
 *                     a container (it stops at /), outside the tree for whatever follows it on an
 *                     unpacked copy;
 * - through-symlink   an entry written through a symlink whose target is absolute or climbs above
 *                     the root (the symlink-then-file attack: `x -> /etc`, then `x/cron.d/job`).
 */

export type UnsafeKind =
  | 'absolute-name'
  | 'parent-reference'
  | 'hardlink-outside'
  | 'symlink-outside'
  | 'through-symlink';

export const UNSAFE_KINDS: readonly UnsafeKind[] = [
  'absolute-name',
  'parent-reference',
  'hardlink-outside',
  'symlink-outside',
  'through-symlink',
];

export interface UnsafeEntry {
  /** The layer holding the entry (0: the base layer). */
  layer: number;
  /** The entry's name as written in the layer. */
  path: string;
  kind: UnsafeKind;
  /** The link target as written (hardlinks, symlinks), or the symlink written through; else null. */
  target: string | null;
  why: string;
}

/** Most unsafe entries kept (the rest are counted). */
export const MAX_UNSAFE = 1000;

/** Whether a name has a `..` component. */
export function hasParentRef(name: string): boolean {
  if (!name.includes('..')) return false;
  for (const p of name.split('/')) if (p === '..') return true;
  return false;
}

/** Whether a relative link target climbs above the root from a directory `depth` levels down. */
export function climbsAbove(target: string, depth: number): boolean {
  if (target.startsWith('/') || !target.includes('..')) return false;
  let d = depth;
  for (const p of target.split('/')) {
    if (p === '..') {
      if (--d < 0) return true;
    } else if (p !== '' && p !== '.') d++;
  }
  return false;
}

const EXTRACTOR = 'an extractor that does not confine';

export const WHY = {
  absolute: `the name is absolute: ${EXTRACTOR} names writes it at that path of the machine unpacking the layer`,
  escapes: `".." climbs above the image root: ${EXTRACTOR} names writes outside the directory it unpacks into (skipped here)`,
  dotdot:
    'the name has ".." components: it stays inside the image here, but a tool resolving it on disk through links may not',
  hardlinkAbsolute: `the hardlink target is absolute: ${EXTRACTOR} link targets links in a file of the machine unpacking the layer`,
  hardlinkDotdot: `the hardlink target has ".." components: ${EXTRACTOR} link targets can link in a file outside the tree`,
  symlink:
    'the symlink target climbs above the image root with "..": it stops at / in a container, but leaves an unpacked copy for whatever follows it',
  through: (link: string, target: string) =>
    `written through the symlink ${link} -> ${target}: ${EXTRACTOR} links follows it and writes outside the tree`,
} as const;
