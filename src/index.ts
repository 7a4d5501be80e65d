/**
 * distill's library API (docs/API.md). The CLI (`src/cli`) is built on exactly these pieces:
 * `distill build` is planApp then buildApp, `distill base` planBase then buildBase, `distill
 * inspect` / `compare` / `copy` are inspect, compare and copy.
 */
export { type AppBuildDeps, buildApp } from './build/app/app.js';
export { type BaseBuildDeps, buildBase } from './build/base/index.js';
export type { BuildResult, WrittenOutput } from './build/outputs.js';
export {
  type BuildSources,
  type DistillSources,
  type DistillSourcesOptions,
  distillSources,
} from './build/sources.js';
export { cacheBackend } from './cache/backend.js';
export { RemoteCache, type RemoteCacheOptions } from './cache/cache.js';
export { pruneRemoteCache } from './cache/prune.js';
export { copyDebugImage, debugVariant } from './debug/copy.js';
export { type DebugRequest, debugContainer, inspectNode } from './debug/debug.js';
export type { InspectorForward, InspectorTarget } from './debug/inspect.js';
export { type KubernetesRequest, kubectlCommands } from './debug/kubernetes.js';
export type { SessionIo, TerminalSize } from './debug/session.js';
export {
  abortError,
  checkAborted,
  DistillError,
  type ErrorCode,
  isDistillError,
  wrapError,
} from './errors.js';
export { hostPlatform } from './host.js';
export { compare, type InspectTargetOptions, inspect, parseTarget } from './inspect/api.js';
export type { Facts } from './inspect/facts.js';
export type { Row } from './inspect/rows.js';
export { type LayerCompression, parseLayerCompression } from './layers/compression.js';
export {
  type BuildLayerOptions,
  type BuiltLayer,
  buildLayer,
  diffIdOf,
  entriesFromDirectory,
  type LayerEntry,
  parseSourceDateEpoch,
  readLayer,
  type TarEntry,
} from './layers/index.js';
export type { TransferProgress } from './media/blobs.js';
export {
  artifactPlatforms,
  type CopyOptions,
  type CopyResult,
  copy,
  copyImage,
  type PlatformChoice,
  selectPlatform,
} from './media/copy.js';
export { type MediaOptions, openArtifact, writeArtifact } from './media/index.js';
export { attachment, type Referrer } from './media/referrer.js';
export {
  type AttachedReferrer,
  listReferrers,
  openReferrer,
  subjectsOf,
  walkReferrers,
} from './media/referrers.js';
export { openRegistry, pushToRegistry, type RegistryOptions } from './media/registry/index.js';
export {
  type Digest,
  type DigestAlgorithm,
  Digester,
  digestOf,
  isDigest,
  parseDigest,
} from './oci/digest.js';
export {
  type Artifact,
  assembleImage,
  descriptorOf,
  type Image,
  type ImageIndex,
  type Layer,
  type RawJson,
  rawJsonFromValue,
} from './oci/image.js';
export {
  type Compression,
  isImageManifest,
  isIndex,
  layerCompression,
  layerMediaType,
  MediaType,
} from './oci/mediatypes.js';
export {
  type Addendum,
  appendLayers,
  buildIndex,
  convertArtifact,
  convertImage,
  emptyImage,
  imagePlatform,
  type ManifestFamily,
  setAnnotations,
  setContainerConfig,
  setImageConfig,
} from './oci/mutate.js';
export {
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
} from './oci/platform.js';
export { type ArtifactRequest, ArtifactType, artifactManifest, blobDescriptor } from './oci/referrers.js';
export type {
  Annotations,
  ContainerConfig,
  Descriptor,
  HistoryEntry,
  ImageConfigJson,
  IndexJson,
  ManifestJson,
  Platform,
} from './oci/types.js';
export { VerifyStream } from './oci/verify.js';
export {
  type AppBasePlan,
  type AppPlan,
  type AppPlanSources,
  type AppRequest,
  type PlannedLayer,
  type PlanProgress,
  planApp,
} from './plan/app.js';
export { type BaseConfig, defaultBaseConfig, type ExtraFile } from './plan/base.js';
export { type BasePlan, type BasePlanSources, type BaseRequest, planBase } from './plan/base-plan.js';
export type { LockedPackage, Lockfile } from './plan/lockfile.js';
export { VARIANTS, type Variant } from './plan/variants.js';
export {
  type DockerReference,
  familiarName,
  formatDockerReference,
  parseDockerReference,
} from './ref/docker.js';
export { formatImageRef, type ImageRef, parseImageRef } from './ref/transport.js';
export {
  type AppSbomInput,
  appLayerDigests,
  type BaseSbomInput,
  baseLayerDigests,
  formatSbom,
  type ImageSbomOptions,
  type InstalledNpmPackage,
  npmPackagesFromLockfile,
  parseSbomFormat,
  SBOM_FORMATS,
  type Sbom,
  type SbomComponent,
  type SbomFormat,
  sbomForApp,
  sbomForBase,
  sbomFromFacts,
  sbomPieces,
  type VerifiedNode,
} from './sbom/index.js';
export {
  bundleStatement,
  type DsseEnvelope,
  generateKeyFiles,
  type KeyPairFiles,
  keySigner,
  keyVerifier,
  openEnvelope,
  type PasswordSource,
  readPrivateKey,
  readPublicKey,
  type Signer,
  type SignOptions,
  type SignResult,
  type SigstoreBundle,
  signEnvelope,
  signImage,
  type VerifiedSignature,
  type Verifier,
  type VerifyResult,
  verifyImage,
} from './sign/index.js';
export { AptSource } from './sources/apt/index.js';
export { Store } from './store/store.js';
