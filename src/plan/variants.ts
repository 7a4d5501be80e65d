import { DistillError } from '../errors.js';
import { TINI_STATIC } from './layout.js';

/**
 * The distroless base variants and their Debian 13 package sets, as the reference images list
 * them (../shared/ANCHORS.md): each adds hand-listed packages to the one before, without
 * dependency resolution, so the images hold exactly what distroless users expect.
 * `ca-certificates` is read for its certificates (the bundle is made from them) in every variant.
 */
export type Variant =
  | 'static'
  | 'base-nossl'
  | 'base'
  | 'cc'
  | 'nodejs22'
  | 'nodejs24'
  | 'nodejs26'
  | 'node-app';

export const VARIANTS: readonly Variant[] = [
  'static',
  'base-nossl',
  'base',
  'cc',
  'nodejs22',
  'nodejs24',
  'nodejs26',
];

const STATIC = ['base-files', 'netbase', 'tzdata', 'tzdata-legacy', 'media-types'];
const BASE_NOSSL = [...STATIC, 'libc6'];
const BASE = [...BASE_NOSSL, 'libssl3t64', 'libzstd1', 'zlib1g'];
const CC = [...BASE, 'libgomp1', 'libstdc++6', 'libgcc-s1', 'gcc-14-base'];

export interface VariantSpec {
  name: Variant;
  packages: string[];
  /** Node major for the nodejs variants. */
  nodeMajor?: number;
  /** Files and directories of the packages (every layer of them) left out of the image (image paths without the leading /). */
  exclude?: string[];
  /** Of /usr/share/doc, keep only each package's copyright file (see excludedPath). */
  docsCopyrightOnly?: boolean;
  /** Of /usr/share/common-licenses, keep only what the image's copyright files name (see excludedPath). */
  namedLicencesOnly?: boolean;
}

/**
 * The OS part of `distill build` images (not listed for `distill base`): what the official Node
 * binary links against (libc, libstdc++, libgcc) and the static files, without glibc's gconv
 * modules (8 MB of iconv character sets that Node, which converts with ICU, never loads). No
 * libssl, zlib, zstd or gomp: Node bundles its own; a native addon that needs one of them is
 * reported by the native check with the --package to add. libatomic1 (30 KB) is what Node 26
 * adds to that list.
 */
const NODE_APP = [...STATIC, 'libc6', 'libstdc++6', 'libgcc-s1', 'gcc-14-base', 'libatomic1'];
const GCONV = ['usr/lib/x86_64-linux-gnu/gconv', 'usr/lib/aarch64-linux-gnu/gconv'];
/**
 * Files of the node-app packages no program in the image reads (issue 17 point 5, decisions 0021
 * and 0031; test/e2e/slim-os.test.ts runs Node the same without each): libstdc++'s gdb
 * pretty-printers and gdb auto-load scripts (the image has no gdb), Debian's lintian overrides
 * (read by lintian when a package is built), tzdata-legacy's `right/` zones (the same zones again,
 * counting leap seconds, for clocks that count them: a container's clock is the host's POSIX
 * clock; Node's ICU takes `TZ=right/Area/City` as Area/City without them) and `tzdata.zi` (every
 * zone again, as text for zic). tzdata's binary zones stay: TZ=:/usr/share/zoneinfo/... and
 * glibc's localtime() in native addons read them.
 */
const NODE_APP_UNREAD = [
  'usr/share/gcc',
  'usr/share/gdb',
  'usr/share/lintian',
  'usr/share/zoneinfo/right',
  'usr/share/zoneinfo/tzdata.zi',
];
/**
 * glibc's libraries that neither Node nor anything else in an app image loads (Node links libc,
 * libm, libstdc++, libgcc_s, ld.so and, on 26, libatomic; /etc/nsswitch.conf names only `files`
 * and `dns`, built into libc since 2.34): vector math (an addon built with -ffast-math
 * vectorised loops may link it: the native check names such an addon and what to do),
 * NIS, the NSS compat and hesiod modules, the malloc debugger, gdb's thread_db, memusage and
 * pcprofile (LD_PRELOAD tools) and libBrokenLocale. The stubs older programs link by name
 * (libpthread, libdl, librt, libutil, libanl, libnss_files, libnss_dns) stay.
 */
