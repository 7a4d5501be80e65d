/**
 * CycloneDX 1.6 JSON: the root is `metadata.component`, every other component is in
 * `components`, `dependencies` comes from each component's dependsOn. Where a component was found
 * (layer, path) and its source package are `distill:` properties. No timestamp unless asked for;
 * the serial number is made of the content's digest, so the same content gives the same bytes.
 *
 * The bytes are those @cyclonedx/cyclonedx-library 10 writes for the same model (its
 * JsonSerializer for Spec1dot6 with `sortLists` and `space: 2`: the CycloneDX project's own
 * normalizer), made here by hand and in pieces (decision 0032): the library builds its model, the
 * normalized tree and the whole text in memory (304 MB for the 33,600 packages of a large image's
 * SBOM), and loading it costs a warm `--attest` build about 40 ms on Node 20. The tests compare
 * these bytes with the library's on real documents and validate them with its validator. What
 * follows mirrors the library's normalizer: its key order, what it leaves out, its sort orders
 * (`localeCompare`, hence one default collator), the hash values its spec accepts.
 */
import { type Sbom, type SbomComponent, type SbomHash, sbomDigest, sortComponents } from './model.js';
import { type Json, jsonPieces } from './pieces.js';

const SCHEMA = 'http://cyclonedx.org/schema/bom-1.6.schema.json';

const TYPE: Record<SbomComponent['kind'], string> = {
  image: 'container',
  app: 'application',
  node: 'platform',
  deb: 'library',
  apk: 'library',
  rpm: 'library',
  npm: 'library',
};

/**
 * The library sorts with `String.prototype.localeCompare`, whose order follows the machine's
 * locale (LANG): the same image would give other bytes on a German machine. The collator here
 * is fixed to en-US, the order of the library on the default (C or English) locale, so that the
 * document is the same on every machine. Made on first use: building ICU's collator costs a
 * process about 7 ms, which a warm build filling a remembered SBOM (template.ts) never needs.
 */
let collator: Intl.Collator['compare'] | undefined;
const collate = (a: string, b: string): number => {
  collator ??= new Intl.Collator('en-US').compare;
  return collator(a, b);
};

/** Hash values CycloneDX 1.6 accepts (the library drops others). */
const HASH_VALUE =
  /^([a-fA-F0-9]{32})$|^([a-fA-F0-9]{40})$|^([a-fA-F0-9]{64})$|^([a-fA-F0-9]{96})$|^([a-fA-F0-9]{128})$/;

