import { DistillError } from '../errors.js';
import { yamlModule } from '../sources/app/bins.js';
import { matches, type NativeFound, NODE_CPU } from './native-routes.js';

/**
 * The native packages of pnpm's and yarn berry's lockfiles (decision 0024, issue 20), found the
 * way package-lock.json's are (native-routes.ts): a package whose optional dependencies are
 * per-platform packages (they name a `cpu`, `os` or `libc`) takes the target's
 * (`target-packages`); a package whose install scripts run may compile (`compile`).
 *
 * - pnpm-lock.yaml (v6 and v9): `packages` give each package's cpu/os/libc (and, in v6,
 *   `requiresBuild`), `snapshots` (v9) or `packages` (v6) its dependencies; the packages reached
 *   from the importers are read (devDependencies with a build script). Which scripts run: pnpm 10
 *   and later run only those of `allowBuilds` / `onlyBuiltDependencies` (pnpm-workspace.yaml or
 *   package.json's "pnpm"), so those are the packages that may compile; v6 lockfiles record
 *   `requiresBuild`. A v9 lockfile of pnpm 9, or `dangerouslyAllowAllBuilds`, says nothing of
 *   scripts: then `scriptsUnknown`.
 * - yarn.lock of yarn berry: per-platform packages carry `conditions: os=linux & cpu=arm64 & ...`;
 *   build scripts are not recorded (`scriptsUnknown`), and there is no dev/production mark, so
 *   every entry is read.
 * yarn 1's yarn.lock records neither platforms nor scripts: its routes stay `undecided`.
 */
export interface NativeLockRead {
  found: NativeFound[];
  scriptsUnknown?: string;
}

interface Platformed {
  cpu?: string[];
  os?: string[];
  libc?: string[];
}

const isPlatformed = (e: Platformed | undefined) =>
  e !== undefined && (e.cpu !== undefined || e.os !== undefined || e.libc !== undefined);

/** Whether a per-platform package is the linux/glibc one of `arch`. */
export function forTarget(e: Platformed, arch: string): boolean {
  const cpu = NODE_CPU[arch] ?? arch;
  return matches(e.os, 'linux') && matches(e.cpu, cpu) && matches(e.libc, 'glibc');
}

/**
 * A YAML file's top-level map. The parser is loaded on use, as src/sources/app/bins.ts does: a
 * static import would put a quarter of a megabyte of code on every build's start (decision 0025).
 */
