/**
 * deb822 control data (deb822(5)): Packages and Sources indexes, Release / InRelease bodies,
 * DEBIAN/control, dpkg status files. Paragraphs are separated by blank lines; a field is
 * `Name: value` with continuation lines starting with a space or a tab; a line starting with `#`
 * is a comment (when comments are allowed). Pure: works on strings, bytes or chunk streams.
 *
 * Field values: the first line's value is trimmed; continuation lines are kept exactly as written
 * (leading space included, trailing whitespace removed), joined with "\n". So the value of
 * `Description: short\n long\n .\n more` is `"short\n long\n .\n more"`, and serializing it gives
 * the original text back.
 */
import { DistillError } from '../errors.js';

export const DEFAULT_MAX_FIELD_SIZE = 16 * 1024 * 1024;
export const DEFAULT_MAX_PARAGRAPH_SIZE = 64 * 1024 * 1024;

export interface Deb822Options {
  /** Names the input in error messages, e.g. "Packages (trixie main amd64)". */
  source?: string;
  /** Lines starting with `#` are comments (deb822(5)); default true. */
  allowComments?: boolean;
  /** Largest field (name and value, in UTF-16 code units); default 16 MiB. */
  maxFieldSize?: number;
  /** Largest paragraph (sum of its lines); default 64 MiB. */
  maxParagraphSize?: number;
}

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

const PARSED: unique symbol = Symbol('parsed');

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

function at(line: number): string {
  return line > 0 ? ` at line ${line}` : '';
}

function clip(s: string, n = 60): string {
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

function fail(opts: Deb822Options, line: number, what: string): never {
  const src = opts.source ? `${opts.source}: ` : '';
  throw new DistillError('DEB822_INVALID', `${src}line ${line}: ${what}`);
}

/**
 * Incremental parser: push() text chunks (any split, even mid-line), get complete paragraphs
 * back; end() flushes the last one. Memory is bounded by the size limits.
 */
export class Deb822Parser {
  private readonly opts: Deb822Options;
  private readonly maxField: number;
  private readonly maxParagraph: number;
  private readonly allowComments: boolean;
  private pending = '';
  private lineNo = 0;
  private fields: Field[] = [];
  private seen = new Set<string>();
  private paragraphSize = 0;
  // current field being accumulated
  private curName: string | undefined;
  private curLine = 0;
  private curParts: string[] = [];
  private curSize = 0;
  private ended = false;

  constructor(opts: Deb822Options = {}) {
    this.opts = opts;
    this.maxField = opts.maxFieldSize ?? DEFAULT_MAX_FIELD_SIZE;
    this.maxParagraph = opts.maxParagraphSize ?? DEFAULT_MAX_PARAGRAPH_SIZE;
    this.allowComments = opts.allowComments ?? true;
  }

  push(chunk: string): Paragraph[] {
    if (this.ended) throw new Error('Deb822Parser.push after end');
    const out: Paragraph[] = [];
    let start = 0;
    if (this.pending !== '') {
      // only join the pending partial line with the start of this chunk
      const nl = chunk.indexOf('\n');
      if (nl < 0) {
        this.pending += chunk;
        this.checkPending();
        return out;
      }
      this.line(this.pending + chunk.slice(0, nl), out);
      this.pending = '';
      start = nl + 1;
    }
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      this.line(chunk.slice(start, nl), out);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending = chunk.slice(start);
      this.checkPending();
    }
    return out;
  }

  end(): Paragraph[] {
    const out: Paragraph[] = [];
    if (this.ended) return out;
    if (this.pending !== '') {
      this.line(this.pending, out);
      this.pending = '';
    }
    this.finishParagraph(out);
    this.ended = true;
    return out;
  }

  private checkPending(): void {
    // A partial line alone can already be too big: fail before buffering more of it.
    if (this.pending.length > this.maxField + 1) {
      fail(
        this.opts,
        this.lineNo + 1,
        `line is longer than the field size limit of ${this.maxField} characters`,
      );
    }
  }

  private tooBig(line: number): never {
    const what = this.curName === undefined ? 'field' : `field ${this.curName} (from line ${this.curLine})`;
    return fail(this.opts, line, `${what} is larger than the limit of ${this.maxField} characters`);
  }

  private line(raw: string, out: Paragraph[]): void {
    this.lineNo++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const first = text.charCodeAt(0);
    // blank line (empty or only spaces/tabs): paragraph separator
    if (text === '' || ((first === 32 || first === 9) && /^[ \t]*$/.test(text))) {
      this.finishParagraph(out);
      return;
    }
    if (text.length > this.maxField) {
      fail(this.opts, this.lineNo, `line is longer than the field size limit of ${this.maxField} characters`);
    }
    this.paragraphSize += text.length + 1;
    if (this.paragraphSize > this.maxParagraph) {
      fail(this.opts, this.lineNo, `paragraph is larger than the limit of ${this.maxParagraph} characters`);
    }
    if (first === 32 || first === 9) {
      if (this.curName === undefined) {
        fail(this.opts, this.lineNo, 'continuation line before any field');
      }
      this.curSize += text.length + 1;
      if (this.curSize > this.maxField) this.tooBig(this.lineNo);
      this.curParts.push(text.trimEnd());
      return;
    }
    if (first === 35 /* # */ && this.allowComments) return;
    const colon = text.indexOf(':');
    if (colon < 0) {
      fail(this.opts, this.lineNo, `"${clip(text)}" is not a field (no colon)`);
    }
    const name = text.slice(0, colon);
    if (!isValidFieldName(name)) {
      fail(this.opts, this.lineNo, `"${clip(name)}" is not a valid field name`);
    }
    this.finishField();
    const key = name.toLowerCase();
    if (this.seen.has(key)) {
      const f = this.fields.find((x) => x.name.toLowerCase() === key);
      fail(this.opts, this.lineNo, `duplicate field "${name}" (first at line ${f?.line})`);
    }
    this.seen.add(key);
    this.curName = name;
    this.curLine = this.lineNo;
    this.curParts = [text.slice(colon + 1).trim()];
    this.curSize = text.length + 1;
  }

  private finishField(): void {
    if (this.curName === undefined) return;
    this.fields.push({ name: this.curName, value: this.curParts.join('\n'), line: this.curLine });
    this.curName = undefined;
    this.curParts = [];
    this.curSize = 0;
  }

  private finishParagraph(out: Paragraph[]): void {
    this.finishField();
    if (this.fields.length > 0) {
      out.push(new Paragraph(this.fields, undefined, PARSED));
    }
    this.fields = [];
    this.seen.clear();
    this.paragraphSize = 0;
  }
}

