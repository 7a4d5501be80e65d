// Types for scripts/bundle.mjs (plain JavaScript: bin/distill.js loads it without tsx).
export declare const BUNDLE_DIR: string;
export declare const BUNDLE_MAIN: string;
/** Whether `<root>/dist/bundle/main.js` was built after the last change to anything that goes into it. */
export declare function bundleIsFresh(root?: string): boolean;
/** Builds dist/bundle/; removes unreferenced files at least `prune` ms old. */
export declare function buildBundle(opts?: {
  prune?: number;
  quiet?: boolean;
}): Promise<{ ms: number; files: number }>;
/** Makes the bundle fresh (one process at a time); false when it could not. */
export declare function ensureBundle(): Promise<boolean>;
