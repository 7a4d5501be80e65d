/**
 * SPDX 2.3 JSON, written by the spec (spdx.github.io/spdx-spec/v2.3): one package per component,
 * the document DESCRIBES the root, the root CONTAINS every other component, DEPENDS_ON for each
 * dependency. Licences that name something SPDX does not list are `LicenseRef-`s with their
 * declared name as extracted text. Nothing depends on the time or chance: `created` is the epoch
 * unless the caller gives a time, and the namespace is made of the content's digest.
 */
import { createHash } from 'node:crypto';
import {
  type Sbom,
  type SbomComponent,
  type SbomHash,
  sbomDigest,
  sortComponents,
  TIMELESS,
} from './model.js';
import { type Json, jsonPieces } from './pieces.js';

const PURPOSE: Record<SbomComponent['kind'], string> = {
  image: 'CONTAINER',
  app: 'APPLICATION',
  node: 'APPLICATION',
  deb: 'LIBRARY',
  apk: 'LIBRARY',
  rpm: 'LIBRARY',
  npm: 'LIBRARY',
};

const ALGORITHM: Record<SbomHash['algorithm'], string> = {
  'SHA-1': 'SHA1',
  'SHA-256': 'SHA256',
  'SHA-512': 'SHA512',
};

/** `SPDXRef-` ids: letters, digits, `.` and `-`, the component's name for a reader, a digest to be unique. */
function spdxIds(components: readonly SbomComponent[]): Map<string, string> {
  const ids = new Map<string, string>();
  for (const c of components) {
    const name = `${c.kind}-${c.name}`.replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 80);
    const hash = createHash('sha256').update(c.id).digest('hex').slice(0, 12);
    ids.set(c.id, `SPDXRef-${name}-${hash}`);
  }
  return ids;
}

/**
 * Whether SPDX's validators take `url` as a package download location. SPDX 2.3 (7.7) asks for a
 * URL or a VCS location; its own validators (tools-python, tools-java) read a URL as an optional
 * scheme (http, https, ftp, sftp, ssh, git, svn; a VCS location adds `git+`, `hg+`, `svn+` or
 * `bzr+` before it), an optional `user@`, then a host NAME whose last label is 2 to 5 letters, an
 * optional port and a path. So a mirror or registry named by an IP address (`http://10.0.0.5/`)
 * or a one-label host (`http://aptcache:3142/`) makes a document they refuse: such a location is
 * written as NOASSERTION, and kept, word for word, in the package's sourceInfo.
 */
export function spdxDownloadLocation(url: string): boolean {
  const m =
    /^(?:(?:git|hg|svn|bzr)\+)?(?:(?:https?|ftp|sftp|ssh|git|svn):\/\/)?(?:[^@/\s]+@)?([^/:\s]+)(?::\d{1,5})?(?:\/\S*)?$/i.exec(
      url,
    );
  const host = m?.[1];
  return host !== undefined && /^[a-z0-9]+(?:[.-][a-z0-9]+)*\.[a-z]{2,5}$/i.test(host);
}

function sourceInfo(c: SbomComponent, downloadedFrom: string | undefined): string | undefined {
  const parts: string[] = [];
  if (c.sourcePackage !== undefined) parts.push(`built from source package ${c.sourcePackage}`);
  if (c.path !== undefined) parts.push(`found at ${c.path}`);
  if (c.layer !== undefined) parts.push(`in layer ${c.layer}`);
  if (downloadedFrom !== undefined) parts.push(`downloaded from ${downloadedFrom}`);
  return parts.length > 0 ? parts.join('; ') : undefined;
}

function spdxPackage(c: SbomComponent, id: string): Json {
  const located = c.download !== undefined && spdxDownloadLocation(c.download);
  const info = sourceInfo(c, located ? undefined : c.download);
  return {
    SPDXID: id,
    name: c.name,
    ...(c.version !== null && { versionInfo: c.version }),
    downloadLocation: located ? c.download : 'NOASSERTION',
    filesAnalyzed: false,
    ...(c.hashes.length > 0 && {
      checksums: c.hashes.map((h) => ({ algorithm: ALGORITHM[h.algorithm], checksumValue: h.hex })),
    }),
    licenseConcluded: 'NOASSERTION',
    licenseDeclared: c.license?.expression ?? 'NOASSERTION',
    copyrightText: 'NOASSERTION',
    ...(info !== undefined && { sourceInfo: info }),
    ...(c.purl !== undefined && {
      externalRefs: [
        { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: c.purl },
      ],
    }),
    primaryPackagePurpose: PURPOSE[c.kind],
  };
}

