/**
 * Package relationship fields (Debian Policy §7): Depends, Pre-Depends, Recommends, Conflicts,
 * Breaks, Provides, Build-Depends. A field is a comma-separated AND list of `|`-separated
 * alternatives; each relation is
 *   name[:archqual] [(op version)] [[arch list]] [<profile formula> ...]
 * Architecture lists are evaluated for a target architecture; build profiles only matter for
 * source packages and are kept but ignored here.
 */
import { DistillError } from '../errors.js';
import { isVersionOperator, parseVersion, type VersionOperator } from './version.js';

export interface Relation {
  name: string;
  /** `any`, `native` or an architecture name after `:`. */
  archQualifier?: string;
  /** Version constraint, when given. */
  constraint?: { op: VersionOperator; version: string };
  /** `[amd64 arm64]` or `[!i386]`: all negated or all positive. */
  archRestriction?: { negated: boolean; arches: string[] };
  /** `<!nocheck> <stage1 cross>`: each group is an AND of terms; the groups are OR-ed. */
  profiles?: string[][];
}

/** An AND list of OR groups: `a | b, c` is `[[a, b], [c]]`. */
export type RelationList = Relation[][];

export interface ProvidedPackage {
  name: string;
  /** Only `=` is allowed in Provides. */
  version?: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9+.-]+$/;
const ARCH_RE = /^[a-z0-9][a-z0-9-]*$/;

export function isValidPackageName(name: string): boolean {
  return NAME_RE.test(name);
}

function bad(field: string | undefined, text: string, why: string): DistillError {
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return new DistillError('DEB822_INVALID', `${field ? `${field}: ` : ''}"${shown}": ${why}`);
}

