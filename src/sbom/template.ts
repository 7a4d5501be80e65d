/**
 * An SBOM's documents made once for every image that differs from it only in its own digest and
 * in the layer of the root component: the app layer of a code-only rebuild (decision 0032).
 *
 * The documents are written with stand-ins (random digests) in place of the two, and so is the
 * text the content digest is made of (sbomDigestParts). Filling a template puts the real values
 * in place of the stand-ins, hashes the content again and puts its digest where the stand-ins'
 * was (the SPDX namespace, the CycloneDX serial number). That gives the bytes the writers give
 * for the real SBOM because the two values only ever appear as themselves: they decide no order,
 * no id and no bom-ref, and need no escaping. `sbomTemplate` checks it on the SBOM it is made
 * from: a template that does not give that SBOM's very documents is not made.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DistillError } from '../errors.js';
import { serialOfDigest } from './cyclonedx.js';
import { type Sbom, type SbomFormat, sbomDigestParts, sortComponents } from './model.js';
import { formatSbom } from './write.js';

export interface SbomTemplate {
  /** The stand-in for the image's digest (the subject's). */
  image: string;
  /** The stand-in for the root component's layer. */
  layer: string;
  /** The content digest (sbomDigest) of the SBOM with the stand-ins. */
  content: string;
  /** What sbomDigest hashes, joined, with the stand-ins. */
  digestText: string;
  /** Each document with the stand-ins. */
  documents: [SbomFormat, string][];
}

/** What a template is filled with: the image's digest and the root component's layer. */
export interface TemplateValues {
  image: string;
  layer: string;
}

/** A template whose texts are bytes, as the store gives them back (build/sbom-record.ts). */
export interface SbomTemplateBytes extends Omit<SbomTemplate, 'digestText' | 'documents'> {
  digestText: Uint8Array;
  documents: [SbomFormat, Uint8Array][];
}

const standIn = () => `sha256:${randomBytes(32).toString('hex')}`;

/**
 * `bytes` with every stand-in of `pairs` replaced, as pieces (views of `bytes` and the values):
 * one search per stand-in and no text made of the whole, which for a large SBOM is several
 * 100 KB strings per replacement (and the garbage collection they cost a warm build).
 */
function replacedPieces(bytes: Uint8Array, pairs: readonly [string, string][]): Buffer[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: { at: number; length: number; value: Buffer }[] = [];
  for (const [from, to] of pairs) {
    const needle = Buffer.from(from);
    const value = Buffer.from(to);
    for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + needle.length)) {
      found.push({ at, length: needle.length, value });
    }
  }
  found.sort((a, b) => a.at - b.at);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const f of found) {
    if (f.at < from) {
      throw new DistillError('INTERNAL', 'two stand-ins of an SBOM template overlap', { userError: false });
    }
    pieces.push(buf.subarray(from, f.at), f.value);
    from = f.at + f.length;
  }
  pieces.push(buf.subarray(from));
  return pieces;
}

/** The documents of the SBOM the template was made from, with these values in it, as bytes. */
export function fillTemplateBytes(t: SbomTemplateBytes, values: TemplateValues): [SbomFormat, Buffer][] {
  const values2: [string, string][] = [
    [t.image, values.image],
    [t.layer, values.layer],
  ];
  const hash = createHash('sha256');
  for (const piece of replacedPieces(t.digestText, values2)) hash.update(piece);
  const content = hash.digest('hex');
  const all: [string, string][] = [
    ...values2,
    [t.content, content],
    [serialOfDigest(t.content), serialOfDigest(content)],
  ];
  return t.documents.map(([f, bytes]) => [f, Buffer.concat(replacedPieces(bytes, all))]);
}

/**
 * The template of `sbom`'s documents in `formats`, and the documents themselves; no template when
 * the SBOM has no subject digest or root layer to stand in for, or when the template does not
 * give the very same documents (then something else in them depends on the two).
 */
export function sbomTemplate(
  sbom: Sbom,
  formats: readonly SbomFormat[],
): { template?: SbomTemplate; documents: [SbomFormat, string][] } {
  const documents = formats.map((f): [SbomFormat, string] => [f, formatSbom(sbom, f)]);
  const root = sbom.components.find((c) => c.id === sbom.root);
  const real = { image: sbom.subject.digest, layer: root?.layer };
  if (real.image === undefined || real.layer === undefined) return { documents };
  const image = standIn();
  const layer = standIn();
  const model: Sbom = {
    ...sbom,
    subject: { ...sbom.subject, digest: image },
    components: sbom.components.map((c) => (c === root ? { ...c, layer } : c)),
  };
  const digestText = [...sbomDigestParts(model, sortComponents(model.components))].join('');
  const template: SbomTemplate = {
    image,
    layer,
    content: createHash('sha256').update(digestText).digest('hex'),
    digestText,
    documents: formats.map((f) => [f, formatSbom(model, f)]),
  };
  const filled = fillTemplate(template, { image: real.image, layer: real.layer });
  const same = filled.every(([f, text], i) => f === documents[i]![0] && text === documents[i]![1]);
  return same ? { template, documents } : { documents };
}

/** The documents of the SBOM the template was made from, with these values in it. */
export function fillTemplate(t: SbomTemplate, values: TemplateValues): [SbomFormat, string][] {
  const bytes: SbomTemplateBytes = {
    ...t,
    digestText: Buffer.from(t.digestText),
    documents: t.documents.map(([f, text]) => [f, Buffer.from(text)]),
  };
  return fillTemplateBytes(bytes, values).map(([f, b]) => [f, b.toString('utf8')]);
}
