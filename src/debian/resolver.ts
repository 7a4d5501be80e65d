/**
 * Dependency closure over binary package indexes (Packages files of one or more suites), for one
 * target architecture, following Depends and Pre-Depends (not Recommends / Suggests), the way
 * an image builder needs it: deterministic, greedy, no maintainer scripts.
 *
 * Choices, in order:
 * - a relation already satisfied by a selected (or already installed) package needs nothing;
 * - otherwise the first alternative of an OR group that has a candidate is taken ("satisfiable"
 *   means a package exists that meets the relation; the resolver does not backtrack if that
 *   package's own dependencies later fail);
 * - a real package of the relation's name is preferred over providers; the newest version
 *   across all suites wins (ties: the suite given first);
 * - among providers of a virtual name, the first provider in name order;
 * - versioned relations are met by versioned Provides only when the provided version satisfies;
 * - `name:any` is met only by packages with `Multi-Arch: allowed`.
 * Only one version of a package name is ever selected. Dependency cycles are fine: a package is
 * expanded once.
 */
import { DistillError } from '../errors.js';
import { BinaryPackage, type MultiArch, type PackageIndex, packageIndex } from './package.js';
import { formatGroup, formatRelation, parseRelation, type Relation, relationsForArch } from './relations.js';
import { compareVersions, parseVersion, satisfies } from './version.js';

export { BinaryPackage, type MultiArch, type PackageIndex, packageIndex };

export type PackageRequest = string | Relation;

