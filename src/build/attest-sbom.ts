import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AttachedDocument, documentReferrers } from '../attest/index.js';
import { DistillError } from '../errors.js';
import type { Referrer } from '../media/referrer.js';
import type { Artifact, Image } from '../oci/image.js';
import { ArtifactType } from '../oci/referrers.js';
import type { Descriptor } from '../oci/types.js';
import type { AppPlan } from '../plan/app.js';
import { debianArch, debianToNodeArch } from '../plan/base.js';
import type { BasePlan } from '../plan/base-plan.js';
import {
  appLayerDigests,
  baseLayerDigests,
  formatSbom,
  npmPackagesFromLockfile,
  type Sbom,
  sbomForApp,
  sbomForBase,
  type VerifiedNode,
} from '../sbom/index.js';
import { type BuildEvidence, licensesOf } from './evidence.js';
import { installedTree, NPM_LOCKFILES } from './installed.js';
import type { BuildSources } from './sources.js';

/**
 * `--attest sbom`: the SBOM of each platform's image, made by the SBOM library from the plan and
 * what the build verified (decision 0017), attached to that image as two referrers: SPDX 2.3 JSON
 * and CycloneDX 1.6 JSON.
 */
type NodeRuntimes = Pick<BuildSources, 'nodeRuntime'>;

/** The platform images of an artifact, with the descriptor a referrer names. */
async function platformImages(artifact: Artifact): Promise<{ image: Image; subject: Descriptor }[]> {
  const subject = (image: Image): Descriptor => ({
    mediaType: image.manifest.mediaType,
    digest: image.manifest.digest,
    size: image.manifest.bytes.length,
  });
  if (artifact.kind === 'image') return [{ image: artifact, subject: subject(artifact) }];
  const out: { image: Image; subject: Descriptor }[] = [];
  for (const d of artifact.manifest.value.manifests) {
    const child = await artifact.child(d);
    if (child.kind === 'image') out.push({ image: child, subject: subject(child) });
  }
  return out;
}

/** The SBOM in both formats, each its own referrer: SPDX 2.3 and CycloneDX 1.6 (issue 16). */
function sbomDocuments(sbom: Sbom): AttachedDocument[] {
  return [
    { mediaType: ArtifactType.Spdx, bytes: Buffer.from(formatSbom(sbom, 'spdx-json')) },
    { mediaType: ArtifactType.CycloneDx, bytes: Buffer.from(formatSbom(sbom, 'cyclonedx-json')) },
  ];
}

async function verifiedNode(version: string, arch: string, sources: NodeRuntimes): Promise<VerifiedNode> {
  const rt = await sources.nodeRuntime(version, debianToNodeArch(arch));
  return { version: rt.version, integrity: rt.tarball.integrity, url: rt.tarball.url };
}

function archOf(image: Image): string {
  return debianArch({ os: image.config.value.os, architecture: image.config.value.architecture });
}

/** One SBOM per platform image of an app build. */
export async function appSboms(
  plan: AppPlan,
  artifact: Artifact,
  sources: NodeRuntimes,
  tool: { name: string; version: string },
  evidence: BuildEvidence = {},
): Promise<Referrer[]> {
  // npm's lockfile lists what is installed, once for every platform; pnpm's and yarn's tree is
  // read from each image's node_modules layer (installed.ts).
  const npmLock = NPM_LOCKFILES.has(plan.install.lockfile);
  const lock = !npmLock
    ? undefined
    : npmPackagesFromLockfile(
        JSON.parse(await readFile(join(plan.app.dir, plan.install.lockfile), 'utf8')) as unknown,
      );
  if (lock === null) {
    throw new DistillError(
      'ATTEST_UNSUPPORTED',
      `--attest sbom: ${plan.install.lockfile} is a lockfile of version 1 (no "packages"); run npm install with npm 7 or later to write version 3`,
    );
  }
  const out: Referrer[] = [];
  for (const { image, subject } of await platformImages(artifact)) {
    const arch = archOf(image);
    const layers = appLayerDigests(
      plan,
      image.manifest.value.layers.map((l) => l.digest),
    );
    const tree = lock ? undefined : await installedTree(plan, image, layers.node_modules);
    const sbom = sbomForApp(plan, {
      image: { name: plan.image.name, digest: image.manifest.digest },
      arch,
      layers,
      node: await verifiedNode(plan.node.version, arch, sources),
      npm: lock?.packages ?? tree?.packages ?? [],
      appDependencies: lock?.root.dependencies ?? tree?.rootDependencies ?? [],
      ...(tree && { npmTree: tree.tree }),
      tool,
      ...licensesOf(evidence, arch),
    });
    for (const doc of sbomDocuments(sbom)) out.push(...documentReferrers([subject], doc));
  }
  return out;
}

/** One SBOM per platform image of a base build. */
export async function baseSboms(
  plan: BasePlan,
  artifact: Artifact,
  sources: NodeRuntimes,
  tool: { name: string; version: string },
  evidence: BuildEvidence = {},
): Promise<Referrer[]> {
  const out: Referrer[] = [];
  for (const { image, subject } of await platformImages(artifact)) {
    const arch = archOf(image);
    const node = plan.lock.node?.version;
    const sbom = sbomForBase(plan, {
      image: { name: `distill-base-${plan.config.variant}`, digest: image.manifest.digest },
      arch,
      layers: baseLayerDigests(
        plan,
        arch,
        image.manifest.value.layers.map((l) => l.digest),
      ),
      tool,
      ...licensesOf(evidence, arch),
      ...(node !== undefined && { node: await verifiedNode(node, arch, sources) }),
    });
    for (const doc of sbomDocuments(sbom)) out.push(...documentReferrers([subject], doc));
  }
  return out;
}