export async function readYaml(text: string, file: string): Promise<Record<string, unknown>> {
  const { parse } = await yamlModule();
  try {
    const doc: unknown = parse(text, { maxAliasCount: 0 });
    return doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>) : {};
  } catch (err) {
    throw new DistillError('APP_INVALID', `${file} is not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

interface PnpmEntry extends Platformed {
  requiresBuild?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

type PnpmDeps = Record<string, string | { version?: string }>;

/** What pnpm's settings say about install scripts: which packages' run, or undefined when all may. */
export interface PnpmBuilds {
  /** The pnpm version that installs (its major decides whether scripts run by default). */
  pnpmVersion: string;
  /** allowBuilds (true) and onlyBuiltDependencies of pnpm-workspace.yaml and package.json "pnpm". */
  allowed?: string[];
  /** dangerouslyAllowAllBuilds: true. */
  allowAll?: boolean;
}

/** pnpm's build settings from pnpm-workspace.yaml's text and package.json's "pnpm" field. */
export function pnpmBuildsOf(
  pnpmVersion: string,
  workspace: Record<string, unknown> | undefined,
  packageJsonPnpm: unknown,
): PnpmBuilds {
  const sources = [
    workspace ?? {},
    packageJsonPnpm !== null && typeof packageJsonPnpm === 'object'
      ? (packageJsonPnpm as Record<string, unknown>)
      : {},
  ];
  let allowed: string[] | undefined;
  let allowAll = false;
  for (const s of sources) {
    const only = s.onlyBuiltDependencies;
    const allow = s.allowBuilds;
    if (Array.isArray(only)) allowed = [...(allowed ?? []), ...only.map(String)];
    if (allow !== null && typeof allow === 'object') {
      const yes = Object.entries(allow as Record<string, unknown>).filter(([, v]) => v === true);
      // A key may pin a version (esbuild@0.28.2); the name is what is matched.
      allowed = [...(allowed ?? []), ...yes.map(([k]) => k.replace(/(.)@.*$/, '$1'))];
    }
    if (s.dangerouslyAllowAllBuilds === true) allowAll = true;
  }
  return { pnpmVersion, ...(allowed !== undefined && { allowed }), ...(allowAll && { allowAll }) };
}

/** name and version of a dependency's lockfile reference; undefined for link:/file:/workspace ones. */
function pnpmRef(name: string, ref: string): { name: string; version: string } | undefined {
  if (/^(link|file|workspace|portal):/.test(ref)) return undefined;
  // An alias (string-width-cjs: string-width@4.2.3) names the package it stands for.
  const alias = /^(@?[^@(]+)@([^(].*)$/.exec(ref);
  return alias !== null ? { name: alias[1]!, version: alias[2]! } : { name, version: ref };
}

/** The native packages of a pnpm-lock.yaml (lockfileVersion 6 or 9) for `arch`. */
export function pnpmNativePackages(
  lock: Record<string, unknown>,
  file: string,
  arch: string,
  withDev: boolean,
  builds: PnpmBuilds,
): NativeLockRead {
  const packages = (lock.packages ?? {}) as Record<string, PnpmEntry>;
  const snapshots = (lock.snapshots ?? {}) as Record<string, PnpmEntry>;
  const v6 = Number.parseFloat(String(lock.lockfileVersion ?? '9')) < 9;
  const meta = (name: string, version: string) => {
    const bare = version.replace(/\(.*$/, '');
    return packages[`${name}@${bare}`] ?? packages[`/${name}@${bare}`];
  };
  const deps = (name: string, version: string) =>
    snapshots[`${name}@${version}`] ?? packages[`/${name}@${version}`];
  const importers = (lock.importers ?? { '.': lock }) as Record<string, Record<string, PnpmDeps | undefined>>;
  const queue: { name: string; version: string }[] = [];
  for (const imp of Object.values(importers)) {
    for (const field of ['dependencies', 'optionalDependencies', ...(withDev ? ['devDependencies'] : [])]) {
      for (const [name, v] of Object.entries(imp[field] ?? {})) {
        const ref = pnpmRef(name, typeof v === 'string' ? v : (v.version ?? ''));
        if (ref !== undefined) queue.push(ref);
      }
    }
  }
  const allowed = new Set(builds.allowed ?? []);
  const allowAll = builds.allowAll === true;
  // With an allow-list, only its packages' scripts run; without one, pnpm 10 and later run none.
  const listed = builds.allowed !== undefined && !allowAll;
  const byDefault = allowAll || (!listed && Number(builds.pnpmVersion.split('.')[0]) < 10);
  const scriptsUnknown =
    !v6 && !listed && byDefault
      ? `${file} (lockfile v9) does not record install scripts, and pnpm ${builds.pnpmVersion} runs every package's${allowAll ? ' (dangerouslyAllowAllBuilds)' : ''}`
      : undefined;
  const out = new Map<string, NativeFound>();
  const seen = new Set<string>();
  for (let ref = queue.pop(); ref !== undefined; ref = queue.pop()) {
    const key = `${ref.name}@${ref.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const m = meta(ref.name, ref.version);
    if (isPlatformed(m)) continue;
    const d = deps(ref.name, ref.version) ?? {};
    const version = ref.version.replace(/\(.*$/, '');
    const platformDeps = Object.entries(d.optionalDependencies ?? {}).filter(([n, v]) =>
      isPlatformed(meta(n, v)),
    );
    const mine = platformDeps.filter(([n, v]) => forTarget(meta(n, v)!, arch)).map(([n]) => n);
    const runs = listed ? allowed.has(ref.name) : byDefault;
    if (mine.length > 0) {
      out.set(key, {
        name: ref.name,
        version,
        kind: 'target-packages',
        why: `optional dependencies ${mine.join(', ')}`,
      });
    } else if (runs && (v6 ? m?.requiresBuild === true : listed)) {
      const why = v6 ? 'install script' : 'allowed to run install scripts in the pnpm settings';
      out.set(key, { name: ref.name, version, kind: 'compile', why });
    }
    for (const [n, v] of [
      ...Object.entries(d.dependencies ?? {}),
      ...Object.entries(d.optionalDependencies ?? {}),
    ]) {
      const r = pnpmRef(n, v);
      if (r !== undefined) queue.push(r);
    }
  }
  const found = [...out.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version),
  );
  return { found, ...(scriptsUnknown !== undefined && { scriptsUnknown }) };
}

interface BerryEntry {
  version?: string;
  dependencies?: Record<string, string>;
  conditions?: string;
}

/** `os=linux & cpu=arm64 & libc=glibc` (yarn berry's conditions) as cpu/os/libc lists. */
export function berryConditions(conditions: string): Platformed {
  const out: Record<string, string[]> = {};
  for (const part of conditions.split('&')) {
    for (const alt of part.replace(/[()]/g, '').split('|')) {
      const [k, v] = alt.split('=').map((s) => s.trim());
      if (k === undefined || v === undefined || !['os', 'cpu', 'libc'].includes(k)) continue;
      out[k] = [...(out[k] ?? []), v];
    }
  }
  return out;
}

/** The native packages of a yarn berry yarn.lock for `arch` (every entry; scripts are not recorded). */
export function berryNativePackages(
  lock: Record<string, unknown>,
  file: string,
  arch: string,
): NativeLockRead {
  const byDescriptor = new Map<string, BerryEntry>();
  for (const [keys, e] of Object.entries(lock)) {
    if (keys === '__metadata') continue;
    for (const k of keys.split(',')) byDescriptor.set(k.trim(), e as BerryEntry);
  }
  const out: NativeFound[] = [];
  const seen = new Set<string>();
  for (const [keys, raw] of Object.entries(lock)) {
    const e = raw as BerryEntry;
    if (keys === '__metadata' || e.conditions !== undefined) continue;
    const name = keys
      .split(',')[0]!
      .trim()
      .replace(/^(@?[^@]+)@.*$/, '$1');
    const mine = Object.entries(e.dependencies ?? {}).filter(([n, range]) => {
      const dep = byDescriptor.get(`${n}@${range}`) ?? byDescriptor.get(`${n}@npm:${range}`);
      return dep?.conditions !== undefined && forTarget(berryConditions(dep.conditions), arch);
    });
    const id = `${name}@${e.version ?? '?'}`;
    if (mine.length === 0 || seen.has(id)) continue;
    seen.add(id);
    out.push({
      name,
      version: e.version ?? '?',
      kind: 'target-packages',
      why: `optional dependencies ${mine.map(([n]) => n).join(', ')}`,
    });
  }
  return {
    found: out.sort((a, b) => a.name.localeCompare(b.name)),
    scriptsUnknown: `${file} (yarn berry) does not record which packages run build scripts`,
  };
}