type Relationship = [from: string, type: string, to: string];

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Sorted and without duplicates. The order is that of the three joined by NUL (what was sorted
 * before): SPDX ids and types hold no NUL, so comparing field by field, by code units, is the
 * same order, without a key string per relationship (tens of MB on the near-the-cap image).
 */
function relationships(
  sbom: Sbom,
  components: readonly SbomComponent[],
  ids: Map<string, string>,
): Relationship[] {
  const rootId = ids.get(sbom.root)!;
  const all: Relationship[] = [['SPDXRef-DOCUMENT', 'DESCRIBES', rootId]];
  for (const c of components) {
    const from = ids.get(c.id)!;
    if (c.id !== sbom.root) all.push([rootId, 'CONTAINS', from]);
    for (const d of c.dependsOn) {
      const to = ids.get(d);
      if (to !== undefined) all.push([from, 'DEPENDS_ON', to]);
    }
  }
  all.sort((a, b) => byText(a[0], b[0]) || byText(a[1], b[1]) || byText(a[2], b[2]));
  let kept = 0;
  for (const r of all) {
    const last = all[kept - 1];
    if (last === undefined || last[0] !== r[0] || last[1] !== r[1] || last[2] !== r[2]) all[kept++] = r;
  }
  all.length = kept;
  return all;
}

const relationshipJson = ([a, type, b]: Relationship): Json => ({
  spdxElementId: a,
  relationshipType: type,
  relatedSpdxElement: b,
});

function extractedLicenses(components: readonly SbomComponent[]): Json[] {
  const refs = new Map<string, string>();
  for (const c of components) {
    for (const [id, name] of Object.entries(c.license?.refs ?? {})) if (!refs.has(id)) refs.set(id, name);
  }
  return [...refs.keys()].sort().map((id) => ({
    licenseId: id,
    name: refs.get(id)!,
    extractedText: `The licence named "${refs.get(id)!}" by the package's own declaration (not an SPDX licence identifier)`,
  }));
}

/** The namespace of a document: unique to its content, the same for the same content. */
export function spdxNamespace(sbom: Sbom, sorted?: readonly SbomComponent[]): string {
  const name = sbom.subject.name.replace(/[^A-Za-z0-9.-]+/g, '-').slice(0, 100);
  return `https://spdx.org/spdxdocs/distill-${name}-${sbomDigest(sbom, sorted)}`;
}

/**
 * The document's parts: its head (every field before `packages`, in order) and its three lists,
 * each made as it is written. A document of tens of thousands of packages is never one object.
 */
function spdxParts(sbom: Sbom): { head: Json; lists: [string, Iterable<Json>][] } {
  const components = sortComponents(sbom.components);
  const ids = spdxIds(components);
  const licenses = extractedLicenses(components);
  const rels = relationships(sbom, components, ids);
  const head: Json = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: sbom.subject.name,
    documentNamespace: spdxNamespace(sbom, components),
    creationInfo: {
      created: sbom.created ?? TIMELESS,
      creators: [`Tool: ${sbom.tool.name}-${sbom.tool.version}`],
      ...(sbom.subject.digest !== undefined && { comment: `image ${sbom.subject.digest}` }),
    },
    documentDescribes: [ids.get(sbom.root)!],
  };
  const lists: [string, Iterable<Json>][] = [
    ['packages', mapped(components, (c) => spdxPackage(c, ids.get(c.id)!))],
    ['relationships', mapped(rels, relationshipJson)],
  ];
  if (licenses.length > 0) lists.push(['hasExtractedLicensingInfos', licenses]);
  return { head, lists };
}

function* mapped<T>(items: readonly T[], f: (item: T) => Json): Generator<Json> {
  for (const item of items) yield f(item);
}

/**
 * The SPDX 2.3 JSON text of an SBOM in pieces, the very bytes `JSON.stringify(document, null, 2)`
 * and a newline would give, without ever holding the document or its text whole (jsonPieces).
 */
export function spdxPieces(sbom: Sbom): Generator<string> {
  const { head, lists } = spdxParts(sbom);
  return jsonPieces(head, lists);
}

export function spdxJson(sbom: Sbom): string {
  return [...spdxPieces(sbom)].join('');
}
