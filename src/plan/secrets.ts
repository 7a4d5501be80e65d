/**
 * What a plan says about secrets in the app (decision 0014): the files of the app directory the
 * secret rules match (src/inspect/secret-rules.ts; `.dockerignore` and `.distillignore` apply
 * first), which the app layer leaves out, and those `--include-secret` keeps. A build script's
 * output is known only when it has run: the build checks it with the same rules.
 */
export interface PlannedSecret {
  /** Relative to the app directory. */
  path: string;
  /** The rule's kind (`dotenv`, `npmrc-token`, `private-key`, ...). */
  kind: string;
  /** Why such a file in an image matters. */
  reason: string;
}

export interface PlannedSecrets {
  /** `--include-secret`: paths (files, or directories and all below them) kept deliberately. */
  include: string[];
  /** Files left out of the app layer. */
  leftOut: PlannedSecret[];
  /** Files the rules match that `include` keeps in the app layer. */
  kept: PlannedSecret[];
}
