import type { MediaOptions } from '../../media/index.js';
import type { Store } from '../../store/store.js';
import type { AttestOptions } from '../attest.js';
import type { BuildSources } from '../sources.js';
import type { CommandProgress } from './run.js';

/**
 * What buildApp takes besides the plan: where inputs come from, where blobs are kept, how the
 * install runs, where progress goes, and the signal that stops it all.
 */
export interface AppBuildDeps {
  store: Store;
  sources: BuildSources;
  /**
   * The environment the install runs in (PATH, HOME, proxies, npm_config_* settings) and that
   * names the scratch places (DISTILL_SCRATCH); a CLI passes its own.
   */
  env: NodeJS.ProcessEnv;
  /** How outputs are written: registry credentials, transfer progress. */
  media?: MediaOptions;
  /** One line per step ("node_modules: cached", "writing oci:..."). */
  step?(message: string): void;
  warn?(message: string): void;
  /** The install commands' output as it comes. */
  output?(chunk: string): void;
  /** Every second while an install or build command runs: how long, and its last output line. */
  progress?(p: CommandProgress): void;
  /**
   * Aborting stops the build at its next step: a running install's process group is killed, the
   * scratch copy removed, and buildApp rejects with ABORTED.
   */
  signal?: AbortSignal;
  /** `--attest`: attestations made from the plan and attached to every output that holds them. */
  attest?: AttestOptions;
}
