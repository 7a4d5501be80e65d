/**
 * The SBOM model: what an image holds, as plain data that both writers (spdx.ts, cyclonedx.ts)
 * read. Every component says where it was found (the layer and the path), what identifies it
 * (purl, hashes) and what licence it declares (`null`: none declared or not readable, written as
 * NOASSERTION; a licence is never guessed). Dependencies are ids of other components.
 *
 * Nothing here reads a clock or draws a random number: a document is a function of its content,
 * so the same image gives the same bytes (see `sbomDigest`).
 */
import { createHash } from 'node:crypto';
import type { SbomLicense } from './license.js';

export type ComponentKind = 'image' | 'app' | 'node' | 'deb' | 'apk' | 'rpm' | 'npm';

export interface SbomHash {
  algorithm: 'SHA-1' | 'SHA-256' | 'SHA-512';
  /** Lower-case hex. */
  hex: string;
}

export interface SbomComponent {
  /** Unique in the document and stable across runs (see componentId). */
  id: string;
  kind: ComponentKind;
  name: string;
  /** null when the database lists none. */
  version: string | null;
  purl?: string;
  /** deb, apk, rpm: the architecture the database lists. */
  architecture?: string;
  /** deb, rpm: the source package it was built from, when the database says. */
  sourcePackage?: string;
  hashes: SbomHash[];
  /** The declared licence (license.ts); null: none declared or not readable (NOASSERTION). */
  license: SbomLicense | null;
  /** Where it can be downloaded from (npm `resolved`, a .deb's URL). */
  download?: string;
  /** The digest of the layer that holds it. */
  layer?: string;
  /** Where in the image it was found: its database, or its directory (npm). */
  path?: string;
  /** Ids of the components it depends on. */
  dependsOn: string[];
}

export interface Sbom {
  /** What the document describes: an image (its reference and manifest digest) or a build. */
  subject: { name: string; digest?: string };
  /** The id of the root component (the app of an app build, else the image). */
  root: string;
  /** Every component, the root included. */
  components: SbomComponent[];
  tool: { name: string; version: string };
  /** RFC 3339; only when asked for (`created` option): documents are otherwise timeless. */
  created?: string;
}

export type SbomFormat = 'spdx-json' | 'cyclonedx-json';
export const SBOM_FORMATS: readonly SbomFormat[] = ['spdx-json', 'cyclonedx-json'];

/** The time SPDX requires when the caller did not ask for one: the epoch, so runs agree. */
export const TIMELESS = '1970-01-01T00:00:00Z';

/** A stable id: the kind, name, version, architecture and where it was found. */
export function componentId(
  c: Pick<SbomComponent, 'kind' | 'name' | 'version' | 'architecture' | 'path'>,
): string {
  return [c.kind, c.name, c.version ?? '', c.architecture ?? '', c.path ?? ''].join('\u0000');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Components in one order whatever order they were found in: kind, name, version, then id. */
export function sortComponents(components: readonly SbomComponent[]): SbomComponent[] {
  return [...components]
    .map((c) => ({ ...c, dependsOn: [...new Set(c.dependsOn)].sort(), hashes: sortHashes(c.hashes) }))
    .sort(
      (a, b) =>
        compare(a.kind, b.kind) ||
        compare(a.name, b.name) ||
        compare(a.version ?? '', b.version ?? '') ||
        compare(a.id, b.id),
    );
}

function sortHashes(hashes: readonly SbomHash[]): SbomHash[] {
  const seen = new Map(hashes.map((h) => [`${h.algorithm}:${h.hex}`, h]));
  return [...seen.values()].sort((a, b) => compare(a.algorithm, b.algorithm) || compare(a.hex, b.hex));
}

/**
 * The SHA-256 of the model's content: what document namespaces and serial numbers derive from.
 * `sorted`: the components as sortComponents gave them, when the caller has them already.
 */
export function sbomDigest(sbom: Sbom, sorted?: readonly SbomComponent[]): string {
  const h = createHash('sha256');
  for (const part of sbomDigestParts(sbom, sorted)) h.update(part);
  return h.digest('hex');
}

/** What sbomDigest hashes, in order (a remembered SBOM hashes them again: build/sbom-record.ts). */
export function* sbomDigestParts(sbom: Sbom, sorted?: readonly SbomComponent[]): Generator<string> {
  yield JSON.stringify([sbom.subject, sbom.root, sbom.tool, sbom.created ?? null]);
  for (const c of sorted ?? sortComponents(sbom.components)) yield JSON.stringify(c);
}

const HEX_LENGTH: Record<SbomHash['algorithm'], number> = { 'SHA-1': 40, 'SHA-256': 64, 'SHA-512': 128 };

/** An SRI string (`sha512-<base64>`, several separated by spaces) as hashes; others are left out. */
export function hashesFromIntegrity(integrity: string | undefined): SbomHash[] {
  const out: SbomHash[] = [];
  for (const part of (integrity ?? '').trim().split(/\s+/)) {
    const m = /^(sha1|sha256|sha512)-([A-Za-z0-9+/]+=*)$/.exec(part);
    if (!m) continue;
    const algorithm = m[1] === 'sha1' ? 'SHA-1' : m[1] === 'sha256' ? 'SHA-256' : 'SHA-512';
    const hex = Buffer.from(m[2]!, 'base64').toString('hex');
    // A digest of the wrong length is no checksum of anything: an SBOM states none rather than it.
    if (hex.length === HEX_LENGTH[algorithm]) out.push({ algorithm, hex });
  }
  return out;
}
