import { buildApp } from '../build/app/app.js';
import type { AttestOptions } from '../build/attest.js';
import type { WrittenOutput } from '../build/outputs.js';
import { distillSources } from '../build/sources.js';
import type { LayerCompression } from '../layers/compression.js';
import { parseSourceDateEpoch } from '../layers/epoch.js';
import type { Artifact } from '../oci/image.js';
import { type AppPlan, type AppRequest, planApp } from '../plan/app.js';
import { DEFAULT_SUITES } from '../plan/base.js';
import { NODE_BINARY } from '../plan/layout.js';
import type { MirrorChoice } from '../plan/mirrors.js';
import { aptSource, type BaseContext } from './base.js';
import { cancelOnSignals } from './signals.js';

/**
 * `distill build [DIR]`: the flags as an AppRequest, planned (planApp) and built (buildApp) by
 * the library; Ctrl-C aborts the build. What is printed is run.ts's business.
 */
export interface BuildArgs {
  dir: string;
  node?: string;
  nodeMirror?: string;
  cmd?: string[];
  buildScript?: string;
  /** `--no-build`. */
  noBuild?: boolean;
  workspace?: string;
  base?: string;
  packages: string[];
  debug: boolean;
  /** `--init` true, `--no-init` false, else the default (tini on distill's own base). */
  init?: boolean;
  healthcheck?: string;
  user?: string;
  env: string[];
  ports: string[];
  /** `--writable DIR`, `--volume DIR`. */
  writable: string[];
  volumes: string[];
  platforms?: string[];
  outputs: string[];
  tag?: string;
  /** Also load the image into Docker under the name (from tag, else package.json) it gets. */
  load?: boolean;
  pull: boolean;
  suites: string[];
  /** `--mirror URL` and `--mirror SUITE=URL`, parsed. */
  mirrors?: MirrorChoice;
  keyrings: string[];
  /** `--include-secret PATH`, relative to the app directory. */
  includeSecrets?: string[];
  /** false: `--no-prune`. */
  prune?: boolean;
  /** `--trace`, with its `--trace-entry` and `--trace-include`. */
  trace?: { entries: string[]; include: string[] };
  /** `--attest`, `--sbom`: attestations attached to the outputs that hold them. */
  attest?: AttestOptions;
  /** `--no-strip`: false keeps bin/node whole. */
  strip?: boolean;
  /** `--compression`. */
  compression?: LayerCompression;
  /** `--cross-toolchain PREFIX`. */
  crossToolchain?: string;
}

/**
 * `--healthcheck PATH|URL` as a HEALTHCHECK command that runs the image's own node (no curl
 * needed): GET the URL, or PATH on 127.0.0.1 at $PORT (else the first exposed port, else 8080).
 */
export function healthcheckCommand(spec: string, ports: readonly string[]): string[] {
  const port = ports[0]?.replace(/\/.*$/, '') ?? '8080';
  const url = /^https?:\/\//.test(spec)
    ? JSON.stringify(spec)
    : `new URL(${JSON.stringify(spec.startsWith('/') ? spec : `/${spec}`)}, 'http://127.0.0.1:' + (process.env.PORT || ${JSON.stringify(port)}))`;
  return [
    NODE_BINARY,
    '-e',
    `fetch(${url}, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status < 400 ? 0 : 1), () => process.exit(1))`,
  ];
}

export function appRequest(args: BuildArgs, env: NodeJS.ProcessEnv): AppRequest {
  const sourceDateEpoch = parseSourceDateEpoch(env.SOURCE_DATE_EPOCH);
  return {
    dir: args.dir,
    packages: args.packages,
    debug: args.debug,
    env: args.env,
    ports: args.ports,
    writable: args.writable,
    volumes: args.volumes,
    suites: args.suites,
    outputs: args.outputs,
    ...(args.init !== undefined && { init: args.init }),
    ...(args.node !== undefined && { node: args.node }),
    ...(args.cmd !== undefined && { cmd: args.cmd }),
    ...(args.buildScript !== undefined && { buildScript: args.buildScript }),
    ...(args.noBuild && { noBuild: true }),
    ...(args.workspace !== undefined && { workspace: args.workspace }),
    ...(args.base !== undefined && { base: args.base }),
    ...(args.healthcheck !== undefined && { healthcheck: healthcheckCommand(args.healthcheck, args.ports) }),
    ...(args.user !== undefined && { user: args.user }),
    ...(args.platforms !== undefined && { platforms: args.platforms }),
    ...(args.tag !== undefined && { tag: args.tag }),
    ...(args.load && { load: true }),
    ...(sourceDateEpoch !== undefined && { sourceDateEpoch }),
    ...(args.includeSecrets !== undefined && { includeSecrets: args.includeSecrets }),
    ...(args.strip === false && { strip: false }),
    ...(args.compression && { compression: args.compression }),
    ...(args.prune === false && { prune: false }),
    ...(args.trace !== undefined && { trace: args.trace }),
    ...(args.crossToolchain !== undefined && { crossToolchain: args.crossToolchain }),
    // PATH and DISTILL_BINFMT_DIR: where the native routes look for a cross toolchain and qemu (docs/MULTI-ARCH.md).
    crossHost: {
      ...(env.PATH !== undefined && { path: env.PATH }),
      ...(env.DISTILL_BINFMT_DIR !== undefined && { binfmtDir: env.DISTILL_BINFMT_DIR }),
    },
  };
}

export async function commandBuild(
  args: BuildArgs,
  ctx: BaseContext,
  planOnly: boolean,
): Promise<{ plan: AppPlan; artifact?: Artifact; dockerName: string; published?: WrittenOutput[] }> {
  const { store, reporter } = ctx;
  const step = (m: string) => reporter.step?.(m);
  const request = appRequest(args, ctx.env);
  return cancelOnSignals(async (signal) => {
    const sources = distillSources({
      store,
      apt: () =>
        aptSource(
          {
            packages: [],
            suites: args.suites,
            keyrings: args.keyrings,
            ...(args.mirrors !== undefined && { mirrors: args.mirrors }),
          },
          ctx,
          args.suites.length > 0 ? args.suites : DEFAULT_SUITES,
        ),
      ...(args.nodeMirror !== undefined && { nodeMirror: args.nodeMirror }),
      pull: args.pull,
      ...(ctx.media && { media: ctx.media }),
      signal,
    });
    const plan = await planApp(request, sources, { step, warn: ctx.warn });
    const dockerName = `${plan.image.name}:${plan.image.tag}`;
    if (planOnly) return { plan, dockerName };
    const { artifact, outputs } = await buildApp(plan, {
      store,
      sources,
      env: ctx.env,
      ...(ctx.media && { media: ctx.media }),
      step,
      progress: (p) => reporter.heartbeat?.(p),
      warn: ctx.warn,
      ...(args.attest && { attest: args.attest }),
      ...(ctx.env.DISTILL_VERBOSE && { output: (s: string) => process.stderr.write(s) }),
      signal,
    });
    return { plan, artifact, dockerName, published: outputs };
  });
}