export function parseRequest(req: PackageRequest): Relation {
  if (typeof req !== 'string') return req;
  const eq = /^([^\s=(]+)=([^\s=()]+)$/.exec(req.trim());
  if (eq) {
    parseVersion(eq[2]!);
    return parseRelation(`${eq[1]} (= ${eq[2]})`, 'request');
  }
  return parseRelation(req, 'request');
}

export interface ResolveOptions {
  indexes: readonly PackageIndex[];
  /** Debian architecture, e.g. `amd64`, `arm64`. `all` packages are always eligible. */
  arch: string;
  requests: readonly PackageRequest[];
  /** Package names already in the base: requests for them are skipped, relations to them hold. */
  alreadyInstalled?: Iterable<string>;
}

export interface ResolvedPackage {
  name: string;
  version: string;
  architecture: string;
  suite: string;
  package: BinaryPackage;
  /** Package names from the requested package down to this one, e.g. [nodejs, libnode, libc6]. */
  chain: string[];
  /** Why it is here: `requested` or `<parent> Depends: <relation group>`. */
  reason: string;
}

export interface Resolution {
  /** Sorted by name. */
  packages: ResolvedPackage[];
  /** Requests skipped because the name is already installed. */
  skipped: string[];
  /** Conflicts / Breaks between selected packages (not enforced; reported). */
  warnings: string[];
}

/** DEPENDENCY_UNSATISFIABLE with the chain that led there, e.g. ['nodejs-extra', 'libfoo (>= 2)']. */
export class DependencyError extends DistillError {
  readonly chain: string[];
  readonly detail: string;

  constructor(chain: string[], detail: string) {
    super('DEPENDENCY_UNSATISFIABLE', `${chain.join(' -> ')} -> ${detail}`);
    this.chain = chain;
    this.detail = detail;
  }
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Selected {
  pkg: BinaryPackage;
  chain: string[];
  reason: string;
}

export function resolve(opts: ResolveOptions): Resolution {
  return new Resolver(opts).run();
}

class Resolver {
  private readonly arch: string;
  private readonly suites: string;
  /** name -> eligible packages of that name, newest first. */
  private readonly byName = new Map<string, BinaryPackage[]>();
  /** name -> every package of that name, any architecture (for error messages). */
  private readonly anyArch = new Map<string, BinaryPackage[]>();
  /** virtual name -> eligible providers. */
  private readonly providers = new Map<string, { pkg: BinaryPackage; version: string | undefined }[]>();
  private readonly installed: Set<string>;
  private readonly installedProvides = new Set<string>();
  private readonly selected = new Map<string, Selected>();
  private readonly selectedProviders = new Map<
    string,
    { pkg: BinaryPackage; version: string | undefined }[]
  >();
  private readonly queue: Selected[] = [];
  private readonly requests: readonly PackageRequest[];

  constructor(opts: ResolveOptions) {
    this.arch = opts.arch;
    this.requests = opts.requests;
    this.suites = [...new Set(opts.indexes.map((i) => i.suite))].join(', ') || 'no index';
    let order = 0;
    const rank = new Map<BinaryPackage, number>();
    for (const index of opts.indexes) {
      for (const pkg of index.packages) {
        rank.set(pkg, order++);
        push(this.anyArch, pkg.name, pkg);
        if (pkg.architecture !== this.arch && pkg.architecture !== 'all') continue;
        push(this.byName, pkg.name, pkg);
        for (const p of pkg.provides) push(this.providers, p.name, { pkg, version: p.version });
      }
    }
    const newestFirst = (a: BinaryPackage, b: BinaryPackage) =>
      compareVersions(b.version, a.version) || rank.get(a)! - rank.get(b)!;
    for (const list of this.byName.values()) list.sort(newestFirst);
    for (const list of this.providers.values()) {
      list.sort((a, b) => byName(a.pkg.name, b.pkg.name) || newestFirst(a.pkg, b.pkg));
    }
    this.installed = new Set(opts.alreadyInstalled ?? []);
    for (const name of this.installed) {
      const pkg = this.byName.get(name)?.[0];
      for (const p of pkg?.provides ?? []) this.installedProvides.add(p.name);
    }
  }

  run(): Resolution {
    const skipped: string[] = [];
    for (const req of this.requests) {
      const rel = parseRequest(req);
      const text = typeof req === 'string' ? req.trim() : formatRelation(req);
      if (this.installed.has(rel.name)) {
        skipped.push(rel.name);
        continue;
      }
      if (this.satisfiedBySelection(rel)) continue;
      const pick = this.candidate(rel);
      if (!pick) throw new DependencyError([text], this.explain(rel));
      this.select(pick, [pick.name], 'requested');
    }
    for (let i = 0; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      this.expand(item, 'Pre-Depends');
      this.expand(item, 'Depends');
    }
    const packages = [...this.selected.values()]
      .sort((a, b) => byName(a.pkg.name, b.pkg.name))
      .map((s) => ({
        name: s.pkg.name,
        version: s.pkg.version,
        architecture: s.pkg.architecture,
        suite: s.pkg.suite,
        package: s.pkg,
        chain: s.chain,
        reason: s.reason,
      }));
    return { packages, skipped, warnings: this.conflicts() };
  }

  private expand(item: Selected, field: 'Depends' | 'Pre-Depends'): void {
    for (const group of relationsForArch(item.pkg.relations(field), this.arch)) {
      if (group.some((r) => this.satisfiedBySelection(r))) continue;
      let picked = false;
      for (const rel of group) {
        const pick = this.candidate(rel);
        if (pick) {
          this.select(pick, [...item.chain, pick.name], `${item.pkg.name} ${field}: ${formatGroup(group)}`);
          picked = true;
          break;
        }
      }
      if (!picked) {
        const detail =
          group.length === 1
            ? this.explain(group[0]!)
            : `none in ${this.suites} (${group.map((r) => `${r.name}: ${this.explain(r, true)}`).join('; ')})`;
        throw new DependencyError([...item.chain, formatGroup(group)], detail);
      }
    }
  }

  private select(pkg: BinaryPackage, chain: string[], reason: string): void {
    const s = { pkg, chain, reason };
    this.selected.set(pkg.name, s);
    for (const p of pkg.provides) push(this.selectedProviders, p.name, { pkg, version: p.version });
    this.queue.push(s);
  }

  private qualifierOk(pkg: BinaryPackage, rel: Relation): boolean {
    const q = rel.archQualifier;
    if (q === undefined || q === 'native') return true;
    if (q === 'any') return pkg.multiArch === 'allowed';
    return pkg.architecture === q || pkg.architecture === 'all';
  }

  private versionOk(version: string | undefined, rel: Relation): boolean {
    if (!rel.constraint) return true;
    if (version === undefined) return false;
    return satisfies(version, rel.constraint.op, rel.constraint.version);
  }

  private satisfiedBySelection(rel: Relation): boolean {
    if (this.installed.has(rel.name) || this.installedProvides.has(rel.name)) return true;
    const s = this.selected.get(rel.name);
    if (s && this.versionOk(s.pkg.version, rel) && this.qualifierOk(s.pkg, rel)) return true;
    return (this.selectedProviders.get(rel.name) ?? []).some(
      (p) => this.versionOk(p.version, rel) && this.qualifierOk(p.pkg, rel),
    );
  }

  /** The package to select for a relation not yet satisfied, if any. */
  private candidate(rel: Relation): BinaryPackage | undefined {
    if (!this.selected.has(rel.name)) {
      for (const pkg of this.byName.get(rel.name) ?? []) {
        if (this.versionOk(pkg.version, rel) && this.qualifierOk(pkg, rel)) return pkg;
      }
    }
    for (const p of this.providers.get(rel.name) ?? []) {
      if (this.selected.has(p.pkg.name)) continue; // another version of it is already chosen
      if (this.versionOk(p.version, rel) && this.qualifierOk(p.pkg, rel)) return p.pkg;
    }
    return undefined;
  }

  /** Why nothing satisfies `rel`, for the error message. */
  private explain(rel: Relation, short = false): string {
    const prefix = short ? '' : `none in ${this.suites} `;
    const sel = this.selected.get(rel.name);
    if (sel && !this.versionOk(sel.pkg.version, rel)) {
      const why = sel.chain.length > 1 ? `via ${sel.chain.join(' -> ')}` : 'requested';
      return `${prefix}(${rel.name} ${sel.pkg.version} is already selected (${why}))`.trim();
    }
    const eligible = this.byName.get(rel.name) ?? [];
    const provs = this.providers.get(rel.name) ?? [];
    if (eligible.length > 0) {
      const avail = eligible.map((p) => p.version).join(', ');
      if (rel.archQualifier === 'any' && eligible.every((p) => p.multiArch !== 'allowed')) {
        return `${prefix}(${rel.name}:any needs Multi-Arch: allowed; available: ${avail})`.trim();
      }
      return `${prefix}(available: ${avail})`.trim();
    }
    if (provs.length > 0) {
      const list = provs.map((p) => `${p.pkg.name}${p.version ? ` provides ${p.version}` : ''}`).join(', ');
      return `${prefix}(virtual; providers: ${list})`.trim();
    }
    const other = this.anyArch.get(rel.name) ?? [];
    if (other.length > 0) {
      const arches = [...new Set(other.map((p) => p.architecture))].sort().join(', ');
      return `${prefix}(not built for ${this.arch}; only for ${arches})`.trim();
    }
    return `${prefix}(no package or provider of that name)`.trim();
  }

  private conflicts(): string[] {
    const out: string[] = [];
    for (const { pkg } of [...this.selected.values()].sort((a, b) => byName(a.pkg.name, b.pkg.name))) {
      for (const field of ['Conflicts', 'Breaks'] as const) {
        for (const group of relationsForArch(pkg.relations(field), this.arch)) {
          for (const rel of group) {
            const other = this.selected.get(rel.name);
            if (other && other.pkg !== pkg && this.versionOk(other.pkg.version, rel)) {
              out.push(
                `${pkg.name} ${pkg.version} ${field}: ${formatRelation(rel)}, but ${other.pkg} is selected`,
              );
            }
            if (!rel.constraint) {
              for (const p of this.selectedProviders.get(rel.name) ?? []) {
                if (p.pkg !== pkg && p.pkg.name !== rel.name) {
                  out.push(`${pkg.name} ${pkg.version} ${field}: ${rel.name}, provided by selected ${p.pkg}`);
                }
              }
            }
          }
        }
      }
    }
    return out;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
