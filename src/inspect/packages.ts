/**
 * Package databases read from an image while its layers stream by: dpkg (`/var/lib/dpkg/status`
 * and the distroless `/var/lib/dpkg/status.d/*`, deb822 parsed by debian/deb822.ts), apk
 * (`/lib/apk/db/installed`) and npm (`node_modules/NAME/package.json`). Each reader is bounded
 * (bytes read, packages kept) and never throws on bad content: what it could read comes back with
 * the problems it met, and facts.ts turns those into warnings for the databases the merged
 * filesystem still holds. rpm's SQLite database is read by rpm.ts; its older formats are only
 * detected (see facts-scan.ts).
 */
import { Readable } from 'node:stream';
import { Deb822Parser, type Paragraph } from '../debian/deb822.js';
import { isDistillError } from '../errors.js';
import { lines } from './content.js';

export interface PackageRecord {
  name: string;
  version: string | null;
  /** dpkg and rpm: the architecture (amd64, all; x86_64, noarch), when the database lists one. */
  architecture?: string;
  /** With `packageDetails` (what an SBOM needs): what else the database says. */
  details?: PackageDetails;
}

/** What an SBOM needs beyond name and version; each field only when the database has it. */
export interface PackageDetails {
  /** dpkg `Source` (without its version), apk `o:` (origin), rpm `SOURCERPM`. */
  source?: string;
  /** apk `A:`. */
  architecture?: string;
  /** The licence as declared: apk `L:`, package.json `license` (or the old `licenses`, as OR). */
  license?: string;
  /** rpm `VENDOR`. */
  vendor?: string;
  /** npm: names in dependencies, optionalDependencies and peerDependencies. */
  dependencies?: string[];
}

/** What a package database file held. */
export interface DatabaseProbe {
  kind: 'dpkg' | 'apk' | 'rpm';
  packages: PackageRecord[];
  /** Why the list may be partial or wrong; empty when the file read cleanly. */
  problems: string[];
}

export interface NpmProbe {
  kind: 'npm';
  /** Undefined when the package.json was unreadable or had no name and version. */
  record?: PackageRecord;
}

export interface PackageLimits {
  /** Bytes read from one database file (default 64 MiB). */
  maxDatabaseBytes: number;
  /** Packages kept from one database file (default 100,000). */
  maxPackages: number;
  /** Bytes read from one package.json (default 64 KiB). */
  maxPackageJsonBytes: number;
  /** Read what an SBOM needs besides names and versions (PackageDetails; default false). */
  packageDetails?: boolean;
}

export const DEFAULT_PACKAGE_LIMITS: PackageLimits = {
  maxDatabaseBytes: 64 * 1024 * 1024,
  maxPackages: 100_000,
  maxPackageJsonBytes: 64 * 1024,
};

async function* capped(body: Readable, max: number, over: () => void): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    const c = chunk as Buffer;
    if (seen + c.length > max) {
      yield c.subarray(0, max - seen);
      over();
      return;
    }
    seen += c.length;
    yield c;
  }
}

/**
 * A dpkg database: the status file (`statusField: 'required'`, packages whose Status is not
 * `... installed` are left out) or one status.d file (`'optional'`: a paragraph without Status
 * counts as installed, as distroless writes some).
 */
