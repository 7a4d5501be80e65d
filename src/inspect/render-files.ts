/** `distill inspect --files`: listings of the merged tree, as text and JSON. */
import { oneLine } from './sections.js';
import type { FileRow } from './tree.js';

/** Version of the file listing's JSON shape (FILES_JSON_SCHEMA); it has not changed since 1. */
export const FILES_SCHEMA_VERSION = 1;

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
  return `${JSON.stringify({ schemaVersion: FILES_SCHEMA_VERSION, files }, null, 2)}\n`;
}
