/** Reports of facts as Markdown, for a pull request comment. */
import type { Facts } from './facts.js';
import { compareRows } from './rows.js';
import { type NamedFacts, oneLine, sections } from './sections.js';

/** A table cell: one line, Markdown and inline HTML neutralized by backslash escapes. */
function md(s: string): string {
  return oneLine(s).replace(/[\\`*_[\]<>|~&]/g, '\\$&');
}

function mdTable(columns: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${columns.map(md).join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(md).join(' | ')} |`),
  ];
}

function mdSections(f: Facts, level: string): string[] {
  return sections(f).flatMap((s) => ['', `${level} ${md(s.title)}`, '', ...mdTable(s.columns, s.rows)]);
}

export function renderMarkdown(facts: Facts, name = 'image'): string {
  const rows = compareRows([facts]);
  return [
    `## ${md(name)}`,
    '',
    ...mdTable(
      ['Fact', 'Value'],
      rows.map((r) => [r.label, r.values[0]!]),
    ),
    ...mdSections(facts, '###'),
    '',
  ].join('\n');
}

/** `distill compare` as Markdown: differing rows marked ≠ in the first column. */
export function renderCompareMarkdown(images: readonly NamedFacts[]): string {
  const rows = compareRows(images.map((i) => i.facts));
  return [
    ...mdTable(
      ['', 'Fact', ...images.map((i) => i.name)],
      rows.map((r) => [r.differs ? '≠' : '', r.label, ...r.values]),
    ),
    '',
    '≠ marks the rows where the images differ.',
    '',
  ].join('\n');
}
