/**
 * What facts read from file contents: the harvester, called for every regular file while its layer
 * streams by (every read capped), and what it attaches to the nodes of the merged tree.
 */

import { readHead, scanFor } from './content.js';
import type { FactLimits } from './facts.js';
import type { Harvester } from './merge.js';
import {
  type DatabaseProbe,
  NPM_PACKAGE_JSON,
  type NpmProbe,
  parsePackageJson,
  readApkInstalled,
  readDpkg,
} from './packages.js';
import { readRpmSqlite } from './rpm.js';
import { type SecretKind, secretCandidate } from './secret-rules.js';
import type { TreeNode } from './tree.js';

export interface OsReleaseProbe {
  kind: 'os-release';
  fields: Record<string, string>;
  problems: string[];
}
export interface PasswdProbe {
  kind: 'passwd';
  users: Map<string, number>;
}
export interface VersionProbe {
  kind: 'glibc-version' | 'node-version';
  version: string | undefined;
}
export interface SecretProbe {
  kind: 'secret';
  secret: SecretKind;
}
/** The login shells /etc/shells lists (absolute paths). */
export interface ShellsProbe {
  kind: 'shells';
  paths: string[];
}
export interface SkippedProbe {
  kind: 'npm-skipped';
}
/** With packageDetails: a Debian copyright file (usr/share/doc/PKG/copyright), whole or not at all. */
export interface CopyrightProbe {
  kind: 'copyright';
  text: string | undefined;
}
/** With packageDetails: npm's hidden lockfile in node_modules: each package path's integrity and resolved. */
export interface NpmLockProbe {
  kind: 'npm-lock';
  packages: Record<string, { integrity?: string; resolved?: string }>;
}
export type Probe =
  | OsReleaseProbe
  | PasswdProbe
  | VersionProbe
  | SecretProbe
  | SkippedProbe
  | ShellsProbe
  | DatabaseProbe
  | NpmProbe
  | CopyrightProbe
  | NpmLockProbe;

export function probeOf(node: TreeNode | undefined): Probe | undefined {
  return node?.probe as Probe | undefined;
}

export const STATUS_D = 'var/lib/dpkg/status.d';

/** Parses os-release(5): `KEY=value` lines, values optionally quoted; bad lines are problems. */
export function parseOsRelease(bytes: Uint8Array): OsReleaseProbe {
  const probe: OsReleaseProbe = { kind: 'os-release', fields: {}, problems: [] };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    probe.problems.push('is not UTF-8 text');
    return probe;
  }
  if (text.includes('\0')) {
    probe.problems.push('is not text (it holds NUL bytes)');
    return probe;
  }
  let bad = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      bad++;
      continue;
    }
    let v = m[2]!;
    const q = v[0];
    if (q === '"' || q === "'") {
      if (v.length < 2 || v[v.length - 1] !== q) {
        bad++;
        continue;
      }
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\(.)/g, '$1');
    }
    probe.fields[m[1]!] = v;
  }
  if (bad > 0) probe.problems.push(`has ${bad} lines that are not KEY=value`);
  return probe;
}

function parsePasswd(bytes: Uint8Array): PasswdProbe {
  const users = new Map<string, number>();
  for (const line of Buffer.from(bytes).toString('utf8').split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2]!)) continue;
    if (!users.has(f[0]!)) users.set(f[0]!, Number(f[2]));
  }
  return { kind: 'passwd', users };
}

/** Most paths kept from /etc/shells. */
const MAX_SHELLS = 256;

