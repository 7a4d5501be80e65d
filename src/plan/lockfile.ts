import { readFile } from 'node:fs/promises';
import { DistillError } from '../errors.js';
import { mirrorUrlProblem } from './mirrors.js';

/**
 * distill.lock.json: everything a base image is built from, pinned. Suites with the Date and
 * the SHA-256 of the InRelease they were read from; per architecture every package with name, version,
 * architecture, size, SHA256 and pool path; the exact Node version for the nodejs variants.
 * `distill base --lock FILE` builds from this alone (no index download), so the image digest
 * is the same on any day and machine while the archive still serves those files.
 */
export const LOCKFILE_VERSION = 1;
export const LOCKFILE_NAME = 'distill.lock.json';

export type PackageRole = 'base' | 'extra' | 'ca' | 'debug';

export interface LockedSuite {
  name: string;
  codename: string;
  version?: string;
  date: string;
  /**
   * The archive root the suite was read from, and where a build from the lockfile fetches it
   * (its InRelease and its packages' .debs) unless `--mirror` says otherwise.
   */
  mirror: string;
  /**
   * SHA-256 (hex) of the InRelease file the suite was resolved from, the one whose signature
   * distill verified: the provenance names it. Absent in locks written before distill kept it
   * (they are read and build the same images; their provenance gives the Date alone).
   */
  inReleaseSha256?: string;
}

export interface LockedPackage {
  name: string;
  version: string;
  architecture: string;
  size: number;
  sha256: string;
  filename: string;
  suite: string;
  role: PackageRole;
  /** Why an extra package is there (`requested` or the relation that pulled it in). */
  reason?: string;
}

export interface LockRequest {
  variant: string;
  packages: string[];
  debug: boolean;
}

export interface Lockfile {
  lockfileVersion: typeof LOCKFILE_VERSION;
  request: LockRequest;
  suites: LockedSuite[];
  /** Debian architecture -> packages, sorted by name. */
  architectures: Record<string, LockedPackage[]>;
  node?: { version: string };
}

function bad(file: string, field: string, problem: string): never {
  throw new DistillError(
    'LOCKFILE_INVALID',
    `${file}: "${field}" ${problem}; write it again with distill lock`,
  );
}

export function validateLockfile(v: unknown, file: string): Lockfile {
  if (typeof v !== 'object' || v === null) bad(file, '(root)', 'must be a JSON object');
  const l = v as Record<string, unknown>;
  if (l.lockfileVersion !== LOCKFILE_VERSION) {
    bad(
      file,
      'lockfileVersion',
      `is ${JSON.stringify(l.lockfileVersion)}, this distill reads ${LOCKFILE_VERSION}`,
    );
  }
  const req = l.request as Record<string, unknown> | undefined;
  if (
    !req ||
    typeof req.variant !== 'string' ||
    !Array.isArray(req.packages) ||
    typeof req.debug !== 'boolean'
  ) {
    bad(file, 'request', 'must hold variant, packages and debug');
  }
  if (!Array.isArray(l.suites) || l.suites.length === 0) bad(file, 'suites', 'must list at least one suite');
  l.suites.forEach((s: Record<string, unknown>, i: number) => {
    for (const k of ['name', 'codename', 'date', 'mirror']) {
      if (typeof s?.[k] !== 'string') bad(file, `suites[${i}].${k}`, 'must be a string');
    }
    const problem = mirrorUrlProblem(s.mirror as string);
    if (problem !== undefined) bad(file, `suites[${i}].mirror`, problem);
    if (s.inReleaseSha256 !== undefined && !/^[a-f0-9]{64}$/.test(String(s.inReleaseSha256))) {
      bad(file, `suites[${i}].inReleaseSha256`, 'must be 64 hex digits');
    }
  });
  const suiteNames = l.suites.map((s: { name: string }) => s.name);
  const archs = l.architectures as Record<string, unknown> | undefined;
  if (!archs || typeof archs !== 'object' || Object.keys(archs).length === 0) {
    bad(file, 'architectures', 'must map at least one architecture to its packages');
  }
  for (const [arch, list] of Object.entries(archs)) {
    if (!Array.isArray(list)) bad(file, `architectures.${arch}`, 'must be a list');
    list.forEach((p: Record<string, unknown>, i: number) => {
      const where = `architectures.${arch}[${i}]`;
      for (const k of ['name', 'version', 'architecture', 'filename', 'suite', 'role']) {
        if (typeof p?.[k] !== 'string') bad(file, `${where}.${k}`, 'must be a string');
      }
      if (typeof p.size !== 'number' || !Number.isSafeInteger(p.size))
        bad(file, `${where}.size`, 'must be an integer');
      if (typeof p.sha256 !== 'string' || !/^[a-f0-9]{64}$/.test(p.sha256)) {
        bad(file, `${where}.sha256`, 'must be 64 hex digits');
      }
      // The suite chooses the mirror the .deb is fetched from.
      if (!suiteNames.includes(p.suite as string)) {
        bad(
          file,
          `${where}.suite`,
          `is "${p.suite}", not one of the lockfile's suites (${suiteNames.join(', ')})`,
        );
      }
    });
  }
  if (l.node !== undefined && typeof (l.node as { version?: unknown }).version !== 'string') {
    bad(file, 'node.version', 'must be a string');
  }
  return v as Lockfile;
}

export async function readLockfile(file: string): Promise<Lockfile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DistillError('NOT_FOUND', `cannot read the lockfile ${file}; create it with distill lock`, {
      cause: err,
    });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new DistillError('LOCKFILE_INVALID', `${file} is not valid JSON (${(err as Error).message})`, {
      cause: err,
    });
  }
  return validateLockfile(v, file);
}

/** Stable text: two-space JSON, trailing newline, packages sorted by name. */
export function formatLockfile(l: Lockfile): string {
  const architectures: Record<string, LockedPackage[]> = {};
  for (const arch of Object.keys(l.architectures).sort()) {
    architectures[arch] = [...(l.architectures[arch] ?? [])].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }
  return `${JSON.stringify({ ...l, architectures }, null, 2)}\n`;
}

declare module '../store/records.js' {
  interface RecordValues {
    /** A base's lock and the Packages index hashes it was resolved from (one record for build, base and lock). */
    'base-lock': { lock: Lockfile; indexes: string[] };
  }
}
