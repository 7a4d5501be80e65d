import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { isDistillError } from '../../errors.js';
import { type ElfInfo, isElf, readElf } from './elf.js';
import { type Links, physicalPath, searchDirs } from './native-links.js';

/**
 * The native addon check of `distill build`: every `.node` and ELF file the install left is read
 * (headers, dynamic section, version needs; see elf.ts) and checked against the image: its
 * architecture, its libc (musl builds do not load on Debian's glibc), the glibc (and, when known,
 * libstdc++) versions it needs, and the shared libraries it needs, which must be in the base or
 * next to it on its RUNPATH. Each problem is one sentence naming the file and the fix.
 */
export interface NativeFile {
  /** Path in the image, e.g. app/node_modules/better-sqlite3/build/Release/better_sqlite3.node */
  path: string;
  size: number;
  /** Up to `length` bytes at `offset`; fewer at the end of the file. */
  read(offset: number, length: number): Promise<Buffer>;
}

export interface NativeTarget {
  /** Debian or OCI architecture name: amd64, arm64, armhf, i386, ... */
  arch: string;
  /** glibc of the base, e.g. 2.41 (from libc6 2.41-12); undefined when unknown or absent. */
  glibcVersion?: string;
  /** soname -> path in the image, from the base's files. */
  libraries: ReadonlyMap<string, string>;
  /** Version names the image's libstdc++ defines (GLIBCXX_3.4.33, CXXABI_1.3.15, ...). */
  libstdcxxVersions?: readonly string[];
  /** A Debian package that ships the soname (libssl.so.3 -> libssl3t64), if one is known. */
  suggestPackage?(soname: string): Promise<string | undefined>;
  /** The base's libraries are unknown: do not report missing libraries. */
  skipLibraries?: boolean;
  /** What to do about a missing library no package is known for (default: --package NAME). */
  missingAdvice?: string;
  /** What to do about a library the base leaves out on purpose (the slim OS), else undefined. */
  leftOutAdvice?(soname: string): string | undefined;
  /** What to do about a file built for another architecture (`built`), e.g. the route that failed (cross-advice.ts). */
  archAdvice?(path: string, built: string): string;
}

export type NativeProblemKind =
  | 'arch'
  | 'musl'
  | 'glibc-too-old'
  | 'libstdcxx-too-old'
  | 'missing-library'
  | 'not-elf'
  | 'invalid';

export interface NativeProblem {
  path: string;
  kind: NativeProblemKind;
  message: string;
}

/** Debian architecture names -> the Go/OCI names elf.ts gives machines. */
const OCI_ARCH: Record<string, string> = {
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  ppc64el: 'ppc64le',
  mips64el: 'mips64le',
};
/** OCI architecture -> Node's process.arch, as prebuilds/ directory names spell it. */
const NODE_ARCH: Record<string, string> = {
  amd64: 'x64',
  '386': 'ia32',
  ppc64le: 'ppc64',
  mips64le: 'mips64el',
};

/** glibc of each Debian release, oldest first, to name the base in advice. */
const DEBIAN_GLIBC: [string, string][] = [
  ['2.28', 'buster'],
  ['2.31', 'bullseye'],
  ['2.36', 'bookworm'],
  ['2.41', 'trixie'],
];

/** Compares dotted numeric versions (2.9 < 2.10); a missing part counts as 0. */
function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The highest numeric version named `PREFIX_x.y...` among names, or undefined. */
function highest(names: readonly string[], prefix: string): string | undefined {
  let best: string | undefined;
  for (const n of names) {
    const v = n.startsWith(prefix) ? n.slice(prefix.length) : '';
    if (/^\d+(\.\d+)*$/.test(v) && (best === undefined || compareVersions(v, best) > 0)) best = v;
  }
  return best;
}

/**
 * Files node-gyp-build (and prebuildify) ship for every platform but load only on their own:
 * `prebuilds/<platform>-<arch>[+<arch>]/<name>[.<tag>...].node`, with a `musl` tag for Alpine.
 * Those for another platform, architecture or libc are never loaded, so they are not checked.
 */
