import { parsePlatform } from '../oci/platform.js';
import type { AppPlan } from '../plan/app.js';
import { debianArch } from '../plan/base.js';
import type { BasePlan } from '../plan/base-plan.js';
import { formatLockfile, type Lockfile } from '../plan/lockfile.js';
import {
  type DigestSet,
  integrityDigestSet,
  ociDigestSet,
  type ResourceDescriptor,
  STATEMENT_TYPE,
  type Statement,
  sha256DigestSet,
} from './statement.js';

/**
 * SLSA Provenance v1 (slsa.dev/spec/v1.0/provenance) for what distill builds, from the plan and
 * what the build verified, never from re-reading the image. Deterministic: no timestamp, no
 * invocation id, no path of the machine it ran on unless asked (`timestamps`), so two builds of
 * the same inputs attest the same bytes.
 */
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const APP_BUILD_TYPE = 'https://distill.dev/buildtypes/app/v1';
export const BASE_BUILD_TYPE = 'https://distill.dev/buildtypes/base/v1';
export const BUILDER_ID = 'https://distill.dev/builder/cli';

/** The Node release a platform's image holds, as the build verified it. */
export interface VerifiedNodeTarball {
  /** Debian architecture. */
  arch: string;
  version: string;
  url: string;
  /** SRI from the npm registry, or `sha256:<hex>` from a mirror's SHASUMS256.txt. */
  integrity: string;
}

/** What only the build knows, handed to the statement as plain data. */
export interface ProvenanceFacts {
  /** distill's version (package.json). */
  distillVersion: string;
  /** distill's own package with its digest (attest/builder.ts): the builder's dependency. */
  builder?: ResourceDescriptor;
  /** The manifests attested: the root (an index or the image) first, then an index's images. */
  subjects: readonly { digest: string; platform?: string }[];
  /** The flags or library request, as the caller states them (nothing machine-specific). */
  request: Record<string, unknown>;
  nodes: readonly VerifiedNodeTarball[];
  /** The app's lockfile (app builds): its name and bytes. */
  appLockfile?: { name: string; bytes: Uint8Array };
  /** RFC 3339 times, only when asked for (they make every statement different). */
  timestamps?: { startedOn: string; finishedOn: string };
}

export interface SlsaProvenance {
  buildDefinition: {
    buildType: string;
    externalParameters: Record<string, unknown>;
    internalParameters: Record<string, unknown>;
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string; version: Record<string, string>; builderDependencies?: ResourceDescriptor[] };
    metadata?: { startedOn: string; finishedOn: string };
  };
}

/** A plan without what names the machine it was made on: what the plan digest is taken of. */
function portablePlan(plan: AppPlan | BasePlan): unknown {
  if ('app' in plan) {
    const { outputs: _o, ownLayout: _l, app, ...rest } = plan;
    const { dir: _d, ...portableApp } = app;
    return { ...rest, app: portableApp };
  }
  const { outputs: _o, baseDir: _b, ...rest } = plan;
  return rest;
}

/** The Debian inputs of a lock: the lock itself, each suite's InRelease, every .deb of the platforms built. */
export function debianDependencies(lock: Lockfile, archs: readonly string[]): ResourceDescriptor[] {
  const out: ResourceDescriptor[] = [
    // As `distill lock` writes it: the digest of the file a user keeps.
    { name: 'distill.lock.json', digest: sha256DigestSet(Buffer.from(formatLockfile(lock))) },
  ];
  const mirrors = new Map(lock.suites.map((s) => [s.name, s.mirror]));
  for (const s of lock.suites) {
    // The InRelease whose signature was verified when the lock was resolved; a lock written
    // before locks kept its digest has only its Date (every .deb's digest is below either way).
    out.push({
      uri: `${s.mirror}/dists/${s.name}/InRelease`,
      ...(s.inReleaseSha256 !== undefined && { digest: { sha256: s.inReleaseSha256 } }),
      annotations: { suite: s.name, codename: s.codename, date: s.date },
    });
  }
  for (const arch of [...archs].sort()) {
    for (const p of lock.architectures[arch] ?? []) {
      out.push({
        uri: `${mirrors.get(p.suite) ?? ''}/${p.filename}`,
        name: `pkg:deb/debian/${p.name}@${encodeURIComponent(p.version)}?arch=${p.architecture}`,
        digest: { sha256: p.sha256 },
      });
    }
  }
  return out;
}

