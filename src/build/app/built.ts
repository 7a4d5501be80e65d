import { compressionKey, type LayerCompression } from '../../layers/compression.js';
import { digestOf } from '../../oci/digest.js';
import type { Layer } from '../../oci/image.js';
import type { Descriptor } from '../../oci/types.js';
import type { Store } from '../../store/store.js';
import { storedLayer } from '../layercache.js';
import type { InstallSteps } from './install.js';
import { keyedEnv } from './script-replay.js';
import type { SieveState } from './secrets.js';

/**
 * The builder step's result, remembered like a Dockerfile's RUN layer but by meaning: the two
 * layers a build script's run gave (production node_modules and the app with the build's
 * output), keyed by everything the run could read: every file of the app (as the scratch copy
 * has them: `.dockerignore` applies), the full install's key, the production layer's key (base,
 * prune, trace, bin), the build script and the workspace steps, the environment it ran with, and
 * the layers' epoch and compression. A rebuild with none of that changed copies no install back
 * and runs no script (decision 0035). A script whose output
 * depends on something else (the network, the clock) gives what its last run gave, as docker's
 * layer cache does; changing any file or variable runs it again.
 */
export interface BuiltRecord {
  nodeModules: { descriptor: Descriptor; diffId: Layer['diffId']; binPath?: string };
  app: { descriptor: Descriptor; diffId: Layer['diffId'] };
  /** What the secret rules found in the app layer's walk (the build's warning says it again). */
  secrets: SieveState;
}

declare module '../../store/records.js' {
  interface RecordValues {
    'built-app': BuiltRecord;
  }
}

export interface BuiltKeyInputs {
  /** The app's files, as keys.ts appFilesOnce reads them. */
  app: () => Promise<Record<string, string>>;
  keys: { dev: string; prod: string };
  steps: InstallSteps;
  env: NodeJS.ProcessEnv;
  sourceDateEpoch: number;
  compression?: LayerCompression;
  /** What decides a framework's own output hook (standalone.ts), when the build has one. */
  output?: string;
}

/** The record's key: a digest, so that no value of the environment is written down. */
export async function builtKey(k: BuiltKeyInputs): Promise<string> {
  return digestOf(
    JSON.stringify({
      app: await k.app(),
      install: k.keys,
      steps: k.steps,
      env: keyedEnv(k.env),
      epoch: k.sourceDateEpoch,
      compression: compressionKey(k.compression),
      output: k.output ?? null,
    }),
  );
}

/** The remembered result of `key` when both its layers are still in the store. */
export function builtHit(store: Store, key: string): Promise<BuiltRecord | undefined> {
  return store.record('built-app').get(
    { built: key },
    {
      usable: async (r) =>
        (await store.has(r.nodeModules.descriptor.digest)) && (await store.has(r.app.descriptor.digest)),
    },
  );
}

/** Writes down a run's result, when both its layers are blobs of the store. */
export async function rememberBuilt(
  store: Store,
  key: string,
  layers: { nodeModules: Layer; app: Layer; binPath?: string },
  secrets: SieveState,
): Promise<void> {
  const { nodeModules: nm, app } = layers;
  if (!(await store.has(nm.descriptor.digest)) || !(await store.has(app.descriptor.digest))) return;
  await store.record('built-app').put(
    { built: key },
    {
      nodeModules: {
        descriptor: nm.descriptor,
        diffId: nm.diffId,
        ...(layers.binPath !== undefined && { binPath: layers.binPath }),
      },
      app: { descriptor: app.descriptor, diffId: app.diffId },
      secrets,
    },
  );
}

/** The layers of a remembered result. */
export function builtLayers(store: Store, r: BuiltRecord) {
  return {
    nodeModules: storedLayer(store, r.nodeModules),
    app: storedLayer(store, r.app),
    ...(r.nodeModules.binPath !== undefined && { binPath: r.nodeModules.binPath }),
  };
}