export async function readDpkg(
  body: Readable,
  source: string,
  statusField: 'required' | 'optional',
  limits: PackageLimits = DEFAULT_PACKAGE_LIMITS,
): Promise<DatabaseProbe> {
  const probe: DatabaseProbe = { kind: 'dpkg', packages: [], problems: [] };
  const input = capped(body, limits.maxDatabaseBytes, () =>
    probe.problems.push(`${source} is larger than ${limits.maxDatabaseBytes} bytes; only its start was read`),
  );
  // Fed line by line, so that the paragraphs before a damaged one are kept.
  const parser = new Deb822Parser({ source, maxFieldSize: 1024 * 1024, maxParagraphSize: 4 * 1024 * 1024 });
  // Counted, not listed: a 64 MiB file of nameless paragraphs would make millions of messages.
  const nameless = { count: 0, first: 0 };
  const add = (paragraphs: Paragraph[]): boolean => {
    for (const p of paragraphs) {
      const name = p.get('Package');
      if (name === undefined) {
        if (nameless.count++ === 0) nameless.first = p.line;
        continue;
      }
      const status = p.get('Status');
      if (status === undefined ? statusField === 'required' : status.split(/\s+/)[2] !== 'installed')
        continue;
      if (probe.packages.length >= limits.maxPackages) {
        probe.problems.push(
          `${source} lists more than ${limits.maxPackages} packages; the rest are left out`,
        );
        return false;
      }
      const architecture = p.get('Architecture');
      const origin = limits.packageDetails ? p.get('Source')?.replace(/\s*\(.*$/, '') : undefined;
      probe.packages.push({
        name,
        version: p.get('Version') ?? null,
        ...(architecture !== undefined && { architecture }),
        ...(limits.packageDetails && { details: origin !== undefined ? { source: origin } : {} }),
      });
    }
    return true;
  };
  try {
    for await (const line of lines(Readable.from(input, { objectMode: false }), 1024 * 1024)) {
      if (!add(parser.push(`${line}\n`))) break;
    }
    if (probe.packages.length < limits.maxPackages) add(parser.end());
  } catch (err) {
    if (!isDistillError(err, 'DEB822_INVALID')) throw err;
    probe.problems.push(`${err.message}; packages after that point are left out`);
  }
  if (nameless.count > 0) {
    const more = nameless.count > 1 ? ` (and ${nameless.count - 1} more)` : '';
    probe.problems.push(`${source} has a paragraph without a Package field at line ${nameless.first}${more}`);
  }
  return probe;
}

/** apk's installed database: records of `X:value` lines separated by blank lines (P: name, V: version). */
export async function readApkInstalled(
  body: Readable,
  source: string,
  limits: PackageLimits = DEFAULT_PACKAGE_LIMITS,
): Promise<DatabaseProbe> {
  const probe: DatabaseProbe = { kind: 'apk', packages: [], problems: [] };
  let name: string | undefined;
  let version: string | undefined;
  let details: PackageDetails = {};
  let bad = 0;
  let nameless = 0;
  let full = false;
  const flush = () => {
    if (name === undefined) {
      if (version !== undefined) nameless++;
    } else if (probe.packages.length >= limits.maxPackages) full = true;
    else probe.packages.push({ name, version: version ?? null, ...(limits.packageDetails && { details }) });
    name = undefined;
    version = undefined;
    details = {};
  };
  const input = capped(body, limits.maxDatabaseBytes, () =>
    probe.problems.push(`${source} is larger than ${limits.maxDatabaseBytes} bytes; only its start was read`),
  );
  for await (const line of lines(Readable.from(input, { objectMode: false }), 64 * 1024)) {
    if (line === '') {
      flush();
      continue;
    }
    if (!/^[A-Za-z]:/.test(line) || line.includes('\uFFFD') || line.includes('\0')) {
      bad++;
      continue;
    }
    if (line.startsWith('P:')) {
      if (name !== undefined) flush();
      name = line.slice(2);
    } else if (line.startsWith('V:')) version = line.slice(2);
    else if (line.startsWith('A:')) details.architecture = line.slice(2);
    else if (line.startsWith('L:')) details.license = line.slice(2);
    else if (line.startsWith('o:')) details.source = line.slice(2);
  }
  flush();
  if (bad > 0) probe.problems.push(`${source} has ${bad} lines that are not apk database fields`);
  if (nameless > 0) probe.problems.push(`${source} has ${nameless} records without a P: (name) line`);
  if (full)
    probe.problems.push(`${source} lists more than ${limits.maxPackages} packages; the rest are left out`);
  return probe;
}

/** A package root's package.json under node_modules: `node_modules/NAME` or `node_modules/@SCOPE/NAME`. */
export const NPM_PACKAGE_JSON = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/@.][^/]*\/package\.json$/;

/**
 * A package.json's name and version from its first maxPackageJsonBytes + 1 bytes (see readHead);
 * with `details`, its declared licence and the names it depends on.
 */
export function parsePackageJson(bytes: Buffer, truncated: boolean, details = false): NpmProbe {
  if (truncated) return { kind: 'npm' };
  try {
    const json = JSON.parse(bytes.toString('utf8')) as unknown;
    if (json && typeof json === 'object') {
      const { name, version } = json as { name?: unknown; version?: unknown };
      if (typeof name === 'string' && name !== '' && name.length <= 214) {
        const v = typeof version === 'string' ? version : null;
        return { kind: 'npm', record: { name, version: v, ...(details && { details: npmDetails(json) }) } };
      }
    }
  } catch {
    // reported by the caller as an unreadable package.json
  }
  return { kind: 'npm' };
}

/** package.json's licence as declared (`license`, `{type}`, or the old `licenses` array as OR) and its dependency names. */
function npmDetails(json: object): PackageDetails {
  const j = json as Record<string, unknown>;
  const typeOf = (v: unknown): string | undefined => {
    if (typeof v === 'string') return v;
    const t = v && typeof v === 'object' ? (v as { type?: unknown }).type : undefined;
    return typeof t === 'string' ? t : undefined;
  };
  const names = Array.isArray(j.licenses) ? j.licenses.map(typeOf).filter((n) => n !== undefined) : [];
  const license = typeOf(j.license) ?? (names.length > 0 ? names.join(' OR ') : undefined);
  const deps = new Set<string>();
  for (const f of [j.dependencies, j.optionalDependencies, j.peerDependencies]) {
    if (f && typeof f === 'object' && !Array.isArray(f)) for (const n of Object.keys(f)) deps.add(n);
  }
  return { ...(license !== undefined && { license }), dependencies: [...deps].sort() };
}
