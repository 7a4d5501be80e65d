import canonicalize from 'canonicalize';
import { type Digest, digestOf } from '../oci/digest.js';
import type { SbomFormat } from '../sbom/model.js';
import {
  fillTemplateBytes,
  type SbomTemplate,
  type SbomTemplateBytes,
  type TemplateValues,
} from '../sbom/template.js';
import type { KeyParts } from '../store/records.js';
import type { Store } from '../store/store.js';

/**
 * The SBOM documents of an app image, remembered for the next build whose image differs only in
 * its app layer (decision 0032): a code-only rebuild has the Debian, Node and npm components of the
 * last one. The record is keyed by everything the documents are made of but the image's digest
 * and the app layer's (the caller's `facts`); its value is a template (sbom/template.ts) whose
 * texts are blobs in the store, read back verified.
 */

interface TextBlob {
  digest: Digest;
  size: number;
}

export interface AppSbomRecord {
  image: string;
  layer: string;
  content: string;
  digestText: TextBlob;
  documents: [SbomFormat, TextBlob][];
}

declare module '../store/records.js' {
  interface RecordValues {
    'app-sbom': AppSbomRecord;
  }
}

/**
 * Facts as plain JSON, the same for the same facts: maps as their entries in key order (a map of
 * Debian copyright texts stays part of the key instead of becoming `{}`), sets sorted.
 */
function plainJson(facts: unknown): string {
  const text = JSON.stringify(facts, (_key, value: unknown) => {
    if (value instanceof Map) return [...value.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (value instanceof Set) return [...value].sort();
    return value;
  });
  return canonicalize(JSON.parse(text ?? 'null')) ?? 'null';
}

/**
 * The writers' edition: bumped whenever src/sbom/spdx.ts or cyclonedx.ts write other bytes for
 * the same SBOM, so a record made by an older distill is not filled in with its old bytes.
 * 2: SPDX download locations its validators refuse (an IP address as host) became NOASSERTION.
 */
const SBOM_WRITERS = 2;

/** The record's key: the architecture, and the digest of the facts (they can be large: a whole base lock). */
export function sbomRecordKey(arch: string, facts: unknown): KeyParts {
  return { arch, facts: digestOf(plainJson(facts)), writers: SBOM_WRITERS };
}

const MISS_CODES = new Set(['BLOB_MISSING', 'SIZE_MISMATCH', 'DIGEST_MISMATCH']);

/** The remembered documents with these values filled in; undefined on a miss (or a blob gone or damaged). */
export async function rememberedSbom(
  store: Store,
  key: KeyParts,
  values: TemplateValues,
): Promise<[SbomFormat, Buffer][] | undefined> {
  const r = await store.record('app-sbom').get(key);
  if (r === undefined) return undefined;
  const bytes = (b: TextBlob) => store.readBytes(b.digest, b.size);
  try {
    const [digestText, ...documents] = await Promise.all([
      bytes(r.digestText),
      ...r.documents.map(async ([f, b]): Promise<[SbomFormat, Buffer]> => [f, await bytes(b)]),
    ]);
    const template: SbomTemplateBytes = {
      image: r.image,
      layer: r.layer,
      content: r.content,
      digestText: digestText as Buffer,
      documents: documents as [SbomFormat, Buffer][],
    };
    return fillTemplateBytes(template, values);
  } catch (err) {
    if (MISS_CODES.has((err as { code?: string }).code ?? '')) return undefined;
    throw err;
  }
}

/** Keeps a template for the next build with the same key. */
export async function rememberSbom(store: Store, key: KeyParts, t: SbomTemplate): Promise<void> {
  const put = async (text: string): Promise<TextBlob> => {
    const bytes = Buffer.from(text, 'utf8');
    return { digest: await store.putBytes(bytes, undefined, 'a remembered SBOM'), size: bytes.length };
  };
  await store.record('app-sbom').put(key, {
    image: t.image,
    layer: t.layer,
    content: t.content,
    digestText: await put(t.digestText),
    documents: await Promise.all(
      t.documents.map(async ([f, text]): Promise<[SbomFormat, TextBlob]> => [f, await put(text)]),
    ),
  });
}