/** /etc/shells: one absolute path a line; comments and anything else left out. */
export function parseShells(bytes: Uint8Array): ShellsProbe {
  const paths: string[] = [];
  for (const raw of Buffer.from(bytes).toString('utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('/') && paths.length < MAX_SHELLS && !paths.includes(line)) paths.push(line);
  }
  return { kind: 'shells', paths };
}

export const GLIBC_FILE = /^libc-(\d+\.\d+)\.so$/;

function secretProbe(secret: SecretKind): SecretProbe {
  return { kind: 'secret', secret };
}

/**
 * The harvester of facts: os-release, passwd, shells, package databases (dpkg, apk, npm
 * package.json files up to limits.maxPackageJsonFiles), the versions of glibc and node, and likely
 * secrets (the rules of secret-rules.ts).
 */
export function factHarvester(limits: FactLimits): Harvester {
  let packageJsonRead = 0;
  return (path, entry, node, base) => {
    if (path === 'etc/os-release' || path === 'usr/lib/os-release') {
      return readHead(entry, 64 * 1024).then(({ bytes }) => parseOsRelease(bytes));
    }
    // Any file named shells: /etc/shells may be a link to one (the facts read the one it resolves to).
    if (base === 'shells') return readHead(entry, 64 * 1024).then(({ bytes }) => parseShells(bytes));
    if (path === 'etc/passwd') return readHead(entry, 1024 * 1024).then(({ bytes }) => parsePasswd(bytes));
    if (path === 'var/lib/dpkg/status') return readDpkg(entry.open(), `/${path}`, 'required', limits);
    if (
      path.length === STATUS_D.length + 1 + base.length &&
      path.startsWith(`${STATUS_D}/`) &&
      !/\.(md5sums|list|conffiles)$/.test(base)
    ) {
      return readDpkg(entry.open(), `/${path}`, 'optional', limits);
    }
    if (path === 'lib/apk/db/installed') return readApkInstalled(entry.open(), `/${path}`, limits);
    if (base === 'rpmdb.sqlite' && RPM_SQLITE.has(path)) return rpmProbe(entry, `/${path}`, limits);
    if (base === 'package.json' && NPM_PACKAGE_JSON.test(path)) {
      if (packageJsonRead >= limits.maxPackageJsonFiles) return Promise.resolve({ kind: 'npm-skipped' });
      packageJsonRead++;
      return readHead(entry, limits.maxPackageJsonBytes + 1).then(({ bytes, truncated }) =>
        parsePackageJson(bytes, truncated, limits.packageDetails),
      );
    }
    if (limits.packageDetails) {
      const detail = detailProbe(path, base, entry, limits);
      if (detail !== undefined) return detail;
    }
    if (base === 'libc.so.6' || GLIBC_FILE.test(base)) {
      return scanFor(entry.open(), 'GNU C Library', /GNU C Library[^\n\0]{0,120}? version (\d+\.\d+)/, {
        max: 32 * 1024 * 1024,
        window: 160,
      }).then((version) => ({ kind: 'glibc-version', version }));
    }
    if (base === 'node' && (node.mode & 0o111) !== 0) {
      return scanFor(entry.open(), '-headers.tar', /node-v(\d+\.\d+\.\d+)-headers\.tar/, {
        max: 512 * 1024 * 1024,
        window: 40,
      }).then((version) => ({ kind: 'node-version', version }));
    }
    const rule = secretCandidate(path, base, node.size);
    if (rule === undefined) return undefined;
    // Nearly every small file comes here (sniffed for a private key): from the bytes the layer
    // reader holds, when it can.
    const head = entry.peek?.(rule.bytes);
    if (head !== undefined) return rule.matches(head) ? Promise.resolve(secretProbe(rule.id)) : undefined;
    return readHead(entry, rule.bytes).then(({ bytes }) =>
      rule.matches(bytes) ? secretProbe(rule.id) : undefined,
    );
  };
}

/** A copyright file read whole: 1 MiB at most (a longer one is left out, not read in part). */
const MAX_COPYRIGHT = 1024 * 1024;
const COPYRIGHT = /^usr\/share\/doc\/[^/]+\/copyright$/;

/** The files only an SBOM reads: Debian copyright files and npm's hidden lockfiles. */
function detailProbe(
  path: string,
  base: string,
  entry: Parameters<Harvester>[1],
  limits: FactLimits,
): Promise<Probe> | undefined {
  if (base === 'copyright' && COPYRIGHT.test(path)) {
    return readHead(entry, MAX_COPYRIGHT + 1).then(({ bytes, truncated }) => ({
      kind: 'copyright',
      text: truncated ? undefined : bytes.toString('utf8'),
    }));
  }
  if (base === '.package-lock.json' && path.endsWith('node_modules/.package-lock.json')) {
    return readHead(entry, limits.maxDatabaseBytes + 1).then(({ bytes, truncated }) => ({
      kind: 'npm-lock',
      packages: truncated ? {} : npmLockHashes(bytes),
    }));
  }
  return undefined;
}

function npmLockHashes(bytes: Buffer): NpmLockProbe['packages'] {
  const out: NpmLockProbe['packages'] = {};
  try {
    const packages = (JSON.parse(bytes.toString('utf8')) as { packages?: unknown }).packages;
    if (!packages || typeof packages !== 'object') return out;
    for (const [key, v] of Object.entries(
      packages as Record<string, { integrity?: unknown; resolved?: unknown }>,
    )) {
      const e: { integrity?: string; resolved?: string } = {};
      if (typeof v?.integrity === 'string') e.integrity = v.integrity;
      if (typeof v?.resolved === 'string') e.resolved = v.resolved;
      if (e.integrity !== undefined || e.resolved !== undefined) out[key] = e;
    }
  } catch {
    // an unreadable lockfile gives no hashes; the packages are still listed from their package.json
  }
  return out;
}

/** Where rpm keeps its SQLite database (RHEL/UBI 9 and older Fedora; Fedora 36 and later). */
const RPM_SQLITE = new Set(['var/lib/rpm/rpmdb.sqlite', 'usr/lib/sysimage/rpm/rpmdb.sqlite']);

/** An rpm SQLite database, read whole into memory (maxDatabaseBytes at most). */
function rpmProbe(
  entry: Parameters<Harvester>[1],
  source: string,
  limits: FactLimits,
): Promise<DatabaseProbe> {
  return readHead(entry, limits.maxDatabaseBytes + 1).then(({ bytes, truncated }) =>
    truncated
      ? {
          kind: 'rpm',
          packages: [],
          problems: [
            `${source} is larger than ${limits.maxDatabaseBytes} bytes; its packages are not listed`,
          ],
        }
      : readRpmSqlite(bytes, source, limits),
  );
}
