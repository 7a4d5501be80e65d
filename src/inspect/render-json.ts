/** JSON of facts and comparisons, written in pieces. */
import { FACTS_SCHEMA_VERSION, type Facts } from './facts.js';
import { type PackageDiff, packageDiffs } from './package-diff.js';
import { compareRows, type Row } from './rows.js';
import type { NamedFacts } from './sections.js';

/** `distill compare --format json` (COMPARE_JSON_SCHEMA). */
export interface CompareDocument {
  schemaVersion: typeof FACTS_SCHEMA_VERSION;
  references: string[];
  images: Facts[];
  rows: Row[];
  packageDiff: PackageDiff[];
}

export function compareDocument(images: readonly NamedFacts[]): CompareDocument {
  const facts = images.map((i) => i.facts);
  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    references: images.map((i) => i.name),
    images: facts,
    rows: compareRows(facts),
    packageDiff: packageDiffs(facts),
  };
}

/**
 * `JSON.stringify(value, null, 2)` and a newline, in pieces: objects and arrays down to `depth`
 * levels are written member by member (an array at the last of those levels, in batches of 256
 * elements), what is below them with JSON.stringify. Made for plain data (no toJSON, no cycles),
 * such as facts: the JSON of an image with 34,000 npm packages is 4.5 MB, and made whole it was
 * held twice at the end of `distill inspect` (the string JSON.stringify builds in parts, then its
 * flat copy for writing), beside the merged tree.
 */
export function* jsonPieces(value: unknown, depth = 2): Generator<string> {
  yield* jsonAt(value, 0, depth);
  yield '\n';
}

const BATCH = 256;

function* jsonAt(value: unknown, level: number, depth: number): Generator<string> {
  if (level >= depth || value === null || typeof value !== 'object' || 'toJSON' in value) {
    yield indented(JSON.stringify(value, null, 2), level);
    return;
  }
  const pad = '  '.repeat(level + 1);
  const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield '[]';
      return;
    }
    if (level === depth - 1) {
      // One JSON.stringify per batch: `[\n  a,\n  b\n]` less its brackets is the batch's lines.
      for (let i = 0; i < value.length; i += BATCH) {
        const text = JSON.stringify(value.slice(i, i + BATCH), null, 2);
        yield `${i === 0 ? '[' : ','}\n${'  '.repeat(level)}${indented(text.slice(2, -2), level)}`;
      }
    } else {
      for (let i = 0; i < value.length; i++) {
        yield `${i === 0 ? '[' : ','}\n${pad}`;
        const v: unknown = value[i];
        if (skipped(v)) yield 'null';
        else yield* jsonAt(v, level + 1, depth);
      }
    }
    yield `\n${'  '.repeat(level)}]`;
    return;
  }
  let first = true;
  for (const [key, v] of Object.entries(value)) {
    if (skipped(v)) continue;
    yield `${first ? '{' : ','}\n${pad}${JSON.stringify(key)}: `;
    first = false;
    yield* jsonAt(v, level + 1, depth);
  }
  yield first ? '{}' : `\n${'  '.repeat(level)}}`;
}

/** JSON text made at level 0, for level `level`: every line after the first indented by it. */
function indented(text: string, level: number): string {
  return level === 0 || !text.includes('\n') ? text : text.replaceAll('\n', `\n${'  '.repeat(level)}`);
}