/** The registry's integrity as a digest set; none for a kind distill does not verify with (an old sha1). */
function registryDigest(integrity: string): { digest?: DigestSet } {
  try {
    return { digest: integrityDigestSet(integrity) };
  } catch {
    return {};
  }
}

/**
 * Architecture names are [a-z0-9], where code-unit order is the collator's: without
 * localeCompare, whose first call builds ICU's collator (several ms of a warm build, decision 0037).
 */
const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function nodeDependencies(nodes: readonly VerifiedNodeTarball[]): ResourceDescriptor[] {
  return [...nodes]
    .sort((a, b) => byCodeUnit(a.arch, b.arch))
    .map((n) => ({
      uri: n.url,
      name: `node@${n.version} linux/${n.arch}`,
      digest: integrityDigestSet(n.integrity),
    }));
}

function statement(
  plan: AppPlan | BasePlan,
  name: string,
  buildType: string,
  dependencies: ResourceDescriptor[],
  facts: ProvenanceFacts,
): Statement<SlsaProvenance> {
  const planDigest = sha256DigestSet(Buffer.from(JSON.stringify(portablePlan(plan))));
  return {
    _type: STATEMENT_TYPE,
    subject: facts.subjects.map((s) => ({
      name: s.platform === undefined ? name : `${name} ${s.platform}`,
      digest: ociDigestSet(s.digest),
    })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType,
        externalParameters: facts.request,
        internalParameters: { planVersion: plan.planVersion, planDigest: `sha256:${planDigest.sha256}` },
        resolvedDependencies: dependencies,
      },
      runDetails: {
        builder: {
          id: BUILDER_ID,
          version: { distill: facts.distillVersion },
          ...(facts.builder && { builderDependencies: [facts.builder] }),
        },
        ...(facts.timestamps && { metadata: facts.timestamps }),
      },
    },
  };
}

/** The provenance of `distill build`: the app's source, its lockfile, the base, Node, the package manager. */
export function appProvenance(plan: AppPlan, facts: ProvenanceFacts): Statement<SlsaProvenance> {
  const deps: ResourceDescriptor[] = [];
  const revision = plan.labels['org.opencontainers.image.revision'];
  const source = plan.labels['org.opencontainers.image.source'];
  if (revision !== undefined) {
    deps.push({ uri: `git+${source ?? 'unknown'}@${revision}`, digest: { gitCommit: revision } });
  }
  if (facts.appLockfile !== undefined) {
    deps.push({ name: facts.appLockfile.name, digest: sha256DigestSet(facts.appLockfile.bytes) });
  }
  const archs = plan.platforms.map((p) => debianArch(parsePlatform(p)));
  if (plan.base.kind === 'debian') deps.push(...debianDependencies(plan.base.lock, archs));
  else {
    for (const [arch, digest] of Object.entries(plan.base.manifests).sort(([a], [b]) => byCodeUnit(a, b))) {
      deps.push({ uri: plan.base.ref, name: `base linux/${arch}`, digest: ociDigestSet(digest) });
    }
  }
  deps.push(...nodeDependencies(facts.nodes));
  const pm = plan.packageManager;
  // The package manager as the npm registry publishes it (sources/node/pm.ts fetches these).
  const pmPackage = { npm: 'npm', pnpm: 'pnpm', 'yarn-classic': 'yarn', 'yarn-berry': '%40yarnpkg/cli-dist' }[
    pm.name
  ];
  deps.push({
    uri: `pkg:npm/${pmPackage}@${pm.version}`,
    name: pm.name,
    ...(pm.integrity !== undefined && registryDigest(pm.integrity)),
  });
  const name = `${plan.image.name}:${plan.image.tag}`;
  return statement(plan, name, APP_BUILD_TYPE, deps, facts);
}

/** The provenance of `distill base`: the lock, its InRelease files and .debs, Node for the nodejs variants. */
export function baseProvenance(plan: BasePlan, facts: ProvenanceFacts): Statement<SlsaProvenance> {
  const deps = [...debianDependencies(plan.lock, plan.config.archs), ...nodeDependencies(facts.nodes)];
  return statement(plan, `distill-base-${plan.config.variant}`, BASE_BUILD_TYPE, deps, facts);
}
