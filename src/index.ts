/**
 * distill's library API. The CLI (`src/cli`) is built on exactly these pieces.
 */
export { DistillError, type ErrorCode, isDistillError, wrapError } from './errors.js';
export {
  type BuildLayerOptions,
  type BuiltLayer,
  buildLayer,
  diffIdOf,
  entriesFromDirectory,
  type LayerEntry,
  readLayer,
  type TarEntry,
} from './layers/index.js';
export type { TransferProgress } from './media/blobs.js';
export {
  artifactPlatforms,
  type CopyResult,
  copyImage,
  type PlatformChoice,
  selectPlatform,
} from './media/copy.js';
export { type MediaOptions, openArtifact, writeArtifact } from './media/index.js';
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
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
} from './oci/platform.js';
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
  type DockerReference,
  familiarName,
  formatDockerReference,
  parseDockerReference,
} from './ref/docker.js';
export { formatImageRef, type ImageRef, parseImageRef } from './ref/transport.js';
export { Store } from './store/store.js';
