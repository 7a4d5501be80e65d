import { extname } from 'node:path';
import { DistillError } from '../errors.js';
import type { InspectArgs } from './inspect.js';

/** The formats of a report of `distill inspect` and `distill compare`. */
export const FORMATS = ['text', 'markdown', 'json', 'html'] as const;
export type InspectFormat = (typeof FORMATS)[number];

export function parseFormat(s: string | undefined): InspectFormat {
  if (s === undefined) return 'text';
  if ((FORMATS as readonly string[]).includes(s)) return s as InspectFormat;
  throw new DistillError('USAGE', `--format must be ${FORMATS.join(', ')}, not "${s}"`);
}

/** The format each extension of `-o FILE` names. */
const EXTENSIONS: Record<string, InspectFormat> = {
  '.txt': 'text',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.json': 'json',
  '.html': 'html',
  '.htm': 'html',
};

/**
 * The report's format: `--format`, else the extension of `-o FILE`, else text. Both given must
 * agree; `-o json` (a format's name, no extension) is taken for the mistake it almost surely is.
 */
export function reportFormat(args: InspectArgs): InspectFormat {
  const given = args.format === undefined ? undefined : parseFormat(args.format);
  const out = args.output;
  if (out === undefined) return given ?? 'text';
  const lower = out.toLowerCase();
  const word = (FORMATS as readonly string[]).includes(lower)
    ? (lower as InspectFormat)
    : EXTENSIONS[`.${lower}`];
  if (word !== undefined) {
    const ext = Object.keys(EXTENSIONS).find((e) => EXTENSIONS[e] === word);
    throw new DistillError(
      'USAGE',
      `-o takes the file to write the report to, not a format: for ${word} on stdout write --format ${word} (for a file, -o report${ext})`,
    );
  }
  const named = EXTENSIONS[extname(out).toLowerCase()];
  if (given !== undefined && named !== undefined && given !== named) {
    throw new DistillError(
      'USAGE',
      `-o ${out} names ${named} but --format says ${given}; give one, or make them agree`,
    );
  }
  return given ?? named ?? 'text';
}
