import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  appProvenance,
  baseProvenance,
  builderDependency,
  documentReferrers,
  PREDICATE_TYPE_ANNOTATION,
  type ProvenanceFacts,
  SLSA_PROVENANCE_V1,
  STATEMENT_MEDIA_TYPE,
  type Statement,
  signedSbomReferrers,
  statementBytes,
  type VerifiedNodeTarball,
} from '../attest/index.js';
import { DistillError } from '../errors.js';
import type { Referrer } from '../media/referrer.js';
import { subjectsOf } from '../media/referrers.js';
import type { Artifact } from '../oci/image.js';
import { formatPlatform, parsePlatform } from '../oci/platform.js';
import { packageRoot } from '../package-root.js';
import type { AppPlan } from '../plan/app.js';
import { debianArch, debianToNodeArch } from '../plan/base.js';
import type { BasePlan } from '../plan/base-plan.js';
import type { Store } from '../store/store.js';
import { rememberedFileDigest } from './attest-builder.js';
import type { BuildEvidence } from './evidence.js';
import { NPM_LOCKFILES, TREE_LOCKFILES } from './installed.js';
import type { BuildSources } from './sources.js';

/**
 * What `--attest` asks of a build: the attestations made from its plan and what it verified,
 * attached to the image as OCI 1.1 referrers by media/publish (decision 0018).
 */
export interface AttestOptions {
  /** An in-toto Statement with SLSA Provenance v1. */
  provenance?: boolean;
  /** An SBOM (SPDX 2.3 JSON) of each platform's image, from the SBOM library (decision 0017). */
  sbom?: boolean;
  /** The request as the user stated it (flags): the provenance's externalParameters. */
  request?: Record<string, unknown>;
  /** RFC 3339 start time: with it the provenance records startedOn/finishedOn (not deterministic). */
  startedOn?: string;
  /**
   * `--sign-key`: signs the provenance statement and each SBOM's (an in-toto statement with the
   * SBOM as predicate, attest/sbom-statement.ts) as a DSSE envelope in a Sigstore bundle
   * (sign/attestation.ts), attached beside the unsigned document as its own referrer.
   */
  sign?: (statement: Uint8Array) => Promise<{ mediaType: string; bytes: Uint8Array }>;
}

type NodeRuntimes = Pick<BuildSources, 'nodeRuntime'>;

async function verifiedNodes(
  version: string,
  archs: readonly string[],
  sources: NodeRuntimes,
): Promise<VerifiedNodeTarball[]> {
  const out: VerifiedNodeTarball[] = [];
  for (const arch of archs) {
    const rt = await sources.nodeRuntime(version, debianToNodeArch(arch));
    out.push({ arch, version: rt.version, url: rt.tarball.url, integrity: rt.tarball.integrity });
  }
  return out;
}

let versionRead: Promise<string> | undefined;

/** distill's version, read once per process (the SBOM's tool and the provenance both name it). */
function distillVersion(): Promise<string> {
  versionRead ??= readFile(join(packageRoot(), 'package.json'), 'utf8').then(
    (text) => (JSON.parse(text) as { version: string }).version,
  );
  return versionRead;
}

async function commonFacts(
  artifact: Artifact,
  attest: AttestOptions,
  store?: Store,
): Promise<Omit<ProvenanceFacts, 'nodes'>> {
  const subjects = (await subjectsOf(artifact)).map((d) => ({
    digest: d.digest,
    ...(d.platform && { platform: formatPlatform(d.platform) }),
  }));
  const version = await distillVersion();
  const fileDigest = store && ((file: string) => rememberedFileDigest(store, file));
  return {
    distillVersion: version,
    builder: await builderDependency(
      { name: 'distill', version, root: packageRoot() },
      undefined,
      fileDigest,
    ),
    subjects,
    request: attest.request ?? {},
    ...(attest.startedOn !== undefined && {
      timestamps: { startedOn: attest.startedOn, finishedOn: new Date().toISOString() },
    }),
  };
}

async function attachStatement(
  artifact: Artifact,
  statement: Statement,
  sign?: AttestOptions['sign'],
): Promise<Referrer[]> {
  const subjects = await subjectsOf(artifact);
  const bytes = statementBytes(statement);
  const annotations = { [PREDICATE_TYPE_ANNOTATION]: SLSA_PROVENANCE_V1 };
  const out = documentReferrers(subjects, { mediaType: STATEMENT_MEDIA_TYPE, bytes, annotations });
  if (sign) out.push(...documentReferrers(subjects, { ...(await sign(bytes)), annotations }));
  return out;
}

