/**
 * deb822 paragraphs (deb822(5)): ordered fields with case-insensitive lookup, the checks that
 * make a paragraph serialize back to itself, and serialization. Parsing is deb822.ts.
 */
import { DistillError } from '../errors.js';

export interface Field {
  /** The name as written (case kept). */
  readonly name: string;
  readonly value: string;
  /** 1-based line number of the field's first line in the input (0 for fields built in code). */
  readonly line: number;
}

// deb822(5): a field name is US-ASCII without control characters, space and colon, and does
// not start with `#` or `-`.
const FIELD_NAME_RE = /^[!-9;-~]+$/;

export function isValidFieldName(name: string): boolean {
  return FIELD_NAME_RE.test(name) && name[0] !== '#' && name[0] !== '-';
}

/** Marks fields the parser has checked already (names, duplicates, values). */
export const PARSED: unique symbol = Symbol('parsed');

/** One paragraph (stanza): ordered fields, case-insensitive lookup. Immutable. */
export class Paragraph {
  readonly fields: readonly Field[];
  /** 1-based line of the paragraph's first field (0 when built in code). */
  readonly line: number;
  private readonly index: Map<string, Field>;

  constructor(fields: readonly Field[], line?: number, trusted?: typeof PARSED) {
    const index = new Map<string, Field>();
    for (const f of fields) {
      if (trusted === PARSED) {
        // the parser has checked names, duplicates and values already
        index.set(f.name.toLowerCase(), f);
        continue;
      }
      if (!isValidFieldName(f.name)) {
        throw new DistillError('DEB822_INVALID', `"${clip(f.name)}" is not a valid field name`);
      }
      const key = f.name.toLowerCase();
      if (index.has(key)) {
        throw new DistillError('DEB822_INVALID', `duplicate field "${f.name}"${at(f.line)}`);
      }
      checkValue(f.name, f.value);
      index.set(key, f);
    }
    this.fields = Object.freeze([...fields]);
    this.index = index;
    this.line = line ?? fields[0]?.line ?? 0;
  }

  /** Builds a paragraph from `[name, value]` pairs, in order. */
  static from(entries: Iterable<readonly [string, string]>): Paragraph {
    return new Paragraph([...entries].map(([name, value]) => ({ name, value, line: 0 })));
  }

  get(name: string): string | undefined {
    return this.index.get(name.toLowerCase())?.value;
  }

  /** Like get(), but a missing field is a DEB822_INVALID error naming the paragraph. */
  require(name: string): string {
    const v = this.get(name);
    if (v === undefined) {
      const pkg = this.get('Package');
      throw new DistillError(
        'DEB822_INVALID',
        `paragraph${pkg ? ` for ${pkg}` : ''}${at(this.line)} has no ${name} field`,
      );
    }
    return v;
  }

  getField(name: string): Field | undefined {
    return this.index.get(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.index.has(name.toLowerCase());
  }

  names(): string[] {
    return this.fields.map((f) => f.name);
  }

  /**
   * The lines of a multi-line field, trimmed, empty ones dropped (the first line included
   * when not empty): for `SHA256:` in Release, `Files:`, `Conffiles:`, `Checksums-*`.
   */
  lines(name: string): string[] {
    const v = this.get(name);
    if (v === undefined) return [];
    return v
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  }

  /**
   * A new paragraph with the field set. An existing field (any case) keeps its position and
   * its name's case; a new one goes after `after` when that field exists, else at the end.
   */
  with(name: string, value: string, opts: { after?: string } = {}): Paragraph {
    const key = name.toLowerCase();
    const fields = [...this.fields];
    const i = fields.findIndex((f) => f.name.toLowerCase() === key);
    if (i >= 0) {
      fields[i] = { name: fields[i]!.name, value, line: fields[i]!.line };
    } else {
      const afterKey = opts.after?.toLowerCase();
      const j = afterKey === undefined ? -1 : fields.findIndex((f) => f.name.toLowerCase() === afterKey);
      fields.splice(j >= 0 ? j + 1 : fields.length, 0, { name, value, line: 0 });
    }
    return new Paragraph(fields, this.line);
  }

  without(name: string): Paragraph {
    const key = name.toLowerCase();
    return new Paragraph(
      this.fields.filter((f) => f.name.toLowerCase() !== key),
      this.line,
    );
  }

  /** Plain object of name -> value (names as written). */
  toObject(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const f of this.fields) o[f.name] = f.value;
    return o;
  }
}

export function at(line: number): string {
  return line > 0 ? ` at line ${line}` : '';
}

export function clip(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** A value must serialize back to the same paragraph: no empty or unindented continuation lines. */
function checkValue(name: string, value: string): void {
  if (value.indexOf('\n') < 0) {
    if (value.includes('\r'))
      throw new DistillError('DEB822_INVALID', `field ${name}: carriage return in value`);
    return;
  }
  const lines = value.split('\n');
  if (lines[0] !== lines[0]!.trim() || lines[0]!.includes('\r')) {
    throw new DistillError(
      'DEB822_INVALID',
      `field ${name}: first line of the value has surrounding whitespace`,
    );
  }
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (!(l.startsWith(' ') || l.startsWith('\t')) || l.trim() === '' || l.includes('\r')) {
      throw new DistillError(
        'DEB822_INVALID',
        `field ${name}: continuation line ${i} must start with a space or tab and not be blank (use " ." for an empty line)`,
      );
    }
  }
}

/** One paragraph as text, ending with a newline. */
export function serializeParagraph(p: Paragraph): string {
  let s = '';
  for (const f of p.fields) {
    if (f.value === '' || f.value.startsWith('\n')) s += `${f.name}:${f.value}\n`;
    else s += `${f.name}: ${f.value}\n`;
  }
  return s;
}

/** Paragraphs separated by one blank line (the dpkg status / Packages layout). */
export function serializeDeb822(paragraphs: Paragraph | readonly Paragraph[]): string {
  const list = paragraphs instanceof Paragraph ? [paragraphs] : paragraphs;
  return list.map(serializeParagraph).join('\n');
}
