import type { Referrer } from '../media/referrer.js';
import { ArtifactType } from '../oci/referrers.js';
import type { Descriptor } from '../oci/types.js';
import { documentReferrers, PREDICATE_TYPE_ANNOTATION } from './attach.js';
import { STATEMENT_TYPE } from './statement.js';

/**
 * SBOMs signed (`--attest sbom --sign-key`, decision 0038): an SPDX or CycloneDX document is not
 * an in-toto statement, so, as `cosign attest --type spdxjson|cyclonedx` does, it becomes the
 * predicate of one about the image it describes, with the predicate type the in-toto attestation
 * framework's predicate list names for it; that statement is what is signed (a DSSE envelope in a
 * Sigstore bundle, sign/attestation.ts) and attached beside the unsigned document, which stays as
 * it was.
 */
export const SPDX_PREDICATE_TYPE = 'https://spdx.dev/Document';
export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom';

const PREDICATE_TYPES: Record<string, string> = {
  [ArtifactType.Spdx]: SPDX_PREDICATE_TYPE,
  [ArtifactType.CycloneDx]: CYCLONEDX_PREDICATE_TYPE,
};

/**
 * The statement's bytes: the document's own bytes are spliced in as the predicate (a JSON document
 * is a JSON value), so a large SBOM is neither parsed nor written again and the signed predicate
 * is exactly the document attached beside it.
 */
export function sbomStatementBytes(
  subject: { name: string; digest: string },
  predicateType: string,
  document: Uint8Array,
): Uint8Array {
  const i = subject.digest.indexOf(':');
  const head = JSON.stringify({
    _type: STATEMENT_TYPE,
    subject: [{ name: subject.name, digest: { [subject.digest.slice(0, i)]: subject.digest.slice(i + 1) } }],
    predicateType,
  });
  return Buffer.concat([
    Buffer.from(`${head.slice(0, -1)},"predicate":`),
    Buffer.from(document),
    Buffer.from('}'),
  ]);
}

async function bytesOf(r: Referrer, mediaType: string): Promise<Buffer | undefined> {
  const blob = r.blobs.find((b) => b.descriptor.mediaType === mediaType);
  if (blob === undefined) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of await blob.open()) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/**
 * For each SBOM referrer among `referrers` (made in memory by the build), a referrer of the same
 * subject holding the signed statement of that SBOM. `nameOf` gives the subject's name (the image,
 * with its platform for an index's images), as the provenance names it.
 */
export async function signedSbomReferrers(
  referrers: readonly Referrer[],
  nameOf: (subject: Descriptor) => string,
  sign: (statement: Uint8Array) => Promise<{ mediaType: string; bytes: Uint8Array }>,
): Promise<Referrer[]> {
  const out: Referrer[] = [];
  for (const r of referrers) {
    const { artifactType, subject } = r.manifest.value;
    const predicateType = artifactType === undefined ? undefined : PREDICATE_TYPES[artifactType];
    if (predicateType === undefined || subject === undefined) continue;
    const document = await bytesOf(r, artifactType!);
    if (document === undefined) continue;
    const statement = sbomStatementBytes(
      { name: nameOf(subject), digest: subject.digest },
      predicateType,
      document,
    );
    const annotations = { [PREDICATE_TYPE_ANNOTATION]: predicateType };
    out.push(...documentReferrers([subject], { ...(await sign(statement)), annotations }));
  }
  return out;
}
