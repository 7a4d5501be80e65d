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
import { clip, type Field, isValidFieldName, PARSED, Paragraph } from './paragraph.js';

export {
  type Field,
  isValidFieldName,
  Paragraph,
  serializeDeb822,
  serializeParagraph,
} from './paragraph.js';

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
    // No tool writes a NUL into control data; read on, it would cut names and paths in C tools.
    if (text.includes('\0')) fail(this.opts, this.lineNo, 'NUL byte in the line');
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
