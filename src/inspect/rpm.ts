/**
 * rpm's package database in its SQLite form (rpm >= 4.16; `rpmdb.sqlite` of Fedora, UBI 9, RHEL
 * 9): the `Packages` table holds one rpm header per installed package. The database is opened
 * read-only in memory with sql.js (SQLite compiled to WebAssembly, so no native module and no
 * file I/O; the inline build, so that the CLI bundle carries it), loaded only when an image has
 * one. Each header is parsed here by rpm's documented header format (docs/manual/format_header):
 *
 *     [magic 8e ad e8 01 + 4 reserved bytes, absent in the database]
 *     int32 il (index entries), int32 dl (data bytes), il x {int32 tag, type, offset, count}, data
 *
 * all big-endian. Only the tags an SBOM needs are read. The Berkeley DB (`Packages`) and ndb
 * (`Packages.db`) databases of older or other distributions are detected, not read.
 */
import type { Database, SqlJsStatic } from 'sql.js';
import type { DatabaseProbe, PackageDetails, PackageLimits } from './packages.js';

const TAG = {
  name: 1000,
  version: 1001,
  release: 1002,
  epoch: 1003,
  vendor: 1011,
  license: 1014,
  arch: 1022,
  sourceRpm: 1044,
} as const;

const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;
const MAGIC = [0x8e, 0xad, 0xe8, 0x01];

export interface RpmHeader {
  name?: string;
  version?: string;
  release?: string;
  epoch?: number;
  vendor?: string;
  license?: string;
  arch?: string;
  sourceRpm?: string;
}

/** The SBOM's tags of one header blob; throws on a blob whose index points outside it. */
export function parseRpmHeader(blob: Uint8Array): RpmHeader {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const start = MAGIC.every((b, i) => buf[i] === b) ? 8 : 0;
  if (buf.length < start + 8) throw new Error('shorter than a header');
  const il = buf.readUInt32BE(start);
  const dl = buf.readUInt32BE(start + 4);
  const index = start + 8;
  const data = index + il * 16;
  if (il > 100_000 || data + dl > buf.length)
    throw new Error(`index of ${il} entries and ${dl} data bytes exceeds the blob`);
  const wanted = new Map<number, keyof RpmHeader>(
    Object.entries(TAG).map(([k, v]) => [v, k as keyof RpmHeader]),
  );
  const out: RpmHeader = {};
  for (let i = 0; i < il; i++) {
    const e = index + i * 16;
    const key = wanted.get(buf.readUInt32BE(e));
    if (key === undefined) continue;
    const type = buf.readUInt32BE(e + 4);
    const offset = buf.readUInt32BE(e + 8);
    if (offset >= dl) throw new Error(`tag ${TAG[key]} points past the data`);
    const at = data + offset;
    if (key === 'epoch') {
      if (type === TYPE_INT32 && at + 4 <= data + dl) out.epoch = buf.readUInt32BE(at);
      continue;
    }
    if (type !== TYPE_STRING && type !== TYPE_STRING_ARRAY && type !== TYPE_I18NSTRING) continue;
    const end = buf.indexOf(0, at);
    if (end < 0 || end > data + dl) throw new Error(`tag ${TAG[key]} is not terminated`);
    out[key] = buf.toString('utf8', at, end);
  }
  return out;
}

let sqlJs: Promise<SqlJsStatic> | undefined;

function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= import('sql.js/dist/sql-wasm-inline.js').then((m) => m.default());
  return sqlJs;
}

/** The packages of an rpmdb.sqlite file's bytes, with the problems met (never throws on bad content). */
export async function readRpmSqlite(
  bytes: Uint8Array,
  source: string,
  limits: PackageLimits,
): Promise<DatabaseProbe> {
  const probe: DatabaseProbe = { kind: 'rpm', packages: [], problems: [] };
  let db: Database;
  let rows: unknown[][];
  try {
    db = new (await loadSqlJs()).Database(bytes);
  } catch (err) {
    probe.problems.push(
      `${source} is not a SQLite database (${(err as Error).message}); its packages are not listed`,
    );
    return probe;
  }
  try {
    rows = db.exec('SELECT hnum, blob FROM Packages ORDER BY hnum')[0]?.values ?? [];
  } catch (err) {
    probe.problems.push(
      `${source} has no readable Packages table (${(err as Error).message}); its packages are not listed`,
    );
    return probe;
  } finally {
    db.close();
  }
  let bad = 0;
  for (const [, blob] of rows) {
    if (probe.packages.length >= limits.maxPackages) {
      probe.problems.push(`${source} lists more than ${limits.maxPackages} packages; the rest are left out`);
      break;
    }
    let h: RpmHeader;
    try {
      h = parseRpmHeader(blob as Uint8Array);
    } catch {
      bad++;
      continue;
    }
    // gpg-pubkey entries are keys rpm imported, not software.
    if (h.name === undefined || h.name === 'gpg-pubkey') continue;
    probe.packages.push(rpmRecord(h, limits));
  }
  if (bad > 0)
    probe.problems.push(`${source} has ${bad} package headers that could not be read; they are left out`);
  return probe;
}

function rpmRecord(h: RpmHeader, limits: PackageLimits): DatabaseProbe['packages'][number] {
  const version =
    h.version === undefined
      ? null
      : `${h.epoch !== undefined ? `${h.epoch}:` : ''}${h.version}${h.release !== undefined ? `-${h.release}` : ''}`;
  const details: PackageDetails = {};
  if (h.sourceRpm !== undefined) details.source = h.sourceRpm;
  if (h.license !== undefined) details.license = h.license;
  if (h.vendor !== undefined) details.vendor = h.vendor;
  return {
    name: h.name!,
    version,
    ...(h.arch !== undefined && { architecture: h.arch }),
    ...(limits.packageDetails && { details }),
  };
}
