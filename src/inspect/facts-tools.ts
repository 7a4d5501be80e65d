/**
 * Executables an image holds, found as a container's PATH would: shells, package managers and
 * living-off-the-land tools (lotl.ts) in the standard bin directories and those of the config's
 * PATH, through symlinks inside the image.
 */
import type { ImageConfigJson } from '../oci/types.js';
import type { Executable, LotlFinding } from './facts.js';
import { probeOf } from './facts-probes.js';
import { byPath } from './facts-scan.js';
import { LOTL_TOOLS } from './lotl.js';
import { resolvePath } from './resolve.js';
import type { Tree } from './tree.js';

const STANDARD_BIN_DIRS = ['/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'];

const SHELLS = ['sh', 'ash', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'fish', 'tcsh', 'csh', 'busybox'];

interface ToolSpec {
  name: string;
  names?: readonly string[];
  pattern?: RegExp;
  /** Entry points off PATH that count too (run through their interpreter): need not be executable. */
  files?: readonly string[];
}

const PACKAGE_MANAGERS: readonly ToolSpec[] = [
  { name: 'apk' },
  { name: 'apt', names: ['apt', 'apt-get'] },
  { name: 'dpkg' },
  { name: 'rpm' },
  { name: 'dnf', names: ['dnf', 'dnf5', 'dnf-3'] },
  { name: 'microdnf' },
  { name: 'yum' },
  { name: 'pip', pattern: /^pip[0-9.]*$/ },
  {
    name: 'npm',
    names: ['npm', 'npx'],
    files: ['/usr/local/lib/node_modules/npm/bin/npm-cli.js', '/usr/lib/node_modules/npm/bin/npm-cli.js'],
  },
  { name: 'yarn', names: ['yarn', 'yarnpkg'] },
  { name: 'pnpm', names: ['pnpm', 'pnpx'] },
  {
    name: 'corepack',
    files: [
      '/usr/local/lib/node_modules/corepack/dist/corepack.js',
      '/usr/lib/node_modules/corepack/dist/corepack.js',
    ],
  },
];

function byNameThenPath<T extends { name: string; path: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : byPath(a, b);
}

export class ToolFinder {
  private readonly listings = new Map<string, string[]>();
  constructor(
    private readonly tree: Tree,
    readonly dirs: readonly string[],
    private readonly warn: (m: string) => void,
  ) {}

  /** Names in a bin directory (through symlinks), for pattern matches. */
  private list(dir: string): string[] {
    let names = this.listings.get(dir);
    if (!names) {
      const r = resolvePath(this.tree, dir);
      names = r.ok && r.node.children ? [...r.node.children.keys()].sort() : [];
      this.listings.set(dir, names);
    }
    return names;
  }

  /** The first bin directory holding `file` as an executable regular file (through symlinks). */
  executable(report: string, file: string): Executable | undefined {
    for (const dir of this.dirs) {
      const path = `${dir}/${file}`;
      const found = this.at(report, path, true);
      if (found) return found;
    }
    return undefined;
  }

  at(report: string, path: string, needExec: boolean): Executable | undefined {
    const r = resolvePath(this.tree, path);
    if (!r.ok) {
      if (r.reason !== 'loop') return undefined;
      this.warn(
        `${path} is a symlink loop or a chain of more than 40 links; whether ${report} is there is unknown`,
      );
      return { name: report, path, target: null, status: 'unknown' };
    }
    if (r.node.type !== 'file' || (needExec && (r.node.mode & 0o111) === 0)) return undefined;
    return { name: report, path, target: r.path === path ? null : r.path, status: 'present' };
  }

  /**
   * Every file name the spec goes by, each at its first bin directory, reported as the spec's
   * name, or with `own` as the file's own name (lotl: `su` is su, `python3.13` python3.13).
   */
  find(spec: ToolSpec, own = false): Executable[] {
    const names = new Set(spec.names ?? (spec.pattern ? [] : [spec.name]));
    if (spec.pattern)
      for (const d of this.dirs) for (const n of this.list(d)) if (spec.pattern.test(n)) names.add(n);
    const out: Executable[] = [];
    for (const n of names) {
      const e = this.executable(own ? n : spec.name, n);
      if (e) out.push(e);
    }
    for (const f of spec.files ?? []) {
      const e = this.at(spec.name, f, false);
      if (e) out.push(e);
    }
    return out;
  }
}

/** The bin directories searched: the standard ones, then those of PATH in the config's Env. */
export function binDirs(env: readonly string[]): string[] {
  const pathDirs = (envValue(env, 'PATH') ?? '').split(':').filter((d) => d.startsWith('/'));
  return [...new Set([...STANDARD_BIN_DIRS, ...pathDirs.map((d) => d.replace(/\/+$/, ''))])].filter(
    (d) => d !== '',
  );
}

/**
 * Shells, package managers and lotl tools, each list sorted by name, then path. Shells are the
 * known shell names on PATH and the login shells /etc/shells lists.
 */
export function toolFacts(
  tree: Tree,
  finder: ToolFinder,
): {
  shells: Executable[];
  packageManagers: Executable[];
  lotl: LotlFinding[];
} {
  const known = SHELLS.flatMap((name) => finder.find({ name }));
  const shells = [...known, ...listedShells(tree, finder, known)].sort(byNameThenPath);
  const packageManagers = PACKAGE_MANAGERS.flatMap((s) => finder.find(s)).sort(byNameThenPath);
  const lotl = LOTL_TOOLS.flatMap((t) =>
    finder.find(t, true).map((e): LotlFinding => ({ ...e, reason: t.reason })),
  ).sort(byNameThenPath);
  return { shells, packageManagers, lotl };
}

/** Listed in /etc/shells by some systems, but no shell: they refuse a login. */
const NOT_SHELLS = new Set(['nologin', 'false', 'true']);

/**
 * The login shells of /etc/shells (read through the merged tree) that are executable files in the
 * image, named after their file (`/bin/rbash` is rbash); a path listed that is not there is no
 * shell, and one that is a shell already found (same name, same file) is not listed twice.
 */
function listedShells(tree: Tree, finder: ToolFinder, known: readonly Executable[]): Executable[] {
  const r = resolvePath(tree, '/etc/shells');
  const probe = r.ok ? probeOf(r.node) : undefined;
  if (probe?.kind !== 'shells') return [];
  const seen = new Set(known.map((e) => `${e.name} ${e.target ?? e.path}`));
  const out: Executable[] = [];
  for (const path of probe.paths) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (name === '' || NOT_SHELLS.has(name)) continue;
    const e = finder.at(name, path, true);
    if (!e) continue;
    const key = `${e.name} ${e.target ?? e.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

export function configEnv(config: ImageConfigJson | undefined): string[] {
  const env = config?.config?.Env;
  return Array.isArray(env) ? env.filter((e): e is string => typeof e === 'string') : [];
}

export function envValue(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    if (e.startsWith(`${name}=`)) return e.slice(name.length + 1);
  }
  return undefined;
}
