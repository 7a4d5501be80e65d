/**
 * The rows of `distill compare` (and of the summary of `distill inspect`): one row per fact,
 * human-friendly values, the rows of the usual "Distroless vs Alpine" table first, then the rest.
 * A row `differs` when its values are not all the same (never for a single image).
 */
import type { Executable, Facts } from './facts.js';

export interface Row {
  key: string;
  label: string;
  /** One value per image, in the order the images were given. */
  values: string[];
  differs: boolean;
}

/** Decimal units, one decimal: `145.2 MB` (the units `--deny size>...` takes). */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = bytes / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * Control characters (terminal escapes from a hostile image), line separators and bidi overrides
 * shown as `\xNN` / `\u{NNNN}`: text that came from an image can then neither drive a terminal
 * nor disguise itself.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}

/** A compressed size, `unknown` when the blob was not compressed (LayerFact.compressed null). */
export function formatCompressed(bytes: number | null): string {
  return bytes === null ? 'unknown' : formatSize(bytes);
}

/** Which layers (indexes) have no known compressed size. */
export function uncompressedLayers(f: Facts): number[] {
  return f.layers.filter((l) => l.compressed === null).map((l) => l.index);
}

function compressedSize(f: Facts): string {
  if (f.size.compressed !== null) return formatSize(f.size.compressed);
  const n = uncompressedLayers(f).length;
  return `unknown (${n === f.layers.length ? 'layers' : `${n} of ${f.layers.length} layers`} stored uncompressed)`;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Shells grouped by the file they resolve to: `/bin/sh -> /usr/bin/dash` and `/usr/bin/dash`
 * make one `sh (dash)`; a lone bash is `bash`.
 */
export function shellNames(shells: readonly Executable[]): string[] {
  const groups = new Map<string, string[]>();
  const out: string[] = [];
  for (const s of shells) {
    if (s.status === 'unknown') {
      out.push(`${s.name} (unknown: ${s.path} is a symlink loop)`);
      continue;
    }
    const real = s.target ?? s.path;
    const names = groups.get(real) ?? [];
    if (!names.includes(s.name)) names.push(s.name);
    groups.set(real, names);
  }
  for (const [real, names] of groups) {
    const own = basename(real);
    const aliases = names.filter((n) => n !== own);
    out.push(aliases.length === 0 ? own : `${aliases.join(', ')} (${own})`);
  }
  return out.sort();
}

function names(list: readonly { name: string }[]): string {
  const unique = [...new Set(list.map((x) => x.name))];
  return unique.length === 0 ? 'none' : unique.join(', ');
}

function count(n: number): string {
  return n === 0 ? 'none' : String(n);
}

function words(list: readonly string[] | null): string {
  return list === null || list.length === 0 ? 'none' : JSON.stringify(list);
}

function user(f: Facts): string {
  if (f.source.kind === 'rootfs' && f.user === null) return 'unknown (a root filesystem has no config)';
  const who = f.user ?? 'unset';
  if (f.runsAsRoot === true) return f.user === null ? 'root (unset)' : `${who} (root)`;
  if (f.runsAsRoot === false) return who;
  return `${who} (unknown uid)`;
}

function systemPackages(f: Facts): string {
  const os = f.packages.filter((p) => p.type !== 'npm');
  const byType = new Map<string, number>();
  for (const p of os) byType.set(p.type, (byType.get(p.type) ?? 0) + 1);
  const parts = [...byType].map(([t, n]) => `${n} ${t}`);
  if (f.packageDatabases.some((d) => d.type === 'rpm')) parts.push('rpm database (not read)');
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function packagesOf(f: Facts, type: 'deb' | 'apk' | 'npm'): string {
  return count(f.packages.filter((p) => p.type === type).length);
}

function osName(f: Facts): string {
  if (f.os.prettyName !== null) return f.os.prettyName;
  if (f.os.id !== null) return [f.os.id, f.os.version].filter((x) => x !== null).join(' ');
  return 'unknown';
}

function securityUpdates(f: Facts): string {
  if (f.security === undefined) return 'not checked';
  if (!f.security.checked) return `not checked: ${f.security.reason ?? 'unknown reason'}`;
  return count(f.securityUpdates?.length ?? 0);
}

function node(f: Facts): string {
  if (f.node === null) return 'none';
  const where = f.node.path !== null ? ` at ${f.node.path}` : '';
  if (f.node.version === null) return `unknown version${where}`;
  return f.node.source === 'env' ? `${f.node.version} (from NODE_VERSION)` : f.node.version;
}

const ROWS: readonly [key: string, label: string, value: (f: Facts) => string][] = [
  ['size', 'Size (uncompressed)', (f) => formatSize(f.size.uncompressed)],
  ['shell', 'Shell access', (f) => shellNames(f.shells).join(', ') || 'none'],
  ['packageManager', 'Package manager', (f) => names(f.packageManagers)],
  ['systemLibraries', 'System libraries (OS packages)', systemPackages],
  ['libc', 'libc', (f) => f.libc.family],
  ['lotl', 'Attack-surface tools', (f) => names(f.lotl)],
  ['packages', 'Packages', (f) => count(f.packages.length)],
  ['user', 'User', user],
  ['os', 'OS', osName],
  ['platform', 'Platform', (f) => f.source.platform ?? 'unknown'],
  ['libcVersion', 'libc version', (f) => (f.libc.family === 'none' ? 'none' : (f.libc.version ?? 'unknown'))],
  ['node', 'Node.js', node],
  ['setuid', 'Setuid/setgid files', (f) => count(f.setuid.length)],
  ['worldWritable', 'World-writable paths', (f) => count(f.worldWritable.length)],
  ['unsafePaths', 'Unsafe layer entries', (f) => count(f.unsafePaths.length)],
  ['secrets', 'Likely secrets', (f) => count(f.secrets.length)],
  ['securityUpdates', 'Packages with security updates', securityUpdates],
  ['layers', 'Layers', (f) => String(f.layers.length)],
  ['compressedSize', 'Size (compressed)', compressedSize],
  ['wastedBytes', 'Wasted (replaced or deleted files)', (f) => formatSize(f.wastedBytes)],
  ['entrypoint', 'Entrypoint', (f) => words(f.entrypoint)],
  ['cmd', 'Cmd', (f) => words(f.cmd)],
  ['workingDir', 'Working directory', (f) => f.workingDir ?? 'none'],
  ['exposedPorts', 'Exposed ports', (f) => f.exposedPorts.join(', ') || 'none'],
  ['debPackages', 'deb packages', (f) => packagesOf(f, 'deb')],
  ['apkPackages', 'apk packages', (f) => packagesOf(f, 'apk')],
  ['npmPackages', 'npm packages', (f) => packagesOf(f, 'npm')],
  ['warnings', 'Warnings', (f) => count(f.warnings.length)],
];

/** The keys of the rows, in order. */
export const ROW_KEYS: readonly string[] = ROWS.map(([k]) => k);

/** One row per fact for the images given, in the order of ROW_KEYS. */
export function compareRows(images: readonly Facts[]): Row[] {
  return ROWS.map(([key, label, value]) => {
    const values = images.map(value);
    return { key, label, values, differs: values.some((v) => v !== values[0]) };
  });
}
