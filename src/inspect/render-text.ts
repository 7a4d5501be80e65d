/** Reports of facts as text, for a terminal: `distill inspect` and `distill compare`. */
import type { Facts } from './facts.js';
import { compareRows } from './rows.js';
import { type NamedFacts, oneLine, packageDiffSections, type Section, sections } from './sections.js';

const WRAP = 48;
const CREATED_BY_MAX = 120;

function wrap(s: string, width: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    const at = cut > 0 ? cut : width;
    out.push(rest.slice(0, at));
    rest = rest.slice(cut > 0 ? at + 1 : at);
  }
  out.push(rest);
  return out;
}

/** Aligned columns, long cells wrapped (the last column is neither padded nor wrapped). */
function textTable(rows: readonly (readonly string[])[], indent: string): string[] {
  const cells = rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? [oneLine(c)] : wrap(oneLine(c), WRAP))),
  );
  const widths: number[] = [];
  for (const r of cells)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, ...c.map((l) => l.length));
    });
  const out: string[] = [];
  for (const r of cells) {
    const height = Math.max(...r.map((c) => c.length));
    for (let k = 0; k < height; k++) {
      const line = r
        .map((c, i) => (i === r.length - 1 ? (c[k] ?? '') : (c[k] ?? '').padEnd(widths[i]!)))
        .join('  ');
      out.push(`${indent}${line}`.trimEnd());
    }
  }
  return out;
}

function sectionText(s: Section): string[] {
  return ['', `${s.title}:`, ...textTable([s.columns, ...s.rows], '  ')];
}

function textSections(f: Facts): string[] {
  return sections(f).flatMap((s) => [
    '',
    `${s.title}:`,
    ...textTable(
      [
        s.columns,
        ...(s.title === 'Layers'
          ? s.rows.map((r) =>
              r.map((c, i) => (i === 4 && c.length > CREATED_BY_MAX ? `${c.slice(0, CREATED_BY_MAX)}…` : c)),
            )
          : s.rows),
      ],
      '  ',
    ),
  ]);
}

/** `distill inspect` as text: the summary rows, then the details. */
export function renderText(facts: Facts, name = 'image'): string {
  const rows = compareRows([facts]);
  return [
    oneLine(name),
    ...textTable(
      rows.map((r) => [r.label, r.values[0]!]),
      '  ',
    ),
    ...textSections(facts),
    '',
  ].join('\n');
}

/**
 * `distill compare` as text: one column per image, differing rows marked `*`, then the packages of
 * each image against the first.
 */
export function renderCompareText(images: readonly NamedFacts[]): string {
  const rows = compareRows(images.map((i) => i.facts));
  return [
    ...textTable(
      [
        ['', 'Fact', ...images.map((i) => i.name)],
        ...rows.map((r) => [r.differs ? '*' : '', r.label, ...r.values]),
      ],
      '',
    ),
    '',
    '* the images differ',
    ...packageDiffSections(images).flatMap(sectionText),
    '',
  ].join('\n');
}
