import { DEFAULT_LAYER_COMPRESSION, type LayerCompression } from '../layers/compression.js';
import type { PlanProgress } from './app.js';
import { type BaseConfig, checkLockMatches } from './base.js';
import type { Lockfile } from './lockfile.js';

/**
 * `distill base`, the planning half: a base config (the variant and what the flags or a config
 * file add) becomes a BasePlan, the config with the lock of its packages, which buildBase
 * (src/build/base) builds from and nothing else.
 */
export interface BaseRequest {
  config: BaseConfig;
  /** A lockfile to build from (`--lock FILE`): checked against the config, nothing is resolved. */
  lock?: { lockfile: Lockfile; file: string };
  /** Every layer entry's mtime and the config's `created` (default 0). */
  sourceDateEpoch?: number;
  /** Where relative `from:` paths of the config's extra files are read (default: the working directory). */
  baseDir?: string;
  /** Image references to write (default `oci:distill-VARIANT:latest`). */
  outputs?: string[];
  /** Strip the nodejs variants' bin/node of debug sections and static symbols (default true; `--no-strip`). */
  strip?: boolean;
  /** How the layers are compressed (`--compression`; default gzip 6). */
  compression?: LayerCompression;
}

/** What planBase asks the outside world (src/build/sources.ts has distill's own). */
export interface BasePlanSources {
  /** The newest version of every package of the config, across its suites, as a lockfile. */
  lockBase(config: BaseConfig): Promise<Lockfile>;
}

export interface BasePlan {
  /** The version of this shape; buildBase refuses another. */
  planVersion: 1;
  config: BaseConfig;
  lock: Lockfile;
  sourceDateEpoch: number;
  baseDir: string;
  outputs: string[];
  /** bin/node without its debug sections and static symbol table (nodejs variants; false: `--no-strip`). */
  strip: boolean;
  /** How every layer is compressed (absent in older plans: gzip 6). */
  compression?: LayerCompression;
}

export const BASE_PLAN_VERSION = 1;

export async function planBase(
  request: BaseRequest,
  sources: BasePlanSources,
  progress: PlanProgress = {},
): Promise<BasePlan> {
  const { config } = request;
  let lock: Lockfile;
  if (request.lock !== undefined) {
    lock = request.lock.lockfile;
    checkLockMatches(lock, config, request.lock.file);
  } else {
    progress.step?.(
      `resolving ${config.variant} for ${config.archs.join(', ')} from ${config.suites.join(', ')}`,
    );
    lock = await sources.lockBase(config);
  }
  return {
    planVersion: BASE_PLAN_VERSION,
    config,
    lock,
    sourceDateEpoch: request.sourceDateEpoch ?? 0,
    baseDir: request.baseDir ?? '.',
    strip: request.strip ?? true,
    compression: request.compression ?? DEFAULT_LAYER_COMPRESSION,
    outputs:
      request.outputs !== undefined && request.outputs.length > 0
        ? [...request.outputs]
        : [`oci:distill-${config.variant}:latest`],
  };
}
