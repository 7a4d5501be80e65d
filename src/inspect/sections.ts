/**
 * What every report of facts shows (render-text.ts, render-markdown.ts, render-html.ts): the name
 * a user gave an image, and the detail tables of its facts.
 */
import type { Facts } from './facts.js';
import { diffRows, MAX_DIFF_ROWS, packageDiffs } from './package-diff.js';
import { formatCompressed, formatSize, printable } from './rows.js';

/** Facts and the name the user gave the image (its reference). */
export interface NamedFacts {
  name: string;
  facts: Facts;
}

/** A detail table: a title, column headers, rows of cells. */
export interface Section {
  title: string;
  columns: string[];
  rows: string[][];
}

function resolvesTo(target: string | null, status: string): string {
  return status === 'unknown' ? '(symlink loop)' : (target ?? '');
}

export function sections(f: Facts): Section[] {
  const all: Section[] = [
    {
      title: 'Layers',
      columns: ['#', 'Compressed', 'Uncompressed', 'Entries', 'Created by'],
      rows: f.layers.map((l) => [
        String(l.index),
        formatCompressed(l.compressed),
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
      title: 'Unsafe layer entries',
      columns: ['Layer', 'Entry', 'Kind', 'Target', 'Why'],
      rows: f.unsafePaths.map((u) => [String(u.layer), u.path, u.kind, u.target ?? '', u.why]),
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

/**
 * The package difference of a comparison as tables: per image after the first, the counts per
 * package type, then the packages added, removed and changed (at most MAX_DIFF_ROWS per type).
 */
export function packageDiffSections(images: readonly NamedFacts[]): Section[] {
  const base = images[0];
  if (base === undefined) return [];
  return packageDiffs(images.map((i) => i.facts)).flatMap((d) => {
    const name = images[d.image]!.name;
    const counts: Section = {
      title: `Packages of ${name} against ${base.name}`,
      columns: ['Type', 'Added', 'Removed', 'Changed', 'The same'],
      rows:
        d.types.length === 0
          ? [['none', '0', '0', '0', '0']]
          : d.types.map((t) => [
              t.type,
              ...[t.added.length, t.removed.length, t.changed.length, t.unchanged].map(String),
            ]),
    };
    const rows = d.types.flatMap((t) => {
      const { rows, omitted } = diffRows(t, MAX_DIFF_ROWS);
      const listed = rows.map((r) => [t.type, r.change, r.name, r.version]);
      return omitted === 0
        ? listed
        : [...listed, [t.type, `${omitted} more`, '', '--format json lists them all']];
    });
    const changes: Section = {
      title: `Package changes of ${name} against ${base.name}`,
      columns: ['Type', 'Change', 'Package', 'Version'],
      rows,
    };
    return rows.length === 0 ? [counts] : [counts, changes];
  });
}

/** One line, printable: newlines and tabs become spaces, control characters `\xNN`. */
export function oneLine(s: string): string {
  return printable(s.replace(/[\t\n\r]+/g, ' '));
}
