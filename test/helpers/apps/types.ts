import type { HttpCheck } from './http.js';
import type { ToolName } from './tools.js';

export type AppName =
  | 'nest'
  | 'next'
  | 'next-standalone'
  | 'pnpm-workspace'
  | 'npm-sqlite'
  | 'yarn-berry-sqlite'
  | 'no-entry'
  | 'node-pin';

/** What a recipe's generate() gets. */
export interface GenerateContext {
  /** The environment of tools.ts toolEnv: the host Node first on PATH, caches in the apps cache. */
  env: NodeJS.ProcessEnv;
  /** The cached tree of another app (read it, copy it, never change it). */
  tree(name: AppName): Promise<string>;
}

/** How the app runs on the host, from a copy that has the generator's node_modules. */
export interface HostRun {
  /** The Node release to run with (VERSIONS.hostNode unless given). */
  node?: string;
  /** Commands in order before start (the build), run in the app's directory. */
  build?: string[][];
  /** The command that serves it (PORT set to a free port). */
  start: string[];
  /** More environment for start. */
  env?: Record<string, string>;
}

/** What issue 15 expects `distill build` with default flags to make of the app. */
export interface Expected {
  /** The image's command after the entrypoint node, e.g. ['dist/main.js']; absent when the build must fail. */
  cmd?: string[];
  /** The port the framework listens on by default (EXPOSE). */
  port?: number;
  /** Extra distill flags the build needs (`--workspace api`). */
  flags?: string[];
  /** The build must fail before anything installs (listing the entry candidates it found). */
  failsBeforeInstall?: boolean;
  /** The exact Node version the image must have. */
  node?: string;
  /** Free text: what a correct image holds (checked by issue 15's tests, not here). */
  notes?: string;
}

export interface AppRecipe {
  name: AppName;
  /** One line: what it is and who made it. */
  description: string;
  /** Versions and options it is made from: with the recipe's source files, the cache key. */
  inputs: Record<string, unknown>;
  /** Files (absolute paths) whose text is part of the key: the recipe module, fixture files. */
  sources: string[];
  /** The package managers besides npm it is made and run with (on PATH as `pnpm`, `yarn`). */
  tools?: ToolName[];
  /** Programs of the machine it needs besides Node (a compiler for a native addon). */
  components?: string[];
  /** Apps whose trees generate() takes (ctx.tree): their keys are part of this one's. */
  from?: AppName[];
  /** Fills the empty directory `dir` with the app (and node_modules, as its generator leaves them). */
  generate(dir: string, ctx: GenerateContext): Promise<void>;
  /** Absent for an app that must not run (no entry point). */
  host?: HostRun;
  /** For an app that must not run: a command its own tooling refuses, and what it says. */
  hostRefuses?: { command: string[]; output: RegExp };
  /** The port it listens on without PORT (it reads PORT when set). */
  port: number;
  /** Asked in order once it answers; the first check's path is polled until it answers. */
  checks: HttpCheck[];
  expect: Expected;
}
