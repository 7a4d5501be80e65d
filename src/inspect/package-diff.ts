/**
 * The package difference `distill compare` shows: each image against the first (the baseline a
 * reader has in mind: "my image against distroless"), per package type (deb, apk, rpm, npm),
 * packages by name added, removed, or with other versions. A name may be installed at several
 * versions (npm nests them), so each side is the set of versions of a name.
 */
import type { Facts } from './facts.js';

export interface PackageVersions {
  name: string;
  /** Sorted; null for a package whose version is unknown. */
  versions: (string | null)[];
}

export interface PackageChange {
  name: string;
  from: (string | null)[];
  to: (string | null)[];
}

export interface PackageTypeDiff {
  type: string;
  added: PackageVersions[];
  removed: PackageVersions[];
  changed: PackageChange[];
  /** Names with the same versions in both. */
  unchanged: number;
}

export interface PackageDiff {
  /** The image compared with the first: its index in the comparison (1, 2, ...). */
  image: number;
  /** Per package type either image has, in the order deb, apk, rpm, npm, then others by name. */
  types: PackageTypeDiff[];
}

const TYPE_ORDER = ['deb', 'apk', 'rpm', 'npm'];

function typeOrder(a: string, b: string): number {
  const i = TYPE_ORDER.indexOf(a);
  const j = TYPE_ORDER.indexOf(b);
  if (i >= 0 || j >= 0) return (i < 0 ? TYPE_ORDER.length : i) - (j < 0 ? TYPE_ORDER.length : j);
  return a < b ? -1 : a > b ? 1 : 0;
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function versionOrder(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

/** type -> name -> versions. */
function index(f: Facts): Map<string, Map<string, (string | null)[]>> {
  const out = new Map<string, Map<string, (string | null)[]>>();
  for (const p of f.packages) {
    let names = out.get(p.type);
    if (!names) {
      names = new Map();
      out.set(p.type, names);
    }
    const versions = names.get(p.name);
    if (versions === undefined) names.set(p.name, [p.version]);
    else if (!versions.includes(p.version)) versions.push(p.version);
  }
  for (const names of out.values()) for (const v of names.values()) v.sort(versionOrder);
  return out;
}

function sameVersions(a: readonly (string | null)[], b: readonly (string | null)[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function typeDiff(type: string, from: Map<string, (string | null)[]>, to: Map<string, (string | null)[]>) {
  const d: PackageTypeDiff = { type, added: [], removed: [], changed: [], unchanged: 0 };
  for (const [name, versions] of to) {
    const old = from.get(name);
    if (old === undefined) d.added.push({ name, versions });
    else if (sameVersions(old, versions)) d.unchanged++;
    else d.changed.push({ name, from: old, to: versions });
  }
  for (const [name, versions] of from) if (!to.has(name)) d.removed.push({ name, versions });
  d.added.sort(byName);
  d.removed.sort(byName);
  d.changed.sort(byName);
  return d;
}

/** The packages of `other` against those of `base`, per type. */
export function packageTypeDiffs(base: Facts, other: Facts): PackageTypeDiff[] {
  const a = index(base);
  const b = index(other);
  const types = [...new Set([...a.keys(), ...b.keys()])].sort(typeOrder);
  return types.map((t) => typeDiff(t, a.get(t) ?? new Map(), b.get(t) ?? new Map()));
}

/** Every image after the first against the first. */
export function packageDiffs(images: readonly Facts[]): PackageDiff[] {
  const base = images[0];
  if (base === undefined) return [];
  return images.slice(1).map((f, i) => ({ image: i + 1, types: packageTypeDiffs(base, f) }));
}

function versionText(versions: readonly (string | null)[]): string {
  return versions.map((v) => v ?? 'unknown version').join(', ');
}

/** One line of a diff for a report: what changed, the package, its version(s) (`1.0 -> 2.0`). */
export interface DiffRow {
  change: 'added' | 'removed' | 'changed';
  name: string;
  version: string;
}

/**
 * The rows of a type's diff, added then removed then changed, at most `max` (the JSON has them
 * all: a comparison with a Node app's image can add thousands of npm packages); `omitted` counts
 * the rest.
 */
export function diffRows(t: PackageTypeDiff, max: number): { rows: DiffRow[]; omitted: number } {
  const rows: DiffRow[] = [
    ...t.added.map((p): DiffRow => ({ change: 'added', name: p.name, version: versionText(p.versions) })),
    ...t.removed.map((p): DiffRow => ({ change: 'removed', name: p.name, version: versionText(p.versions) })),
    ...t.changed.map(
      (p): DiffRow => ({
        change: 'changed',
        name: p.name,
        version: `${versionText(p.from)} -> ${versionText(p.to)}`,
      }),
    ),
  ];
  return { rows: rows.slice(0, max), omitted: Math.max(0, rows.length - max) };
}

/** Rows listed per package type in text, Markdown and HTML reports. */
export const MAX_DIFF_ROWS = 100;