/** Parses a whole document. Bytes are decoded as UTF-8 (invalid sequences are an error). */
export function parseDeb822(input: string | Uint8Array, opts: Deb822Options = {}): Paragraph[] {
  const text = typeof input === 'string' ? input : decodeUtf8(input, opts);
  const parser = new Deb822Parser(opts);
  const out = parser.push(text);
  for (const p of parser.end()) out.push(p);
  return out;
}

/** Parses a document that must hold exactly one paragraph (a control file). */
export function parseDeb822Single(input: string | Uint8Array, opts: Deb822Options = {}): Paragraph {
  const ps = parseDeb822(input, opts);
  if (ps.length !== 1) {
    const src = opts.source ? `${opts.source}: ` : '';
    throw new DistillError('DEB822_INVALID', `${src}expected one paragraph, found ${ps.length}`);
  }
  return ps[0]!;
}

function decodeUtf8(bytes: Uint8Array, opts: Deb822Options): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    const src = opts.source ? `${opts.source}: ` : '';
    throw new DistillError('DEB822_INVALID', `${src}not valid UTF-8`, { cause: err });
  }
}

/**
 * Streaming parse of a big document (a 50 MB Packages file): chunks may be strings or bytes
 * (UTF-8, split anywhere). Yields paragraphs as they complete.
 */
export async function* parseDeb822Stream(
  input: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  opts: Deb822Options = {},
): AsyncGenerator<Paragraph, void, undefined> {
  const parser = new Deb822Parser(opts);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const src = opts.source ? `${opts.source}: ` : '';
  for await (const chunk of input) {
    let text: string;
    if (typeof chunk === 'string') {
      text = chunk;
    } else {
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch (err) {
        throw new DistillError('DEB822_INVALID', `${src}not valid UTF-8`, { cause: err });
      }
    }
    yield* parser.push(text);
  }
  let tail: string;
  try {
    tail = decoder.decode();
  } catch (err) {
    throw new DistillError('DEB822_INVALID', `${src}not valid UTF-8 (truncated sequence at end)`, {
      cause: err,
    });
  }
  if (tail !== '') yield* parser.push(tail);
  yield* parser.end();
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