export const NODE_APP_UNUSED_LIBS = [
  'libmvec.so.1',
  'libnsl.so.1',
  'libnss_compat.so.2',
  'libnss_hesiod.so.2',
  'libc_malloc_debug.so.0',
  'libthread_db.so.1',
  'libmemusage.so',
  'libpcprofile.so',
  'libBrokenLocale.so.1',
];
const LIB_DIRS = ['usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu'];
/**
 * What app images leave out of their packages: the gconv modules, what no program in them
 * reads, glibc's unused libraries, and tini's static build when the init (or `--package tini`)
 * brings tini: the images have the glibc its dynamic build links against (decision 0015).
 */
const NODE_APP_EXCLUDE = [
  ...GCONV,
  TINI_STATIC,
  ...NODE_APP_UNREAD,
  ...LIB_DIRS.flatMap((d) => NODE_APP_UNUSED_LIBS.map((l) => `${d}/${l}`)),
];

/**
 * Whether a variant leaves `path` (an image path without the leading /) out of its packages: a
 * path of its `exclude` list or under one, and, with `docsCopyrightOnly`, every file of
 * /usr/share/doc/PKG/ but `copyright` (the licence; changelogs, NEWS and READMEs are read by no
 * program). The /usr/share/doc/PKG entries themselves stay: Debian makes some of them links to
 * the directory whose copyright file covers the package (libstdc++6 -> gcc-14-base). Given
 * `licences` (the names the image's copyright files point to, src/build/base/licences.ts), the
 * common licences of /usr/share/common-licenses none of them names are left out too.
 */
export function excludedPath(spec: VariantSpec, path: string, licences?: ReadonlySet<string>): boolean {
  if (spec.exclude?.some((x) => path === x || path.startsWith(`${x}/`))) return true;
  if (!spec.docsCopyrightOnly) return false;
  const doc = /^usr\/share\/doc\/[^/]+\/(.+)$/.exec(path);
  if (doc !== null) return doc[1] !== 'copyright';
  if (!spec.namedLicencesOnly) return false;
  const common = /^usr\/share\/common-licenses\/([^/]+)$/.exec(path);
  return licences !== undefined && common !== null && !licences.has(common[1]!);
}

/**
 * Package names that changed between Debian releases (the t64 transition and the compiler
 * version): the trixie names above, renamed for an older codename.
 */
const RENAMED: Record<string, Record<string, string>> = {
  bookworm: { libssl3t64: 'libssl3', 'gcc-14-base': 'gcc-12-base' },
};

/** The variant's package list for a Debian codename (trixie's names unless renamed). */
export function variantPackages(spec: VariantSpec, codename: string): string[] {
  const renamed = RENAMED[codename];
  return renamed ? spec.packages.map((p) => renamed[p] ?? p) : spec.packages;
}

export function variantSpec(name: string): VariantSpec {
  switch (name) {
    case 'static':
      return { name, packages: STATIC };
    case 'base-nossl':
      return { name, packages: BASE_NOSSL };
    case 'base':
      return { name, packages: BASE };
    case 'cc':
      return { name, packages: CC };
    case 'nodejs22':
    case 'nodejs24':
      return { name, packages: CC, nodeMajor: Number(name.slice(6)) };
    case 'nodejs26':
      return { name, packages: [...CC, 'libatomic1'], nodeMajor: 26 };
    case 'node-app':
      return {
        name,
        packages: NODE_APP,
        exclude: NODE_APP_EXCLUDE,
        docsCopyrightOnly: true,
        namedLicencesOnly: true,
      };
    default:
      throw new DistillError(
        'USAGE',
        `"${name}" is not a base variant; choose one of ${VARIANTS.join(', ')}`,
      );
  }
}

/** The package whose certificates make the CA bundle. */
export const CA_PACKAGE = 'ca-certificates';
/** The package that gives the debug flavour its shell. */
export const BUSYBOX_PACKAGE = 'busybox-static';
