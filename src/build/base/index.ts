import { checkAborted, DistillError } from '../../errors.js';
import type { MediaOptions } from '../../media/index.js';
import { BASE_PLAN_VERSION, type BasePlan } from '../../plan/base-plan.js';
import type { Store } from '../../store/store.js';
import { type AttestOptions, baseAttestations, checkAttest } from '../attest.js';
import { type BuildResult, writeOutputs } from '../outputs.js';
import type { BuildSources } from '../sources.js';
import { buildBaseArtifact } from './build.js';
import { lockLicenses } from './licenses.js';

/**
 * `distill base`, the building half: a BasePlan (its config and lock) becomes one image per
 * architecture, or an index of them, written to the plan's outputs. Reads nothing but the plan
 * and what `deps` give.
 */
export interface BaseBuildDeps {
  store: Store;
  sources: Pick<BuildSources, 'fetchDeb' | 'nodeRuntime'>;
  /** How outputs are written: registry credentials, transfer progress. */
  media?: MediaOptions;
  step?(message: string): void;
  warn?(message: string): void;
  /** Stops the build between packages, layers and outputs: it rejects with ABORTED. */
  signal?: AbortSignal;
  /** `--attest`: attestations made from the plan and attached to every output that holds them. */
  attest?: AttestOptions;
}

export function checkPlanVersion(version: unknown, want: number, what: string): void {
  if (version !== want) {
    throw new DistillError(
      'PLAN_INVALID',
      `the ${what} plan has version ${JSON.stringify(version)}; this distill builds version ${want} plans: make the plan again with this distill`,
    );
  }
}

export async function buildBase(plan: BasePlan, deps: BaseBuildDeps): Promise<BuildResult> {
  checkPlanVersion(plan.planVersion, BASE_PLAN_VERSION, 'base');
  if (deps.attest) checkAttest(deps.attest);
  checkAborted(deps.signal);
  const artifact = await buildBaseArtifact(
    plan.lock,
    plan.config,
    {
      store: deps.store,
      fetchDeb: (p) => deps.sources.fetchDeb(p),
      nodeRuntime: (version, arch) => deps.sources.nodeRuntime(version, arch),
      ...(deps.step && { step: deps.step }),
      ...(deps.warn && { warn: deps.warn }),
      ...(deps.signal && { signal: deps.signal }),
    },
    {
      sourceDateEpoch: plan.sourceDateEpoch,
      baseDir: plan.baseDir,
      strip: plan.strip !== false,
      ...(plan.compression && { compression: plan.compression }),
    },
  );
  const referrers = deps.attest
    ? await baseAttestations(plan, artifact, deps, deps.attest, {
        ...(deps.attest.sbom && {
          debLicenses: await lockLicenses(deps.store, plan.lock, plan.config.archs, (p) =>
            deps.sources.fetchDeb(p),
          ),
        }),
      })
    : [];
  const outputs = await writeOutputs(artifact, plan.outputs, {
    store: deps.store,
    referrers,
    ...(deps.warn && { warn: deps.warn }),
    ...(deps.media && { media: deps.media }),
    ...(deps.step && { step: deps.step }),
    ...(deps.signal && { signal: deps.signal }),
  });
  return { artifact, outputs };
}
