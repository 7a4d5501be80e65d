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

const standIn = () => `sha256:${randomBytes(32).toString('hex')}`;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const replaced = (text: string, from: string, to: string) => text.split(from).join(to);

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
    content: sha256(digestText),
    digestText,
    documents: formats.map((f) => [f, formatSbom(model, f)]),
  };
  const filled = fillTemplate(template, { image: real.image, layer: real.layer });
  const same = filled.every(([f, text], i) => f === documents[i]![0] && text === documents[i]![1]);
  return same ? { template, documents } : { documents };
}

/** The documents of the SBOM the template was made from, with these values in it. */
export function fillTemplate(t: SbomTemplate, values: TemplateValues): [SbomFormat, string][] {
  const fill = (text: string) => replaced(replaced(text, t.image, values.image), t.layer, values.layer);
  const content = sha256(fill(t.digestText));
  return t.documents.map(([f, text]) => [
    f,
    replaced(replaced(fill(text), t.content, content), serialOfDigest(t.content), serialOfDigest(content)),
  ]);
}
