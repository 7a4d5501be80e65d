/**
 * Reports of facts as one self-contained HTML file: inline CSS and SVG, no script, no network, a
 * Content-Security-Policy that forbids loading anything.
 */
import type { Facts } from './facts.js';
import { compareRows, formatSize, printable, type Row } from './rows.js';
import { type NamedFacts, packageDiffSections, sections } from './sections.js';

/**
 * Escapes text for HTML element content and quoted attributes (and inline SVG); newlines are
 * kept (a tooltip shows them), other control characters become `\xNN`.
 */
export function escapeHtml(s: string): string {
  return s
    .split(/(\n)/)
    .map((part) => (part === '\n' ? part : printable(part)))
    .join('')
    .replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
    );
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2.5rem;border-bottom:1px solid #d0d7de}h3{font-size:1rem;margin-top:1.5rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td{font-family:ui-monospace,monospace;font-size:13px;word-break:break-word}
tr.differs td,tr.differs th{background:#fff8c5}.mark{color:#9a6700;font-weight:bold}
svg text{font:12px ui-monospace,monospace;fill:#1f2328}svg rect.bar{fill:#0969da}svg g:hover rect.bar{fill:#218bff}
.note{color:#59636e}`;

function htmlTable(
  columns: readonly string[],
  rows: readonly (readonly string[])[],
  marks?: readonly boolean[],
): string {
  const head = `<tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      (r, i) =>
        `<tr${marks?.[i] ? ' class="differs"' : ''}>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

function summaryTable(images: readonly NamedFacts[], rows: readonly Row[]): string {
  const several = images.length > 1;
  const head = `<tr><th>Fact</th>${images.map((i) => `<th>${escapeHtml(i.name)}</th>`).join('')}</tr>`;
  const body = rows
    .map((r) => {
      const mark = several && r.differs;
      const label = `${escapeHtml(r.label)}${mark ? ' <span class="mark" title="the images differ">≠</span>' : ''}`;
      return `<tr${mark ? ' class="differs"' : ''}><th>${label}</th>${r.values.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`;
    })
    .join('\n');
  return `<table class="summary">\n${head}\n${body}\n</table>`;
}

/** The packages of each image against the first, under one heading. */
function packageDiffHtml(images: readonly NamedFacts[]): string[] {
  const diff = packageDiffSections(images);
  if (diff.length === 0) return [];
  return [
    `<h2>Packages against ${escapeHtml(images[0]!.name)}</h2>`,
    ...diff.flatMap((s) => [`<h3>${escapeHtml(s.title)}</h3>`, htmlTable(s.columns, s.rows)]),
  ];
}

const BAR_HEIGHT = 18;
const ROW_HEIGHT = 24;
const LABEL_WIDTH = 44;
const BAR_WIDTH = 520;
const SIZE_WIDTH = 170;

/** Per-layer uncompressed sizes as horizontal bars, on one scale (`max`) for every image. */
export function layerChart(f: Facts, max: number): string {
  if (f.layers.length === 0) return '<p class="note">No layers.</p>';
  const width = LABEL_WIDTH + BAR_WIDTH + SIZE_WIDTH;
  const height = f.layers.length * ROW_HEIGHT;
  const bars = f.layers.map((l, i) => {
    const y = i * ROW_HEIGHT;
    const w = max > 0 ? Math.max(1, Math.round((l.uncompressed / max) * BAR_WIDTH)) : 1;
    const tip = `layer ${l.index}: ${formatSize(l.uncompressed)} uncompressed, ${l.compressed === null ? 'compressed size unknown (stored uncompressed)' : `${formatSize(l.compressed)} compressed`}, ${l.entries} entries${l.createdBy !== null ? `\n\n${l.createdBy}` : ''}`;
    return [
      `<g><title>${escapeHtml(tip)}</title>`,
      `<text x="0" y="${y + 13}">#${l.index}</text>`,
      `<rect class="bar" x="${LABEL_WIDTH}" y="${y + 2}" width="${w}" height="${BAR_HEIGHT}"/>`,
      `<text x="${LABEL_WIDTH + w + 6}" y="${y + 15}">${escapeHtml(formatSize(l.uncompressed))}</text></g>`,
    ].join('');
  });
  return `<svg role="img" aria-label="layer sizes" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n${bars.join('\n')}\n</svg>`;
}

/**
 * One self-contained HTML report for one image or several (a comparison): the summary table
 * (differing rows marked), the packages of each image against the first, then per image its layer
 * chart and details. `date` is printed when
 * given; nothing else varies.
 */
export function renderHtml(images: readonly NamedFacts[], opts: { date?: string } = {}): string {
  const rows = compareRows(images.map((i) => i.facts));
  const max = images.reduce((m, i) => i.facts.layers.reduce((n, l) => Math.max(n, l.uncompressed), m), 0);
  const title =
    images.length === 1
      ? `distill inspect: ${images[0]!.name}`
      : `distill compare: ${images.map((i) => i.name).join(' vs ')}`;
  const parts = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    ...(opts.date !== undefined ? [`<p class="note">${escapeHtml(opts.date)}</p>`] : []),
    summaryTable(images, rows),
    ...(images.length > 1 ? ['<p class="note">≠ marks the rows where the images differ.</p>'] : []),
    ...packageDiffHtml(images),
  ];
  for (const img of images) {
    parts.push(
      '<section>',
      `<h2>${escapeHtml(img.name)}</h2>`,
      '<h3>Layer sizes (uncompressed)</h3>',
      layerChart(img.facts, max),
      ...sections(img.facts).flatMap((s) => [
        `<h3>${escapeHtml(s.title)}</h3>`,
        htmlTable(s.columns, s.rows),
      ]),
      '</section>',
    );
  }
  parts.push('</body>', '</html>', '');
  return parts.join('\n');
}
