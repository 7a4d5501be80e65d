/**
 * Debian package versions: `[epoch:]upstream_version[-debian_revision]` (Debian Policy §5.6.12),
 * ordered exactly as dpkg orders them (lib/dpkg/version.c semantics): epochs numerically, then
 * upstream and revision by alternating non-digit parts (`~` before everything, even the end;
 * letters before non-letters) and digit parts compared as numbers of any length.
 */
import { DistillError } from '../errors.js';

export interface DebianVersion {
  /** The version as given (surrounding whitespace removed). */
  readonly text: string;
  readonly epoch: number;
  readonly upstream: string;
  /** Empty when the version has no `-revision` (which compares equal to revision "0"). */
  readonly revision: string;
}

/** `<<`, `<=`, `=`, `>=`, `>>`, and the obsolete `<` / `>` which mean `<=` / `>=`. */
export type VersionOperator = '<<' | '<=' | '=' | '>=' | '>>' | '<' | '>';

export const VERSION_OPERATORS: readonly VersionOperator[] = ['<<', '<=', '=', '>=', '>>', '<', '>'];

const EPOCH_MAX = 2147483647; // dpkg: INT_MAX
const UPSTREAM_RE = /^[0-9][A-Za-z0-9.+~-]*$/;
const REVISION_RE = /^[A-Za-z0-9.+~]+$/;

function invalid(s: string, why: string): DistillError {
  const shown = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return new DistillError('VERSION_INVALID', `"${shown}" is not a valid Debian version: ${why}`);
}

/** Parses and validates per policy; throws VERSION_INVALID saying what is wrong. */
export function parseVersion(input: string): DebianVersion {
  const text = input.trim();
  if (text === '') throw invalid(input, 'it is empty');
  if (/\s/.test(text)) throw invalid(input, 'it contains whitespace');
  let epoch = 0;
  let rest = text;
  const colon = text.indexOf(':');
  if (colon >= 0) {
    const e = text.slice(0, colon);
    if (e === '') throw invalid(input, 'the epoch before ":" is empty');
    if (!/^[0-9]+$/.test(e)) throw invalid(input, 'the epoch is not a number');
    const n = Number(e);
    if (n > EPOCH_MAX) throw invalid(input, 'the epoch is too big');
    epoch = n;
    rest = text.slice(colon + 1);
    if (rest === '') throw invalid(input, 'nothing after the epoch colon');
  }
  let upstream = rest;
  let revision = '';
  const hyphen = rest.lastIndexOf('-');
  if (hyphen >= 0) {
    upstream = rest.slice(0, hyphen);
    revision = rest.slice(hyphen + 1);
    if (revision === '') throw invalid(input, 'the revision after "-" is empty');
    if (!REVISION_RE.test(revision)) {
      throw invalid(input, 'the revision may contain only letters, digits and ". + ~"');
    }
  }
  if (upstream === '') throw invalid(input, 'the upstream version is empty');
  if (!/^[0-9]/.test(upstream)) throw invalid(input, 'the upstream version must start with a digit');
  if (!UPSTREAM_RE.test(upstream)) {
    throw invalid(input, 'the upstream version may contain only letters, digits and ". + ~ -"');
  }
  return { text, epoch, upstream, revision };
}

export function isValidVersion(s: string): boolean {
  try {
    parseVersion(s);
    return true;
  } catch {
    return false;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** dpkg's order(): end and digits 0, `~` -1, letters their code, anything else code + 256. */
function order(c: number): number {
  if (Number.isNaN(c) || isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126) return -1;
  return c + 256;
}

/** dpkg's verrevcmp over one part (upstream or revision); sign of the result is what counts. */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // non-digit prefix
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(a.charCodeAt(i)); // NaN past the end -> 0
      const bc = order(b.charCodeAt(j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    // digit run: skip leading zeros, then longer is bigger, else first differing digit
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    let firstDiff = 0;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function asVersion(v: string | DebianVersion): DebianVersion {
  return typeof v === 'string' ? parseVersion(v) : v;
}

/** -1, 0 or 1 as dpkg --compare-versions orders a and b. Invalid versions throw VERSION_INVALID. */
export function compareVersions(a: string | DebianVersion, b: string | DebianVersion): -1 | 0 | 1 {
  const va = asVersion(a);
  const vb = asVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  const u = compareFragment(va.upstream, vb.upstream);
  if (u !== 0) return sign(u);
  return sign(compareFragment(va.revision, vb.revision));
}

export function isVersionOperator(s: string): s is VersionOperator {
  return (VERSION_OPERATORS as readonly string[]).includes(s);
}

/** Whether `version op ref` holds, e.g. satisfies('1.2-1', '>=', '1.0'). */
export function satisfies(
  version: string | DebianVersion,
  op: VersionOperator,
  ref: string | DebianVersion,
): boolean {
  const c = compareVersions(version, ref);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
    case '<':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
    case '>':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}

/** Newest first is `versions.sort(compareVersions).reverse()`; this sorts a copy, oldest first. */
export function sortVersions<T extends string | DebianVersion>(versions: readonly T[]): T[] {
  return [...versions].sort(compareVersions);
}
