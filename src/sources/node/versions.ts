import { DistillError } from '../../errors.js';
import { activeLts, LTS_LINES, ltsMajorOf } from './lts.js';

/**
 * Node version specs, resolved against a list of exact versions (`24.11.1`). Only release
 * versions (`X.Y.Z`) take part; pre-releases and odd registry versions (`8.1.4-win12`) are ignored.
 *
 * Accepted specs (a subset of npm's semver ranges, plus nvm's aliases):
 * - `latest`, `node`, `current`, `*`, `x`: the newest version;
 * - `lts`, `lts/*`: the newest version of the active LTS line (see activeLts); `lts/<codename>`
 *   (case-insensitive): the newest version of that line;
 * - a version, whole or partial, with an optional `v`: `24`, `24.11`, `24.11.1`, `v24.11.1`,
 *   `24.x`, `24.11.*`;
 * - comparators `>=`, `>`, `<=`, `<`, `=` with whole or partial versions, `^` and `~` ranges,
 *   hyphen ranges (`20 - 22.3`), space-separated sets (`>=20 <23`, all must hold) and `||`
 *   alternatives.
 */

export type Version = readonly [number, number, number];

const EXACT_RE = /^v?(\d+)\.(\d+)\.(\d+)$/;

/** Parses `X.Y.Z` (optional `v`); undefined for anything else. */
export function parseExactVersion(s: string): Version | undefined {
  const m = EXACT_RE.exec(s.trim());
  if (!m) return undefined;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])] as const;
  return v.every(Number.isSafeInteger) ? v : undefined;
}

export function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Release versions only, deduplicated, newest first. */
export function sortVersionsDesc(versions: Iterable<string>): string[] {
  const seen = new Map<string, Version>();
  for (const s of versions) {
    const v = parseExactVersion(s);
    if (v) seen.set(v.join('.'), v);
  }
  return [...seen.values()].sort((a, b) => compareVersions(b, a)).map((v) => v.join('.'));
}

type Op = '>=' | '>' | '<=' | '<' | '=';
interface Comparator {
  op: Op;
  v: Version;
}
/** A range: alternatives, each a set of comparators that must all hold. */
type Range = Comparator[][];

function invalidSpec(spec: string, why: string): DistillError {
  return new DistillError(
    'VERSION_INVALID',
    `"${spec}" is not a Node version spec (${why}); use a version like 24, 24.11 or 24.11.1, a range like ">=20 <23" or "^22.3", or lts, lts/<codename> or latest`,
  );
}

/** A partial version: undefined parts are wildcards (`24` -> [24, undefined, undefined]). */
type Partial = [number | undefined, number | undefined, number | undefined];

function parsePartial(text: string, spec: string): Partial {
  const t = text.replace(/^v/, '');
  if (t === '' || t === '*' || t === 'x' || t === 'X') return [undefined, undefined, undefined];
  const parts = t.split('.');
  if (parts.length > 3) throw invalidSpec(spec, `"${text}" has more than three parts`);
  const out: Partial = [undefined, undefined, undefined];
  let wild = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '*' || p === 'x' || p === 'X') {
      wild = true;
      continue;
    }
    if (!/^\d+$/.test(p)) throw invalidSpec(spec, `"${text}" is not a version`);
    if (wild) throw invalidSpec(spec, `"${text}" has a number after a wildcard`);
    const n = Number(p);
    if (!Number.isSafeInteger(n)) throw invalidSpec(spec, `"${text}" has a number too large`);
    out[i] = n;
  }
  return out;
}

/** The number of leading defined parts of a partial version. */
function defined(p: Partial): number {
  return p[0] === undefined ? 0 : p[1] === undefined ? 1 : p[2] === undefined ? 2 : 3;
}

