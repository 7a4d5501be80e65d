/**
 * Supply-chain evidence attached to what distill builds (decision 0018): in-toto Statements with
 * SLSA Provenance v1 from a build's plan and the inputs it verified, and the artifact manifests
 * that attach them (and SBOMs) to an image as OCI 1.1 referrers.
 */
export { type AttachedDocument, documentReferrers, PREDICATE_TYPE_ANNOTATION } from './attach.js';
export {
  type BuilderIntegritySource,
  type BuilderPackage,
  builderDependency,
  sha256OfFile,
} from './builder.js';
export {
  APP_BUILD_TYPE,
  appProvenance,
  BASE_BUILD_TYPE,
  BUILDER_ID,
  baseProvenance,
  type ProvenanceFacts,
  SLSA_PROVENANCE_V1,
  type SlsaProvenance,
  type VerifiedNodeTarball,
} from './provenance.js';
export {
  CYCLONEDX_PREDICATE_TYPE,
  SPDX_PREDICATE_TYPE,
  sbomStatementBytes,
  signedSbomReferrers,
} from './sbom-statement.js';
export {
  type DigestSet,
  integrityDigestSet,
  type ResourceDescriptor,
  STATEMENT_MEDIA_TYPE,
  STATEMENT_TYPE,
  type Statement,
  statementBytes,
} from './statement.js';
