/**
 * SBOMs (decision 0017): the model, its SPDX 2.3 and CycloneDX 1.6 writers, and the SBOMs of a
 * build (from its plan and what it verified) and of any image (from the inspect facts).
 */
export {
  type AppSbomInput,
  appLayerDigests,
  type BaseSbomInput,
  type BuildSbomCommon,
  baseLayerDigests,
  sbomForApp,
  sbomForBase,
  type VerifiedNode,
} from './build.js';
export { type ImageSbomOptions, sbomFromFacts } from './image.js';
export type { SbomLicense } from './license.js';
export { SBOM_FORMATS, type Sbom, type SbomComponent, type SbomFormat, type SbomHash } from './model.js';
export { type InstalledNpmPackage, type NpmLock, npmPackagesFromLockfile } from './npm.js';
export { formatSbom, parseSbomFormat, sbomPieces } from './write.js';
