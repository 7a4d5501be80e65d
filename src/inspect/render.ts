/**
 * Reports of facts: text (a terminal), Markdown (a pull request comment), HTML (one
 * self-contained file: inline CSS and SVG, no script, no network, a Content-Security-Policy that
 * forbids loading anything). Everything that came from an image is escaped for its format
 * (control characters too: a hostile image must not drive the terminal). No clock is read: the
 * same facts give the same bytes.
 */

import { FACTS_SCHEMA_VERSION, type Facts } from './facts.js';
import { compareRows, formatSize, printable, type Row } from './rows.js';
import type { FileRow } from './tree.js';

/** Facts and the name the user gave the image (its reference). */
export interface NamedFacts {
  name: string;
  facts: Facts;
}

/** A detail table: a title, column headers, rows of cells. */
interface Section {
  title: string;
  columns: string[];
  rows: string[][];
}

function resolvesTo(target: string | null, status: string): string {
  return status === 'unknown' ? '(symlink loop)' : (target ?? '');
}

function sections(f: Facts): Section[] {
  const all: Section[] = [
    {
      title: 'Layers',
      columns: ['#', 'Compressed', 'Uncompressed', 'Entries', 'Created by'],
      rows: f.layers.map((l) => [
        String(l.index),
        formatSize(l.compressed),
        formatSize(l.uncompressed),
        String(l.entries),
        l.createdBy ?? '',
      ]),
    },
    {
      title: 'Shells',
      columns: ['Name', 'Path', 'Resolves to'],
      rows: f.shells.map((s) => [s.name, s.path, resolvesTo(s.target, s.status)]),
    },
    {
      title: 'Package managers',
      columns: ['Name', 'Path', 'Resolves to'],
      rows: f.packageManagers.map((s) => [s.name, s.path, resolvesTo(s.target, s.status)]),
    },
    {
      title: 'Attack-surface tools',
      columns: ['Name', 'Path', 'Resolves to', 'Why it matters'],
      rows: f.lotl.map((s) => [s.name, s.path, resolvesTo(s.target, s.status), s.reason]),
    },
    {
      title: 'Setuid/setgid files',
      columns: ['Path', 'Mode', 'Owner'],
      rows: f.setuid.map((s) => [s.path, s.mode, `${s.uid}:${s.gid}`]),
    },
    {
      title: 'World-writable paths',
      columns: ['Path', 'Type', 'Mode'],
      rows: f.worldWritable.map((w) => [w.path, w.type, w.mode]),
    },
    {
      title: 'Package databases',
      columns: ['Type', 'Path', 'Packages'],
      rows: f.packageDatabases.map((d) => [d.type, d.path, d.count === null ? 'not read' : String(d.count)]),
    },
    {
      title: 'Likely secrets',
      columns: ['Kind', 'Where', 'Note'],
      rows: f.secrets.map((s) => [
        s.kind,
        s.source === 'config' ? `env ${s.location}` : s.location,
        s.removed
          ? `deleted by a later layer, still in layer ${s.layer}`
          : s.layer === null
            ? 'config'
            : `layer ${s.layer}`,
      ]),
    },
    {
      title: 'Security updates',
      columns: ['Package', 'Architecture', 'Installed', 'Available', 'Suite'],
      rows: (f.securityUpdates ?? []).map((u) => [u.name, u.architecture, u.installed, u.available, u.suite]),
    },
    { title: 'Environment', columns: ['Variable'], rows: f.env.map((e) => [e]) },
    { title: 'Warnings', columns: ['Warning'], rows: f.warnings.map((w) => [w]) },
  ];
  return all.filter((s) => s.rows.length > 0);
}

// ---- text ----

const WRAP = 48;
const CREATED_BY_MAX = 120;

/** One line, printable: newlines and tabs become spaces, control characters `\xNN`. */
function oneLine(s: string): string {
  return printable(s.replace(/[\t\n\r]+/g, ' '));
}

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

/** `distill compare` as text: one column per image, differing rows marked `*`. */
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
    '',
  ].join('\n');
}

// ---- Markdown ----

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

// ---- HTML ----

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
    const tip = `layer ${l.index}: ${formatSize(l.uncompressed)} uncompressed, ${formatSize(l.compressed)} compressed, ${l.entries} entries${l.createdBy !== null ? `\n\n${l.createdBy}` : ''}`;
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
 * (differing rows marked), then per image its layer chart and details. `date` is printed when
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

// ---- file listings ----

const TYPE_CHAR: Record<FileRow['type'], string> = { file: '-', dir: 'd', symlink: 'l', other: '?' };

/** `drwxr-xr-x`, with s/S and t/T for setuid, setgid and sticky. */
export function modeString(type: FileRow['type'], mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string) =>
    `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-'}`;
  return (
    TYPE_CHAR[type] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

/** `distill inspect --files` as text: mode, owner, size (bytes), layer, path (-> link target). */
export function renderFilesText(rows: readonly FileRow[]): string {
  const owner = (r: FileRow) => `${r.uid}:${r.gid}`;
  const ow = rows.reduce((n, r) => Math.max(n, owner(r).length), 5);
  const sw = rows.reduce((n, r) => Math.max(n, String(r.size).length), 4);
  const line = (mode: string, o: string, size: string, layer: string, path: string) =>
    `${mode.padEnd(10)}  ${o.padEnd(ow)}  ${size.padStart(sw)}  ${layer.padStart(5)}  ${path}`;
  const out = [line('MODE', 'OWNER', 'SIZE', 'LAYER', 'PATH')];
  for (const r of rows) {
    const link =
      r.linkTarget !== undefined
        ? ` -> ${r.linkTarget}`
        : r.hardlinkTo !== undefined
          ? ` => ${r.hardlinkTo}`
          : '';
    out.push(
      line(
        modeString(r.type, r.mode),
        owner(r),
        String(r.size),
        String(r.layer),
        oneLine(`${r.path}${link}`),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

/** `distill inspect --files --format json` (FILES_JSON_SCHEMA): modes as octal strings. */
export function renderFilesJson(rows: readonly FileRow[]): string {
  const files = rows.map((r) => ({ ...r, mode: r.mode.toString(8).padStart(4, '0') }));
  return `${JSON.stringify({ schemaVersion: FACTS_SCHEMA_VERSION, files }, null, 2)}\n`;
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