function unusedPrebuild(path: string, arch: string): boolean {
  const m = /(?:^|\/)prebuilds\/([^/-]+)-([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return false;
  return (
    m[1] !== 'linux' ||
    !m[2]!.split('+').includes(NODE_ARCH[arch] ?? arch) ||
    m[3]!.split('.').includes('musl')
  );
}

/** What a file that is not ELF looks like, for the message. */
function describeNonElf(head: Buffer): string {
  if (head.length < 4) return ' (it is empty or nearly so)';
  const magic = head.readUInt32BE(0);
  if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(magic)) {
    return ' but a macOS (Mach-O) binary';
  }
  if (head[0] === 0x4d && head[1] === 0x5a) return ' but a Windows (PE) binary';
  return '';
}

interface Parsed {
  file: NativeFile;
  /** Absolute image path. */
  abs: string;
  elf: ElfInfo;
}

type Problem = (path: string, kind: NativeProblemKind, message: string) => void;

/**
 * Reads each file's ELF headers and reports what cannot load at all: not ELF, another
 * architecture, musl. Returns the files that can, for the linking checks.
 */
async function parseFiles(
  files: readonly NativeFile[],
  target: NativeTarget,
  arch: string,
  problem: Problem,
): Promise<{ parsed: Parsed[]; checked: number }> {
  const install = `install the dependencies for linux/${target.arch}`;
  const nodeArch = NODE_ARCH[arch] ?? arch;
  const parsed: Parsed[] = [];
  let checked = 0;
  for (const file of files) {
    if (unusedPrebuild(file.path, arch)) continue;
    checked++;
    const head = file.size >= 4 ? await file.read(0, 4) : Buffer.alloc(0);
    if (head.length < 4 || !isElf(head)) {
      problem(
        file.path,
        'not-elf',
        `${file.path} is not a Linux shared library (ELF)${describeNonElf(head)}, so Node cannot load it in linux/${target.arch}; ${install} (use a version of the package that ships linux-${nodeArch} binaries, or rebuild it from source)`,
      );
      continue;
    }
    let elf: ElfInfo;
    try {
      elf = await readElf(file, file.path);
    } catch (err) {
      if (!isDistillError(err, 'NATIVE_ADDON_INVALID')) throw err;
      problem(file.path, 'invalid', err.message);
      continue;
    }
    // Object files (.o left by node-gyp) and core dumps are never loaded.
    if (elf.type !== 'DYN' && elf.type !== 'EXEC') continue;
    if (elf.machine.name !== arch) {
      problem(
        file.path,
        'arch',
        `${file.path} is built for ${elf.machine.name}, but the image is linux/${target.arch}; ${target.archAdvice?.(file.path, elf.machine.name) ?? `${install} (delete the prebuilt file from the package, or use a version that ships linux-${nodeArch} binaries)`}`,
      );
      continue;
    }
    const muslLib = elf.needed.find((n) => /^libc\.musl-.*\.so\.1$/.test(n));
    if (elf.interpreter?.includes('ld-musl') || muslLib !== undefined) {
      const needs = [elf.interpreter, muslLib].filter((x) => x !== undefined).join(' / ');
      problem(
        file.path,
        'musl',
        `${file.path} is linked against musl (it needs ${needs}), but the image's libc is glibc; the package installed its Alpine (musl) build: check its optional dependencies for a -linux-${nodeArch}-gnu package, or rebuild it from source`,
      );
      continue;
    }
    parsed.push({ file, abs: posix.join('/', file.path), elf });
  }
  return { parsed, checked };
}

/** The glibc, libstdc++ and CXXABI versions a file needs of the image, against what it has. */
function checkVersions(p: Parsed, versions: string[], target: NativeTarget, problem: Problem): void {
  const path = p.file.path;
  const glibc = highest(versions, 'GLIBC_');
  if (
    glibc !== undefined &&
    target.glibcVersion !== undefined &&
    compareVersions(glibc, target.glibcVersion) > 0
  ) {
    const have = DEBIAN_GLIBC.find(([v]) => v === target.glibcVersion)?.[1];
    const newer = DEBIAN_GLIBC.find(([v]) => compareVersions(v, glibc) >= 0)?.[1];
    problem(
      path,
      'glibc-too-old',
      `${path} needs GLIBC_${glibc}, but the image has glibc ${target.glibcVersion}${have ? ` (Debian ${have})` : ''}; use a newer base (${newer ?? `one with glibc ${glibc} or later`}) or a version of the package built for an older glibc`,
    );
  }
  if (!target.libstdcxxVersions) return;
  for (const prefix of ['GLIBCXX_', 'CXXABI_']) {
    const need = highest(versions, prefix);
    const have = highest(target.libstdcxxVersions, prefix);
    if (need !== undefined && have !== undefined && compareVersions(need, have) > 0) {
      problem(
        path,
        'libstdcxx-too-old',
        `${path} needs ${prefix}${need}, but the image's libstdc++ provides up to ${prefix}${have}; use a newer base or a version of the package built with an older compiler`,
      );
    }
  }
}

/**
 * Where the loader finds a needed soname among the installed files: in a directory on the
 * needer's RUNPATH (or RPATH), walked through the install's links as the kernel does
 * (native-links.ts), under that name (itself perhaps a link) or as the file whose DT_SONAME it is
 * (the file named by the soname is usually a symlink). A file on no search path (a package
 * relying on LD_LIBRARY_PATH) is not found: the image sets none. But the loader reuses an object
 * already loaded under the same soname, so a soname that any file finds on its own search path
 * counts as found for all (the load order usually matches).
 */
function bundledLibraries(
  parsed: readonly Parsed[],
  links: Links,
): {
  bundled: (p: Parsed, soname: string) => boolean;
  foundByAny: Set<string>;
} {
  const provided = new Set<string>();
  for (const p of parsed) {
    provided.add(p.abs);
    if (p.elf.soname !== undefined) provided.add(posix.join(posix.dirname(p.abs), p.elf.soname));
  }
  const dirs = new Map(parsed.map((p) => [p, searchDirs(p.abs, p.elf, links)]));
  const bundled = (p: Parsed, soname: string) =>
    dirs.get(p)!.some((d) => {
      const at = posix.join(d, soname);
      return provided.has(at) || provided.has(physicalPath(at, links) ?? at);
    });
  return { bundled, foundByAny: new Set(parsed.flatMap((p) => p.elf.needed.filter((n) => bundled(p, n)))) };
}

/**
 * Checks the files against the image; `checked` counts those read (not unused prebuilds). `links`
 * are the install's symbolic links, keyed as the files' paths are (findElfFiles lists them).
 */
export async function checkNativeFiles(
  files: readonly NativeFile[],
  target: NativeTarget,
  links: Links = new Map(),
): Promise<{ problems: NativeProblem[]; checked: number }> {
  const arch = OCI_ARCH[target.arch] ?? target.arch;
  const problems: NativeProblem[] = [];
  const problem: Problem = (path, kind, message) => problems.push({ path, kind, message });
  const { parsed, checked } = await parseFiles(files, target, arch, problem);
  const { bundled, foundByAny } = bundledLibraries(parsed, links);
  const inImage = (soname: string) =>
    target.libraries.has(soname) ||
    // The dynamic loader comes with libc6, so it is there when libc.so.6 is.
    (/^ld(-linux.*|64)\.so\.\d+$/.test(soname) && target.libraries.has('libc.so.6'));
  const suggestions = new Map<string, Promise<string | undefined>>();
  for (const p of parsed) {
    // Versions are checked only against libraries that come from the image.
    const fromImage = (soname: string) => !bundled(p, soname) && !foundByAny.has(soname);
    checkVersions(
      p,
      p.elf.versionNeeds.filter((v) => fromImage(v.file)).flatMap((v) => v.versions),
      target,
      problem,
    );
    if (target.skipLibraries) continue;
    for (const soname of p.elf.needed) {
      if (inImage(soname) || bundled(p, soname) || foundByAny.has(soname)) continue;
      if (!suggestions.has(soname))
        suggestions.set(soname, target.suggestPackage?.(soname) ?? Promise.resolve(undefined));
      const pkg = await suggestions.get(soname);
      const advice =
        target.leftOutAdvice?.(soname) ??
        (pkg
          ? `add it with --package ${pkg}`
          : (target.missingAdvice ?? 'add the Debian package that provides it with --package NAME'));
      problem(
        p.file.path,
        'missing-library',
        `${p.file.path} needs ${soname}, which the image lacks; ${advice}`,
      );
    }
  }
  return { problems, checked };
}

/** Up to `length` bytes of a file at `offset`. */
export async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The shared libraries of an image's file listing: soname -> path (files and symlinks in lib dirs). */
export function librariesOf(files: Iterable<{ path: string; type: string }>): Map<string, string> {
  const libs = new Map<string, string>();
  for (const f of files) {
    const path = f.path.replace(/^\.?\//, '');
    const m = /(?:^|\/)(lib[^/]*\.so(?:\.[0-9.]+)?)$/.exec(path);
    if (m && (f.type === 'file' || f.type === 'symlink') && /^(usr\/)?lib/.test(path))
      libs.set(m[1]!, `/${path}`);
  }
  return libs;
}

/**
 * Regular files under dir (symlinks are not followed) that start with the ELF magic, and every
 * `.node` file; paths relative to dir, slash-separated, sorted. With `links`, every symbolic link
 * under dir goes into it too (path as above -> its target as it is written), for the loader's
 * search paths (checkNativeFiles).
 */
export async function findElfFiles(dir: string, links?: Map<string, string>): Promise<NativeFile[]> {
  const found: NativeFile[] = [];
  const head = (file: string): Buffer => {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(4);
      return buf.subarray(0, readSync(fd, buf, 0, 4, 0));
    } finally {
      closeSync(fd);
    }
  };
  // Only files the loader or node could load are read: `.node` files (require), shared objects
  // (`*.so*`, found by DT_NEEDED through their names) and executables (a binary a package spawns).
  // The walk is synchronous: through fs/promises every lstat of thousands of small files is a
  // round trip to libuv's thread pool, which took longer than the rest of the check.
  const candidate = (name: string) => name.endsWith('.node') || /\.so(\.[0-9.]+)?$/.test(name);
  const walk = (rel: string): void => {
    const entries = readdirSync(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      const file = join(dir, path);
      if (e.isSymbolicLink() && links !== undefined) links.set(path, readlinkSync(file));
      if (!e.isFile()) continue;
      const st = lstatSync(file);
      if (!st.isFile() || (!candidate(e.name) && (st.mode & 0o111) === 0)) continue;
      if (!isElf(head(file)) && !e.name.endsWith('.node')) continue;
      found.push({ path, size: st.size, read: (offset, length) => readAt(file, offset, length) });
    }
    for (const e of entries) if (e.isDirectory()) walk(rel === '' ? e.name : `${rel}/${e.name}`);
  };
  walk('');
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Debian package names that may ship a soname, per Debian policy 8.1: libfoo.so.N is in libfooN,
 * or libfoo-N when the name ends in a digit (libsqlite3.so.0 -> libsqlite3-0); libfoo-1.2.so is
 * in libfoo-1.2. Each name also with trixie's t64 suffix (64-bit time_t transition, libssl3t64).
 * Lower case, `_` as `-`. Guesses: the caller keeps those its Packages index has.
 */
export function debianPackageCandidates(soname: string): string[] {
  const versioned = /^(.+)\.so\.(\d[\w.]*)$/.exec(soname);
  const named = versioned ? undefined : /^(.+-\d[\d.]*)\.so$/.exec(soname);
  let base: string;
  if (versioned)
    base = /\d$/.test(versioned[1]!) ? `${versioned[1]}-${versioned[2]}` : `${versioned[1]}${versioned[2]}`;
  else if (named) base = named[1]!;
  else return [];
  base = base.toLowerCase().replace(/_/g, '-');
  return /^[a-z0-9][a-z0-9+.-]+$/.test(base) ? [base, `${base}t64`] : [];
}