/** What the library escapes in a URL (its `escapeUri`). */
const URI_ESCAPES: [RegExp, string][] = [
  [/ /g, '%20'],
  [/"/g, '%22'],
  [/'/g, '%27'],
  [/\[/g, '%5B'],
  [/]/g, '%5D'],
  [/</g, '%3C'],
  [/>/g, '%3E'],
  [/\{/g, '%7B'],
  [/}/g, '%7D'],
];

function escapeUri(url: string): string {
  let out = url;
  for (const [re, to] of URI_ESCAPES) out = out.replace(re, to);
  return out;
}

/**
 * Readable bom-refs (the purl, else kind:name[@version]), the path added where two would be equal.
 * Where even that is not unique (one purl twice at one path), the library would draw a random
 * ref; here a counter is added, so the document stays a function of its content.
 */
function bomRefs(components: readonly SbomComponent[]): Map<string, string> {
  const plain = (c: SbomComponent) =>
    c.purl ?? `${c.kind}:${c.name}${c.version !== null ? `@${c.version}` : ''}`;
  const counts = new Map<string, number>();
  for (const c of components) counts.set(plain(c), (counts.get(plain(c)) ?? 0) + 1);
  const refs = new Map<string, string>();
  const taken = new Set<string>();
  for (const c of components) {
    const p = plain(c);
    let ref = counts.get(p) === 1 ? p : `${p}#${c.path ?? ''}`;
    for (let n = 2; taken.has(ref); n++) ref = `${p}#${c.path ?? ''}#${n}`;
    taken.add(ref);
    refs.set(c.id, ref);
  }
  return refs;
}

/** The library's hash dictionary: one value per algorithm (the last set), sorted, invalid values left out. */
function hashesJson(hashes: readonly SbomHash[]): Json[] | undefined {
  if (hashes.length === 0) return undefined;
  const byAlg = new Map<string, string>();
  for (const h of hashes) byAlg.set(h.algorithm, h.hex);
  return [...byAlg]
    .sort(([a1, c1], [a2, c2]) => collate(a1, a2) || collate(c1, c2))
    .filter(([, content]) => HASH_VALUE.test(content))
    .map(([alg, content]) => ({ alg, content }));
}

function propertiesJson(c: SbomComponent): Json[] | undefined {
  const props: [string, string | undefined][] = [
    ['distill:layer', c.layer],
    ['distill:path', c.path],
    ['distill:source-package', c.sourcePackage],
    ['distill:architecture', c.architecture],
  ];
  const set = props.filter((p): p is [string, string] => p[1] !== undefined);
  if (set.length === 0) return undefined;
  return set
    .sort(([n1, v1], [n2, v2]) => collate(n1, n2) || collate(v1, v2))
    .map(([name, value]) => ({ name, value }));
}

/** One component as the library's ComponentNormalizer gives it (its key order). */
function componentJson(c: SbomComponent, ref: string): Json {
  const license = c.license;
  const properties = propertiesJson(c);
  return {
    type: TYPE[c.kind],
    name: c.name,
    ...(c.version !== null && c.version !== '' && { version: c.version }),
    'bom-ref': ref,
    hashes: hashesJson(c.hashes),
    ...(license && {
      licenses: [
        Object.keys(license.refs).length === 0
          ? { expression: license.expression }
          : { license: { name: license.declared } },
      ],
    }),
    purl: c.purl,
    ...(c.download !== undefined && {
      externalReferences: [{ url: escapeUri(c.download), type: 'distribution' }],
    }),
    properties,
  };
}

/** `urn:uuid:` of the content's digest, shaped as a version 5 (name-based) UUID. */
export function cyclonedxSerial(sbom: Sbom, sorted?: readonly SbomComponent[]): string {
  return serialOfDigest(sbomDigest(sbom, sorted));
}

/** The serial number of a document whose content has this digest (sbomDigest). */
export function serialOfDigest(digest: string): string {
  const hex = digest.slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Entry {
  c: SbomComponent;
  ref: string;
}

/** The library's Component.compare: bom-ref, then purl, then name and version. */
function compareEntries(a: Entry, b: Entry): number {
  const byRef = collate(a.ref, b.ref);
  if (byRef !== 0) return byRef;
  if (a.c.purl !== undefined && b.c.purl !== undefined) return collate(a.c.purl, b.c.purl);
  return collate(a.c.name, b.c.name) || collate(a.c.version ?? '', b.c.version ?? '');
}

/**
 * The document's parts: its head (every field before `components`, in order) and its two lists,
 * each item made as it is written.
 */
function cyclonedxParts(sbom: Sbom, sorted?: readonly SbomComponent[]) {
  const components = sorted ?? sortComponents(sbom.components);
  const refs = bomRefs(components);
  const root = components.find((c) => c.id === sbom.root);
  const inserted: Entry[] = components.filter((c) => c !== root).map((c) => ({ c, ref: refs.get(c.id)! }));
  const head: Json = {
    $schema: SCHEMA,
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    serialNumber: cyclonedxSerial(sbom, components),
    metadata: {
      ...(sbom.created !== undefined && { timestamp: new Date(sbom.created).toISOString() }),
      tools: {
        components: [
          {
            type: 'application',
            name: sbom.tool.name,
            ...(sbom.tool.version !== '' && { version: sbom.tool.version }),
          },
        ],
      },
      ...(root && { component: componentJson(root, refs.get(root.id)!) }),
      ...(sbom.subject.digest !== undefined && {
        properties: [{ name: 'distill:image-digest', value: sbom.subject.digest }],
      }),
    },
  };
  // Dependencies: the root first, then the components as added; sorted by ref (a stable sort).
  const graph: Entry[] = root ? [{ c: root, ref: refs.get(root.id)! }, ...inserted] : inserted;
  const dependencies = function* (): Generator<Json> {
    for (const { c, ref } of graph.sort((a, b) => collate(a.ref, b.ref))) {
      const on = c.dependsOn
        .filter((d) => d !== c.id && refs.has(d))
        .map((d) => refs.get(d)!)
        .sort(collate);
      yield { ref, ...(on.length > 0 && { dependsOn: on }) };
    }
  };
  const items = function* (): Generator<Json> {
    for (const { c, ref } of [...inserted].sort(compareEntries)) yield componentJson(c, ref);
  };
  const lists: [string, Iterable<Json>][] = [
    ['components', items()],
    ['dependencies', dependencies()],
  ];
  return { head, lists };
}

/**
 * The CycloneDX 1.6 JSON text of an SBOM in pieces (jsonPieces), without ever holding the
 * document or its text whole. `sorted`: the components as sortComponents gave them, when the
 * caller has them already.
 */
export function cyclonedxPieces(sbom: Sbom, sorted?: readonly SbomComponent[]): Generator<string> {
  const { head, lists } = cyclonedxParts(sbom, sorted);
  return jsonPieces(head, lists);
}

export function cyclonedxJson(sbom: Sbom): string {
  return [...cyclonedxPieces(sbom)].join('');
}
