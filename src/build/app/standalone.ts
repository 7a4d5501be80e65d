import { lstat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { DistillError } from '../../errors.js';
import { buildLayer } from '../../layers/build.js';
import { type LayerCompression, layerCompressionOptions } from '../../layers/compression.js';
import { entriesFromDirectory } from '../../layers/directory.js';
import type { LayerEntry } from '../../layers/entries.js';
import type { Layer } from '../../oci/image.js';
import type { AppPlan } from '../../plan/app.js';
import type { FrameworkPlan } from '../../plan/frameworks.js';
import { APP_DIR } from '../../plan/layout.js';
import type { Store } from '../../store/store.js';

/**
 * The image's app files when a framework builds a self-contained output (Next's
 * `output: "standalone"`, Nitro's `.output`): the output's paths copied where the plan says
 * (`.next/standalone` as the app, `.next/static` and `public/` beside its server.js), instead of
 * the production node_modules and the app tree. The output carries the dependencies its server
 * needs (traced by the framework's build), which become the node_modules layer; the rest is the
 * app layer. Both are made from the build every time.
 */
export interface OutputSpec {
  framework: FrameworkPlan;
  /** The app package's directory in the scratch copy. */
  pkgDir: string;
  /** The app's directory in the image (the workdir). */
  workdir: string;
  buildScript?: string;
  store: Store;
  sourceDateEpoch: number;
  compression?: LayerCompression;
  /** Checks the native files of a directory that goes into the image. */
  inspect?(dir: string): Promise<void>;
  step?(message: string): void;
}

const inNodeModules = (path: string) => path.split('/').includes('node_modules');

/** The entries of every copy of the output, later copies over earlier ones. */
async function outputEntries(spec: OutputSpec): Promise<LayerEntry[]> {
  const { framework: fw } = spec;
  const byPath = new Map<string, LayerEntry>();
  for (const copy of fw.output ?? []) {
    const src = join(spec.pkgDir, copy.from);
    const st = await lstat(src).catch(() => undefined);
    if (!st?.isDirectory()) {
      if (copy.optional) continue;
      throw new DistillError(
        'APP_BUILD_FAILED',
        `${fw.name} (${fw.from}) builds a self-contained output, but ${copy.from} is not there after ${spec.buildScript !== undefined ? `the build script "${spec.buildScript}"` : 'the install (the app has no build script)'}; check the build (it must write ${copy.from}), or pass --cmd to run something else`,
      );
    }
    await spec.inspect?.(src);
    const base = copy.root ? APP_DIR : spec.workdir;
    const prefix = posix.normalize(posix.join(base, copy.to)).replace(/\/$/, '');
    for (const e of await entriesFromDirectory(src, { prefix })) byPath.set(e.path, e);
  }
  return [...byPath.values()];
}

/** The node_modules and app layers of a framework's self-contained output. */
export async function outputLayers(spec: OutputSpec): Promise<{ nodeModules: Layer; app: Layer }> {
  const entries = await outputEntries(spec);
  const deps = entries.filter((e) => inNodeModules(e.path));
  const rest = entries.filter((e) => !inNodeModules(e.path));
  spec.step?.(
    `${spec.framework.name} output: ${rest.length} entries, ${deps.length} in its traced node_modules`,
  );
  const opts = {
    store: spec.store,
    sourceDateEpoch: spec.sourceDateEpoch,
    ...layerCompressionOptions(spec.compression),
  };
  const [nodeModules, app] = await Promise.all([buildLayer(deps, opts), buildLayer(rest, opts)]);
  return { nodeModules, app };
}

/** The `output` hook of buildAppLayers for a plan whose framework builds a self-contained output. */
export function frameworkOutput(
  plan: Pick<AppPlan, 'framework' | 'workdir' | 'buildScript' | 'sourceDateEpoch' | 'layerCompression'>,
  store: Store,
  inspect: (dir: string) => Promise<void>,
  step?: (message: string) => void,
): { output?: (scratch: string) => Promise<{ nodeModules: Layer; app: Layer }>; outputKey?: string } {
  // Plans made before frameworks were known have none.
  if (plan.framework?.image !== 'output') return {};
  const framework = plan.framework;
  return {
    outputKey: JSON.stringify({ framework, workdir: plan.workdir, buildScript: plan.buildScript ?? null }),
    output: (scratch) =>
      outputLayers({
        framework,
        pkgDir: join(scratch, plan.workdir.slice(APP_DIR.length + 1)),
        workdir: plan.workdir,
        ...(plan.buildScript !== undefined && { buildScript: plan.buildScript }),
        store,
        sourceDateEpoch: plan.sourceDateEpoch,
        ...(plan.layerCompression && { compression: plan.layerCompression }),
        inspect,
        ...(step && { step }),
      }),
  };
}