function lo(p: Partial): Version {
  return [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
}

/** The first version above every version the partial covers (`24.11` -> 24.12.0). */
function nextAfter(p: Partial): Version {
  switch (defined(p)) {
    case 1:
      return [p[0]! + 1, 0, 0];
    case 2:
      return [p[0]!, p[1]! + 1, 0];
    default:
      return [p[0]!, p[1]!, p[2]! + 1];
  }
}

function comparatorsFor(op: string, p: Partial): Comparator[] {
  const n = defined(p);
  if (n === 0) {
    // `*`, `>=*`, `<=*`: everything; `<*` and `>*`: nothing.
    return op === '<' || op === '>' ? [{ op: '<', v: [0, 0, 0] }] : [];
  }
  switch (op) {
    case '':
    case '=':
      return n === 3
        ? [{ op: '=', v: lo(p) }]
        : [
            { op: '>=', v: lo(p) },
            { op: '<', v: nextAfter(p) },
          ];
    case '>=':
      return [{ op: '>=', v: lo(p) }];
    case '>':
      return n === 3 ? [{ op: '>', v: lo(p) }] : [{ op: '>=', v: nextAfter(p) }];
    case '<':
      return [{ op: '<', v: lo(p) }];
    case '<=':
      return n === 3 ? [{ op: '<=', v: lo(p) }] : [{ op: '<', v: nextAfter(p) }];
    case '~':
      // ~X.Y.Z and ~X.Y: same minor; ~X: same major.
      return [
        { op: '>=', v: lo(p) },
        { op: '<', v: n === 1 ? [p[0]! + 1, 0, 0] : [p[0]!, p[1]! + 1, 0] },
      ];
    case '^': {
      // The leftmost non-zero part among the defined ones stays fixed.
      const [a, b, c] = lo(p);
      let upper: Version;
      if (a > 0 || n === 1) upper = [a + 1, 0, 0];
      else if (b > 0 || n === 2) upper = [0, b + 1, 0];
      else upper = [0, 0, c + 1];
      return [
        { op: '>=', v: lo(p) },
        { op: '<', v: upper },
      ];
    }
    default:
      throw new Error(`unreachable operator ${op}`);
  }
}

const COMPARATOR_RE = /^(>=|<=|>|<|=|\^|~>?|)\s*(v?[0-9xX*][0-9xX*.]*|v?)$/;

function parseRange(spec: string): Range {
  const alternatives = spec.split('||').map((s) => s.trim());
  const range: Range = [];
  for (const alt of alternatives) {
    if (alt === '') {
      range.push([]); // an empty alternative means any version, as in npm
      continue;
    }
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(alt);
    if (hyphen) {
      const from = parsePartial(hyphen[1]!, spec);
      const to = parsePartial(hyphen[2]!, spec);
      range.push([...comparatorsFor('>=', from), ...comparatorsFor('<=', to)]);
      continue;
    }
    // Join an operator separated from its version by spaces (`>= 20`).
    const tokens = alt.replace(/(>=|<=|>|<|=|\^|~>?)\s+/g, '$1').split(/\s+/);
    const set: Comparator[] = [];
    for (const tok of tokens) {
      const m = COMPARATOR_RE.exec(tok);
      if (!m || (m[1] === '' && m[2] === '')) throw invalidSpec(spec, `"${tok}" is not a comparator`);
      const op = m[1] === '~>' ? '~' : m[1]!;
      if (m[2] === '' || m[2] === 'v') throw invalidSpec(spec, `"${tok}" has no version`);
      set.push(...comparatorsFor(op, parsePartial(m[2]!, spec)));
    }
    range.push(set);
  }
  return range;
}

function holds(c: Comparator, v: Version): boolean {
  const d = compareVersions(v, c.v);
  switch (c.op) {
    case '=':
      return d === 0;
    case '>=':
      return d >= 0;
    case '>':
      return d > 0;
    case '<=':
      return d <= 0;
    case '<':
      return d < 0;
  }
}

function inRange(range: Range, v: Version): boolean {
  return range.some((set) => set.every((c) => holds(c, v)));
}

export interface PickOptions {
  /** The day `lts` means (default: now). */
  now?: Date;
  /** Extra codename -> major pairs (from a mirror's index.json), consulted after the table. */
  ltsCodenames?: ReadonlyMap<string, number>;
  /** Names the list in error messages (default "the available Node versions"). */
  source?: string;
}

/** A predicate for the versions a spec accepts, or a description of why it accepts a line. */
function matcher(spec: string, opts: PickOptions): (v: Version) => boolean {
  const s = spec.trim().toLowerCase();
  if (s === 'latest' || s === 'node' || s === 'current') return () => true;
  if (s === 'lts' || s === 'lts/*') {
    const major = activeLts(opts.now ?? new Date()).major;
    return (v) => v[0] === major;
  }
  if (s.startsWith('lts/')) {
    const name = s.slice(4);
    let major = ltsMajorOf(name);
    if (major === undefined) {
      for (const [k, m] of opts.ltsCodenames ?? []) if (k.toLowerCase() === name) major = m;
    }
    if (major === undefined) {
      const known = LTS_LINES.filter((l) => l.codename)
        .map((l) => `lts/${l.codename!.toLowerCase()} (${l.major})`)
        .join(', ');
      throw new DistillError(
        'NODE_VERSION_UNKNOWN',
        `"${spec}" names no Node LTS line distill knows; known lines are ${known}`,
      );
    }
    const m = major;
    return (v) => v[0] === m;
  }
  const range = parseRange(spec.trim());
  return (v) => inRange(range, v);
}

/** Checks a version against a spec (see the module comment); `lts` depends on `opts.now`. */
export function nodeVersionSatisfies(version: string, spec: string, opts: PickOptions = {}): boolean {
  const v = parseExactVersion(version);
  return v !== undefined && matcher(spec, opts)(v);
}

/**
 * The newest version of `versions` that satisfies `spec`. No match is NODE_VERSION_UNKNOWN,
 * naming the closest majors that are available; a malformed spec is VERSION_INVALID.
 */
export function pickNodeVersion(spec: string, versions: Iterable<string>, opts: PickOptions = {}): string {
  if (typeof spec !== 'string' || spec.trim() === '') throw invalidSpec(String(spec), 'it is empty');
  const match = matcher(spec, opts);
  const sorted = sortVersionsDesc(versions);
  for (const s of sorted) {
    if (match(parseExactVersion(s)!)) return s;
  }
  throw new DistillError(
    'NODE_VERSION_UNKNOWN',
    `no Node version matches "${spec}" in ${opts.source ?? 'the available Node versions'}; ${closestMajors(spec, sorted)}`,
  );
}

/** "the closest available majors are 22 (newest 22.23.3), 24 (newest 24.21.0)" */
export function closestMajors(spec: string, sortedDesc: readonly string[], count = 3): string {
  if (sortedDesc.length === 0) return 'the list is empty';
  const newest = new Map<number, string>();
  for (const s of sortedDesc) {
    const major = parseExactVersion(s)![0];
    if (!newest.has(major)) newest.set(major, s);
  }
  const wanted = /(\d+)/.exec(spec.startsWith('lts') ? '' : spec);
  const target = wanted ? Number(wanted[1]) : Math.max(...newest.keys());
  const majors = [...newest.keys()]
    .sort((a, b) => Math.abs(a - target) - Math.abs(b - target) || b - a)
    .slice(0, count)
    .sort((a, b) => a - b);
  return `the closest available majors are ${majors.map((m) => `${m} (newest ${newest.get(m)})`).join(', ')}`;
}
