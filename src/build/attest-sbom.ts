import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AttachedDocument, documentReferrers } from '../attest/index.js';
import { DistillError } from '../errors.js';
import type { Referrer } from '../media/referrer.js';
import { digestOf } from '../oci/digest.js';
import type { Artifact, Image } from '../oci/image.js';
import { ArtifactType } from '../oci/referrers.js';
import type { Descriptor } from '../oci/types.js';
import type { AppPlan } from '../plan/app.js';
import { debianArch, debianToNodeArch } from '../plan/base.js';
import type { BasePlan } from '../plan/base-plan.js';
import type { AppSbomInput, VerifiedNode } from '../sbom/build.js';
import { appLayerDigests, baseLayerDigests } from '../sbom/layers.js';
import type { Sbom, SbomFormat } from '../sbom/model.js';
import { sbomTemplate } from '../sbom/template.js';
import { formatSbom } from '../sbom/write.js';
import type { Store } from '../store/store.js';
import { type BuildEvidence, licensesOf } from './evidence.js';
import { installedTree, NPM_LOCKFILES } from './installed.js';
import { rememberedSbom, rememberSbom, sbomRecordKey } from './sbom-record.js';
import type { BuildSources } from './sources.js';

/**
 * `--attest sbom`: the SBOM of each platform's image, made by the SBOM library from the plan and
 * what the build verified (decision 0017), attached to that image as two referrers: SPDX 2.3 JSON
 * and CycloneDX 1.6 JSON. An app's documents are remembered for its next code-only rebuild
 * (decision 0032, build/sbom-record.ts).
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
const FORMATS: readonly SbomFormat[] = ['spdx-json', 'cyclonedx-json'];
const MEDIA_TYPES: Record<SbomFormat, string> = {
  'spdx-json': ArtifactType.Spdx,
  'cyclonedx-json': ArtifactType.CycloneDx,
};

function attached(documents: readonly [SbomFormat, string | Uint8Array][]): AttachedDocument[] {
  return documents.map(([f, text]) => ({
    mediaType: MEDIA_TYPES[f],
    bytes: typeof text === 'string' ? Buffer.from(text) : text,
  }));
}

function sbomDocuments(sbom: Sbom): AttachedDocument[] {
  return attached(FORMATS.map((f) => [f, formatSbom(sbom, f)]));
}

async function verifiedNode(version: string, arch: string, sources: NodeRuntimes): Promise<VerifiedNode> {
  const rt = await sources.nodeRuntime(version, debianToNodeArch(arch));
  return { version: rt.version, integrity: rt.tarball.integrity, url: rt.tarball.url };
}

function archOf(image: Image): string {
  return debianArch({ os: image.config.value.os, architecture: image.config.value.architecture });
}

/** What appSboms needs besides the plan: where the Node release is verified, where SBOMs are remembered. */
export interface AppSbomDeps {
  sources: NodeRuntimes;
  store: Store;
}

/** The facts of one platform's SBOM but the image's digest, the app layer and the npm packages (the lockfile's). */
type SbomFacts = Omit<AppSbomInput, 'image' | 'npm' | 'appDependencies'>;

/**
 * Everything the SBOM of an app image is made of (sbomForApp reads these of the plan) but the two
 * values a remembered template stands in for: the image's digest and the app layer's.
 */
function recordFacts(plan: AppPlan, facts: SbomFacts, lockfile: Buffer): unknown {
  return {
    formats: FORMATS,
    plan: {
      app: { name: plan.app.name ?? null, version: plan.app.version ?? null },
      image: plan.image.name,
      workdir: plan.workdir,
      base: plan.base,
    },
    // The licences as plain data (a Map would hash as {}); the node_modules layer, which pnpm's
    // and yarn's packages are read from, is among the layers.
    input: {
      ...facts,
      layers: { ...facts.layers, app: null },
      debLicenses: facts.debLicenses ? [...facts.debLicenses] : null,
    },
    lockfile: digestOf(lockfile),
  };
}

/** The SBOM's documents made from the plan and what the build verified (a miss: loads the SBOM makers). */
async function madeDocuments(
  plan: AppPlan,
  facts: SbomFacts,
  image: AppSbomInput['image'],
  lockfile: Buffer,
  built: Image,
): Promise<ReturnType<typeof sbomTemplate>> {
  const [{ sbomForApp }, { npmPackagesFromLockfile }] = await Promise.all([
    import('../sbom/build.js'),
    import('../sbom/npm.js'),
  ]);
  if (!NPM_LOCKFILES.has(plan.install.lockfile)) {
    // pnpm's and yarn's: what the image's node_modules layer holds (installed.ts).
    const tree = await installedTree(plan, built, facts.layers.node_modules);
    const sbom = sbomForApp(plan, {
      ...facts,
      image,
      npm: tree.packages,
      appDependencies: tree.rootDependencies,
      npmTree: tree.tree,
    });
    return sbomTemplate(sbom, FORMATS);
  }
  const lock = npmPackagesFromLockfile(JSON.parse(lockfile.toString('utf8')) as unknown);
  if (lock === null) {
    throw new DistillError(
      'ATTEST_UNSUPPORTED',
      `--attest sbom: ${plan.install.lockfile} is a lockfile of version 1 (no "packages"); run npm install with npm 7 or later to write version 3`,
    );
  }
  const sbom = sbomForApp(plan, {
    ...facts,
    image,
    npm: lock.packages,
    appDependencies: lock.root.dependencies,
  });
  return sbomTemplate(sbom, FORMATS);
}

/**
 * One SBOM per platform image of an app build. A code-only rebuild's SBOM differs from the last
 * one's only in the image and app layer digests: it is the remembered template, filled in.
 */
export async function appSboms(
  plan: AppPlan,
  artifact: Artifact,
  deps: AppSbomDeps,
  tool: { name: string; version: string },
  evidence: BuildEvidence = {},
): Promise<Referrer[]> {
  const lockfile = await readFile(join(plan.app.dir, plan.install.lockfile));
  const out: Referrer[] = [];
  for (const { image, subject } of await platformImages(artifact)) {
    const arch = archOf(image);
    const facts: SbomFacts = {
      arch,
      layers: appLayerDigests(
        plan,
        image.manifest.value.layers.map((l) => l.digest),
      ),
      node: await verifiedNode(plan.node.version, arch, deps.sources),
      tool,
      ...licensesOf(evidence, arch),
    };
    const key = sbomRecordKey(arch, recordFacts(plan, facts, lockfile));
    const values = { image: image.manifest.digest, layer: facts.layers.app };
    let documents: [SbomFormat, string | Uint8Array][] | undefined =
      values.layer === undefined
        ? undefined
        : await rememberedSbom(deps.store, key, { image: values.image, layer: values.layer });
    if (documents === undefined) {
      const made = await madeDocuments(
        plan,
        facts,
        { name: plan.image.name, digest: values.image },
        lockfile,
        image,
      );
      if (made.template) await rememberSbom(deps.store, key, made.template);
      documents = made.documents;
    }
    for (const doc of attached(documents)) out.push(...documentReferrers([subject], doc));
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
  const { sbomForBase } = await import('../sbom/build.js');
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