/** With a signer: each SBOM's signed statement, named as the provenance names its subject. */
async function signedSboms(
  artifact: Artifact,
  name: string,
  sboms: Referrer[],
  sign?: AttestOptions['sign'],
) {
  if (sign === undefined || sboms.length === 0) return [];
  const platforms = new Map((await subjectsOf(artifact)).map((d) => [d.digest, d.platform]));
  return signedSbomReferrers(
    sboms,
    (subject) => {
      const p = platforms.get(subject.digest);
      return p === undefined ? name : `${name} ${formatPlatform(p)}`;
    },
    sign,
  );
}

/**
 * The lockfiles an app's SBOM can read its npm packages with: npm's, and pnpm's and yarn's beside
 * the image's node_modules tree (installed.ts); others are refused before building.
 */
function checkSbomLockfile(lockfile: string): void {
  if (!NPM_LOCKFILES.has(lockfile) && !TREE_LOCKFILES.has(lockfile)) {
    throw new DistillError(
      'ATTEST_UNSUPPORTED',
      `--attest sbom: the SBOM of a build lists npm packages from package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml or yarn.lock, and this app's lockfile is ${lockfile}; attach provenance alone, or write an SBOM of the image with distill sbom REF`,
    );
  }
}

/**
 * The SBOM library (and the CycloneDX library under it) is loaded only when an SBOM is asked for:
 * about 0.5 s of module loading that a build without --attest sbom should not pay.
 */
function sbomModule(): Promise<typeof import('./attest-sbom.js')> {
  return import('./attest-sbom.js');
}

/**
 * Refuses, before anything is built, what this distill cannot attest: an app's SBOM reads its npm
 * packages from package-lock.json (`lockfile`: the app's; undefined for a base).
 */
export function checkAttest(attest: AttestOptions, lockfile?: string): void {
  if (attest.sbom && lockfile !== undefined) checkSbomLockfile(lockfile);
}

/** The attestations of an app build, one artifact manifest per subject (the root and an index's images). */
export async function appAttestations(
  plan: AppPlan,
  artifact: Artifact,
  deps: { sources: NodeRuntimes; store: Store },
  attest: AttestOptions,
  evidence: BuildEvidence = {},
): Promise<Referrer[]> {
  const { sources } = deps;
  const tool = { name: 'distill', version: await distillVersion() };
  const made = attest.sbom ? await (await sbomModule()).appSboms(plan, artifact, deps, tool, evidence) : [];
  const name = `${plan.image.name}:${plan.image.tag}`;
  const sboms = [...made, ...(await signedSboms(artifact, name, made, attest.sign))];
  if (!attest.provenance) return sboms;
  const archs = plan.platforms.map((p) => debianArch(parsePlatform(p)));
  const lockfile = await readFile(join(plan.app.dir, plan.install.lockfile)).catch(() => undefined);
  const facts: ProvenanceFacts = {
    ...(await commonFacts(artifact, attest, deps.store)),
    nodes: await verifiedNodes(plan.node.version, archs, sources),
    ...(lockfile !== undefined && { appLockfile: { name: plan.install.lockfile, bytes: lockfile } }),
  };
  return [...sboms, ...(await attachStatement(artifact, appProvenance(plan, facts), attest.sign))];
}

/** The attestations of a base build. */
export async function baseAttestations(
  plan: BasePlan,
  artifact: Artifact,
  deps: { sources: NodeRuntimes; store?: Store },
  attest: AttestOptions,
  evidence: BuildEvidence = {},
): Promise<Referrer[]> {
  const { sources } = deps;
  const tool = { name: 'distill', version: await distillVersion() };
  const made = attest.sbom
    ? await (await sbomModule()).baseSboms(plan, artifact, sources, tool, evidence)
    : [];
  const name = `distill-base-${plan.config.variant}`;
  const sboms = [...made, ...(await signedSboms(artifact, name, made, attest.sign))];
  if (!attest.provenance) return sboms;
  const node = plan.lock.node?.version;
  const facts: ProvenanceFacts = {
    ...(await commonFacts(artifact, attest, deps.store)),
    nodes: node === undefined ? [] : await verifiedNodes(node, plan.config.archs, sources),
  };
  return [...sboms, ...(await attachStatement(artifact, baseProvenance(plan, facts), attest.sign))];
}
