/** Reports of facts as Markdown, for a pull request comment. */
import type { Facts } from './facts.js';
import { compareRows } from './rows.js';
import { type NamedFacts, oneLine, packageDiffSections, type Section, sections } from './sections.js';

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

function mdSection(s: Section, level: string): string[] {
  return ['', `${level} ${md(s.title)}`, '', ...mdTable(s.columns, s.rows)];
}

function mdSections(f: Facts, level: string): string[] {
  return sections(f).flatMap((s) => mdSection(s, level));
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

/**
 * `distill compare` as Markdown: differing rows marked ≠ in the first column, then the packages of
 * each image against the first.
 */
export function renderCompareMarkdown(images: readonly NamedFacts[]): string {
  const rows = compareRows(images.map((i) => i.facts));
  return [
    ...mdTable(
      ['', 'Fact', ...images.map((i) => i.name)],
      rows.map((r) => [r.differs ? '≠' : '', r.label, ...r.values]),
    ),
    '',
    '≠ marks the rows where the images differ.',
    ...packageDiffSections(images).flatMap((s) => mdSection(s, '###')),
    '',
  ].join('\n');
}
