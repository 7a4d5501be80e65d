import { posix } from 'node:path';
import type { ElfInfo } from './elf.js';

/**
 * Where the dynamic loader looks for an addon's libraries, in an install whose directories are
 * linked together (pnpm's node_modules/.pnpm/NAME@VERSION/node_modules/DEP -> ../../DEP@V/...).
 *
 * The loader puts each RUNPATH (else RPATH) entry, with $ORIGIN replaced by the directory of the
 * file it loads, into open(2) as it is: the kernel then follows every symlink on the way and takes
 * each `..` against the directory it has reached, not against the text. So sharp's
 * `$ORIGIN/../../sharp-libvips-linux-x64/lib`, from
 * .pnpm/@img+sharp-linux-x64@V/node_modules/@img/sharp-linux-x64/lib, reaches libvips through the
 * link .pnpm/@img+sharp-linux-x64@V/node_modules/@img/sharp-libvips-linux-x64 into
 * .pnpm/@img+sharp-libvips-linux-x64@V/...: the file is found where a lexical `..` finds a link.
 *
 * Written by hand: Node's fs.realpath works on the disk, and the check works on image paths (its
 * files may be in memory or in a scratch copy); the walk below is the kernel's, on a map of links.
 */

/** Symbolic links of the install: path as NativeFile paths are (app/node_modules/...) -> target. */
export type Links = ReadonlyMap<string, string>;

/** Links followed in one path before giving up, as Linux's ELOOP limit. */
const MAX_LINKS = 40;

/**
 * The path the kernel opens for `path` (absolute, in the image): every component that is one of
 * `links` replaced by its target (a relative target against the link's directory, an absolute one
 * against the image root), `..` taken against the directory reached so far. Undefined when the
 * links loop (ELOOP).
 */
export function physicalPath(path: string, links: Links): string | undefined {
  const done: string[] = [];
  // Components still to walk, the next one last.
  const rest = path.split('/').reverse();
  let followed = 0;
  while (rest.length > 0) {
    const c = rest.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      done.pop();
      continue;
    }
    const target = links.size > 0 ? links.get([...done, c].join('/')) : undefined;
    if (target === undefined) {
      done.push(c);
      continue;
    }
    if (++followed > MAX_LINKS) return undefined;
    if (target.startsWith('/')) done.length = 0;
    rest.push(...target.split('/').reverse());
  }
  return `/${done.join('/')}`;
}

/**
 * A file's library search directories, absolute and physical: its RUNPATH (else RPATH) with
 * $ORIGIN expanded to the directory of `abs` (the path Node loads it by: its real path), each
 * walked through `links`. Relative entries (which the loader takes against its working
 * directory) and entries that loop are dropped.
 */
export function searchDirs(abs: string, elf: ElfInfo, links: Links): string[] {
  const origin = posix.dirname(abs);
  return (elf.runpath ?? elf.rpath ?? '')
    .split(':')
    .map((d) => d.replace(/\$(ORIGIN\b|\{ORIGIN\})/g, origin))
    .filter((d) => d.startsWith('/'))
    .map((d) => physicalPath(d, links))
    .filter((d): d is string => d !== undefined);
}