/** Parses one relation (no `|` or `,`). */
export function parseRelation(input: string, field?: string): Relation {
  const s = input.replace(/\s+/g, ' ').trim();
  let i = 0;
  const m = /^([^\s:(<[]+)(?::([^\s(<[]+))?/.exec(s);
  if (!m) throw bad(field, input, 'expected a package name');
  const name = m[1]!;
  if (!NAME_RE.test(name)) throw bad(field, input, `"${name}" is not a valid package name`);
  const rel: Relation = { name };
  if (m[2] !== undefined) {
    if (!ARCH_RE.test(m[2])) throw bad(field, input, `"${m[2]}" is not a valid architecture qualifier`);
    rel.archQualifier = m[2];
  }
  i = m[0].length;
  const skipWs = () => {
    while (s[i] === ' ') i++;
  };
  skipWs();
  if (s[i] === '(') {
    const close = s.indexOf(')', i);
    if (close < 0) throw bad(field, input, 'unclosed "("');
    const inner = s.slice(i + 1, close).trim();
    const om = /^(<<|<=|>=|>>|=|<|>)\s*(\S+)$/.exec(inner);
    if (!om) throw bad(field, input, 'expected "(op version)" with op one of << <= = >= >>');
    const op = om[1]!;
    if (!isVersionOperator(op)) throw bad(field, input, `unknown operator ${op}`);
    try {
      parseVersion(om[2]!);
    } catch (err) {
      throw new DistillError('DEB822_INVALID', `${field ? `${field}: ` : ''}${(err as Error).message}`, {
        cause: err,
      });
    }
    rel.constraint = { op, version: om[2]! };
    i = close + 1;
    skipWs();
  }
  if (s[i] === '[') {
    const close = s.indexOf(']', i);
    if (close < 0) throw bad(field, input, 'unclosed "["');
    const terms = s
      .slice(i + 1, close)
      .trim()
      .split(' ')
      .filter((t) => t !== '');
    if (terms.length === 0) throw bad(field, input, 'empty architecture list');
    const negated = terms[0]!.startsWith('!');
    const arches: string[] = [];
    for (const t of terms) {
      if (t.startsWith('!') !== negated) {
        throw bad(field, input, 'an architecture list must be all negated or all positive');
      }
      const a = negated ? t.slice(1) : t;
      if (!ARCH_RE.test(a)) throw bad(field, input, `"${a}" is not a valid architecture`);
      arches.push(a);
    }
    rel.archRestriction = { negated, arches };
    i = close + 1;
    skipWs();
  }
  while (s[i] === '<') {
    const close = s.indexOf('>', i);
    if (close < 0) throw bad(field, input, 'unclosed "<"');
    const terms = s
      .slice(i + 1, close)
      .trim()
      .split(' ')
      .filter((t) => t !== '');
    if (terms.length === 0 || terms.some((t) => !/^!?[a-z0-9][a-z0-9.+-]*$/.test(t))) {
      throw bad(field, input, 'invalid build profile formula');
    }
    rel.profiles = [...(rel.profiles ?? []), terms];
    i = close + 1;
    skipWs();
  }
  if (i < s.length) throw bad(field, input, `unexpected "${s.slice(i)}"`);
  return rel;
}

/**
 * Parses a relationship field. Empty entries between commas are tolerated (dpkg does the same
 * for trailing commas); an empty `|` alternative is not.
 */
export function parseRelations(text: string, field?: string): RelationList {
  const out: RelationList = [];
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    out.push(
      part.split('|').map((alt) => {
        if (alt.trim() === '') throw bad(field, part, 'empty alternative');
        return parseRelation(alt, field);
      }),
    );
  }
  return out;
}

/** Parses Provides: a comma list of `name` or `name (= version)`. */
export function parseProvides(text: string): ProvidedPackage[] {
  const out: ProvidedPackage[] = [];
  for (const group of parseRelations(text, 'Provides')) {
    if (group.length !== 1) throw bad('Provides', text, 'alternatives are not allowed');
    const r = group[0]!;
    if (r.archRestriction || r.profiles) throw bad('Provides', text, 'restrictions are not allowed');
    if (r.constraint && r.constraint.op !== '=') throw bad('Provides', text, 'only "=" versions are allowed');
    out.push(r.constraint ? { name: r.name, version: r.constraint.version } : { name: r.name });
  }
  return out;
}

/** The canonical text of a relation, e.g. `libc6 (>= 2.36)` or `python3:any`. */
export function formatRelation(r: Relation): string {
  let s = r.name;
  if (r.archQualifier) s += `:${r.archQualifier}`;
  if (r.constraint) s += ` (${r.constraint.op} ${r.constraint.version})`;
  if (r.archRestriction) {
    const neg = r.archRestriction.negated ? '!' : '';
    s += ` [${r.archRestriction.arches.map((a) => neg + a).join(' ')}]`;
  }
  for (const p of r.profiles ?? []) s += ` <${p.join(' ')}>`;
  return s;
}

export function formatGroup(group: readonly Relation[]): string {
  return group.map(formatRelation).join(' | ');
}

export function formatRelations(list: RelationList): string {
  return list.map(formatGroup).join(', ');
}

/**
 * The Debian architecture tuple pieces (abi-libc-os-cpu, simplified to os and cpu) for
 * wildcard matching: `linux-any`, `any-amd64`, `any`.
 */
function archParts(arch: string): { os: string; cpu: string } {
  // Debian-ports and the kfreebsd/hurd names: `<os>-<cpu>`; plain names are linux.
  const i = arch.indexOf('-');
  if (i < 0) return { os: 'linux', cpu: arch };
  return { os: arch.slice(0, i), cpu: arch.slice(i + 1) };
}

/** Whether `arch` matches an architecture name or wildcard (`any`, `linux-any`, `any-arm64`). */
export function archMatches(arch: string, pattern: string): boolean {
  if (pattern === 'any' || pattern === arch) return true;
  const dash = pattern.indexOf('-');
  if (dash < 0) return false;
  const { os, cpu } = archParts(arch);
  const pOs = pattern.slice(0, dash);
  const pCpu = pattern.slice(dash + 1);
  return (pOs === 'any' || pOs === os) && (pCpu === 'any' || pCpu === cpu);
}

/** Whether a relation applies on `arch` (its `[...]` list, if any). */
export function relationAppliesTo(r: Relation, arch: string): boolean {
  if (!r.archRestriction) return true;
  const hit = r.archRestriction.arches.some((p) => archMatches(arch, p));
  return r.archRestriction.negated ? !hit : hit;
}

/**
 * Drops the relations whose architecture list excludes `arch`, and the groups left empty
 * (an OR group whose alternatives are all for other architectures does not apply).
 */
export function relationsForArch(list: RelationList, arch: string): RelationList {
  const out: RelationList = [];
  for (const g of list) {
    const kept = g.filter((r) => relationAppliesTo(r, arch));
    if (kept.length > 0) out.push(kept);
  }
  return out;
}
