/**
 * Declared licences, as written, never guessed. A licence is kept as an SPDX expression: the
 * declaration itself when it is one (spdx-expression-parse decides), else the declaration with
 * each name that is not an SPDX identifier turned into a `LicenseRef-` of its own, whose text is
 * the name as declared (SPDX 2.3 section 10). So Debian's `GPL-2+` is `LicenseRef-GPL-2-plus`,
 * not `GPL-2.0-or-later`: mapping Debian's short names to SPDX ones would be a guess.
 */
import parseSpdx from 'spdx-expression-parse';
import { parseDeb822 } from '../debian/deb822.js';

export interface SbomLicense {
  /** A valid SPDX license expression (may hold LicenseRef- ids). */
  expression: string;
  /** The declaration as found, for writers that keep free text (CycloneDX's named licences). */
  declared: string;
  /** LicenseRef- id -> the name it stands for, when the declaration has names SPDX does not list. */
  refs: Record<string, string>;
}

function isSpdx(expression: string): boolean {
  try {
    parseSpdx(expression);
    return true;
  } catch {
    return false;
  }
}

/** `LicenseRef-` with the characters SPDX allows in an idstring (letters, digits, `.`, `-`). */
export function licenseRef(name: string): string {
  const id = name
    .trim()
    .replace(/\+/g, '-plus')
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `LicenseRef-${id === '' ? 'unnamed' : id}`;
}

/**
 * A declaration as an SPDX licence: as is when it is an SPDX expression; else its terms (split at
 * `and` / `or`, either case) each an SPDX identifier or a LicenseRef. null for an empty one.
 */
export function declaredLicense(text: string | undefined | null): SbomLicense | null {
  const declared = (text ?? '').trim().replace(/\s+/g, ' ');
  if (declared === '' || /^(UNLICENSED|NOASSERTION|NONE)$/.test(declared)) return null;
  // Operators upper-cased (`or` is common in Debian files; SPDX 2.3 annex D wants AND/OR/WITH).
  const normal = declared.replace(/\s+(and|or|with)\s+/gi, (_m, op: string) => ` ${op.toUpperCase()} `);
  if (isSpdx(normal)) return { expression: normal, declared, refs: {} };
  const refs: Record<string, string> = {};
  const parts = declared
    .replace(/^\((.*)\)$/, '$1')
    .split(/\s+(and|or)\s+/i)
    .map((part, i) => {
      if (i % 2 === 1) return part.toUpperCase();
      const term = part.trim().replace(/^\(+|\)+$/g, '');
      if (isSpdx(term) && !term.includes(' ')) return term;
      const ref = licenseRef(term);
      refs[ref] = term;
      return ref;
    });
  const expression = parts.join(' ');
  return isSpdx(expression) ? { expression, declared, refs } : null;
}

/** Several declarations of one package (a copyright file's paragraphs): all apply, so AND. */
export function allOf(licenses: readonly (SbomLicense | null)[]): SbomLicense | null {
  const seen = new Map<string, SbomLicense>();
  for (const l of licenses) if (l) seen.set(l.expression, l);
  const list = [...seen.values()].sort((a, b) => (a.expression < b.expression ? -1 : 1));
  if (list.length === 0) return null;
  if (list.length === 1) return list[0]!;
  const wrap = (e: string) => (/\s/.test(e) ? `(${e})` : e);
  return {
    expression: list.map((l) => wrap(l.expression)).join(' AND '),
    declared: list.map((l) => l.declared).join(', '),
    refs: Object.assign({}, ...list.map((l) => l.refs)) as Record<string, string>,
  };
}

/** package.json's `license` (a string, or the old `{type}`) or old `licenses: [{type}]`. */
export function npmLicense(pkg: { license?: unknown; licenses?: unknown }): SbomLicense | null {
  const typeOf = (v: unknown): string | undefined =>
    typeof v === 'string'
      ? v
      : v && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string'
        ? (v as { type: string }).type
        : undefined;
  const one = typeOf(pkg.license);
  if (one !== undefined) return declaredLicense(one);
  if (Array.isArray(pkg.licenses)) {
    const names = pkg.licenses.map(typeOf).filter((n): n is string => n !== undefined);
    // npm's old array form means a choice: "licensed under any of these".
    if (names.length > 0) return declaredLicense(names.length === 1 ? names[0] : names.join(' OR '));
  }
  return null;
}

/**
 * The `License:` synopses of a machine-readable Debian copyright file (DEP-5), one per `Files:`
 * paragraph, as written. null for a file in another format (no `Format:` naming
 * copyright-format), which says nothing a program can read without guessing. A build keeps these
 * (its base-os record) so that its SBOM needs no .deb on a cache hit.
 */
export function dep5Synopses(text: string): string[] | null {
  let paragraphs: ReturnType<typeof parseDeb822>;
  try {
    paragraphs = parseDeb822(text, { source: 'copyright' });
  } catch {
    return null;
  }
  const header = paragraphs[0];
  if (!header || !/copyright-format/i.test(header.get('Format') ?? '')) return null;
  const synopses: string[] = [];
  for (const p of paragraphs) {
    if (p.get('Files') === undefined) continue;
    const synopsis = (p.get('License') ?? '').split('\n')[0]!.trim();
    if (synopsis !== '') synopses.push(synopsis);
  }
  return synopses;
}

/** A package's licence from its copyright file's synopses: all apply, so AND; null for none. */
export function synopsesLicense(synopses: readonly string[] | null | undefined): SbomLicense | null {
  return synopses ? allOf(synopses.map((s) => declaredLicense(s))) : null;
}

/** The licences of a machine-readable Debian copyright file (DEP-5); null for another format. */
export function dep5Licenses(text: string): SbomLicense | null {
  return synopsesLicense(dep5Synopses(text));
}
