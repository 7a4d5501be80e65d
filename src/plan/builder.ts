import { posix } from 'node:path';
import { DistillError } from '../errors.js';
import { insideRel, pathKind } from '../sources/app/files.js';
import {
  type AppDir,
  type PackageJson,
  type WorkspacePackageDir,
  workspacePackages,
} from '../sources/app/read.js';
import type { PackageManagerName } from '../sources/node/pm.js';
import { startPrep } from './command.js';
import { planCommand } from './frameworks-plan.js';

/**
 * The builder step's decisions, made before anything installs: whether a build script runs and
 * why, what the plan can tell about its output, which workspace packages are built (dependencies
 * first) and shipped, and what the install reads (the cache key of the full install and of the
 * production node_modules). planApp (app.ts) puts them into the plan; src/build/app runs them.
 */

/** Files an install reads besides package.json files; when the app has none of them, they are absent. */
export const INSTALL_INPUTS = [
  'package.json',
  'package-lock.json',
  'npm-shrinkwrap.json',
  'pnpm-lock.yaml',
  'pnpm-workspace.yaml',
  'yarn.lock',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pnpmfile.cjs',
  '.pnpmfile.mjs',
  '.yarn/releases',
  '.yarn/plugins',
  '.yarn/patches',
  'patches',
];

/** The app's own scripts a package manager runs during an install (npm, pnpm and yarn run these). */
const INSTALL_LIFECYCLE = ['preinstall', 'install', 'postinstall', 'preprepare', 'prepare', 'postprepare'];

export interface BuildChoice {
  /** The package.json script that runs after the full install; none: no build. */
  script?: string;
  /** Where that came from. */
  from: string;
}

/**
 * The build script: `--no-build` or `--build-script ''` (none), `--build-script NAME`, else
 * `build` when package.json has one. `--no-build` with `--build-script NAME` contradict.
 */
export function chooseBuild(app: AppDir, request: { buildScript?: string; noBuild?: boolean }): BuildChoice {
  const flag = request.buildScript;
  if (request.noBuild) {
    if (flag !== undefined && flag !== '') {
      throw new DistillError(
        'USAGE',
        `--no-build and --build-script ${flag} contradict each other; give one`,
      );
    }
    return { from: '--no-build' };
  }
  if (flag === '') return { from: "--build-script ''" };
  if (flag !== undefined) return { script: flag, from: '--build-script' };
  const scripts = app.packageJson.scripts;
  if (typeof scripts?.build === 'string') return { script: 'build', from: 'scripts.build in package.json' };
  const prep = startPrep(scripts?.start);
  if (prep !== undefined && typeof scripts?.[prep.script] === 'string') {
    return { script: prep.script, from: `scripts.start runs "${prep.script}" before the server` };
  }
  return { from: 'package.json has no "build" script' };
}

/** The file node runs first (its options skipped), when it is a path and not `-e CODE`. */
function entryFile(args: readonly string[]): string | undefined {
  for (const a of args) {
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') return undefined;
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * What the plan can say about the build script and the command, from the source tree alone
 * (hints, worded as such: which files a script writes is known only once it ran). Without a
 * build script, a command whose file is not in the source tree is the entry check's error
 * (entry.ts, APP_ENTRY_MISSING), before anything installs.
 */
export async function buildNotes(
  app: AppDir,
  build: BuildChoice,
  cmd: { args: readonly string[]; bin?: string },
): Promise<string[]> {
  if (cmd.bin !== undefined || build.script === undefined) return [];
  const entry = entryFile(cmd.args);
  const rel = entry !== undefined ? insideRel(entry) : undefined;
  if (rel === undefined) return [];
  const kind = await pathKind(app.dir, rel);
  const text = app.packageJson.scripts?.[build.script] ?? '';
  if (kind !== 'file' && kind !== 'symlink') {
    return [`${rel} is not in the source tree: the command expects it from "${build.script}" (${text})`];
  }
  const top = rel.split('/')[0]!;
  if (text.includes(top)) return [];
  return [
    `the command runs ${rel}, which is already in the source tree, and "${build.script}" (${text}) does not name it: if the image needs nothing the script makes, --no-build skips it (it runs on every code change)`,
  ];
}

/** A workspace package the build involves. */
export interface WorkspacePackage {
  name: string;
  /** Its directory, relative to the workspace root. */
  rel: string;
  /** It has the build script: it is built, after the workspace packages it depends on. */
  build: boolean;
  /** The package itself or one of its production dependencies: its files go into the image. */
  ship: boolean;
}

type DepField = 'dependencies' | 'devDependencies' | 'optionalDependencies' | 'peerDependencies';
const PROD_FIELDS: DepField[] = ['dependencies', 'optionalDependencies', 'peerDependencies'];
const ALL_FIELDS: DepField[] = [...PROD_FIELDS, 'devDependencies'];

/**
 * The workspace packages `fields` of `pkg` name. pnpm links a workspace package only for the
 * `workspace:` protocol (link-workspace-packages is off by default); npm and yarn link any
 * dependency whose name is a workspace package's.
 */
function workspaceDeps(
  pkg: PackageJson,
  byName: Map<string, WorkspacePackageDir>,
  pm: PackageManagerName,
  fields: DepField[],
): string[] {
  const out: string[] = [];
  for (const f of fields) {
    for (const [name, spec] of Object.entries(pkg[f] ?? {})) {
      if (!byName.has(name) || typeof spec !== 'string') continue;
      if (pm === 'pnpm' && !spec.startsWith('workspace:')) continue;
      if (!out.includes(name)) out.push(name);
    }
  }
  return out;
}

/**
 * The packages a `--workspace NAME` build involves, in build order (each after the workspace
 * packages it depends on, NAME last): every workspace package it depends on, development
 * dependencies included (their build may need them), each marked with whether it has the build
 * script and whether it ships (a production dependency, transitively).
 */
export function workspaceOrder(
  all: readonly WorkspacePackageDir[],
  target: string,
  pm: PackageManagerName,
  script: string | undefined,
): WorkspacePackage[] {
  const byName = new Map<string, WorkspacePackageDir>();
  for (const p of all) if (typeof p.packageJson.name === 'string') byName.set(p.packageJson.name, p);
  const closure = (fields: DepField[]): string[] => {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name)) return; // a cycle, or a package already placed
      seen.add(name);
      for (const d of workspaceDeps(byName.get(name)!.packageJson, byName, pm, fields)) visit(d);
      order.push(name);
    };
    visit(target);
    return order;
  };
  // A workspace package's build may need its development dependencies (a shared tsconfig, a
  // build tool package): those are built too; only production dependencies ship.
  const built = closure(ALL_FIELDS);
  const shipped = new Set(closure(PROD_FIELDS));
  return built.map((name) => {
    const p = byName.get(name)!;
    return {
      name,
      rel: p.rel,
      build: script !== undefined && typeof p.packageJson.scripts?.[script] === 'string',
      ship: shipped.has(name),
    };
  });
}

/** Local-path dependencies (`file:`, `link:`, `portal:`) of a package at `rel`, as paths from the root. */
function localDeps(pkg: PackageJson, rel: string): string[] {
  const out: string[] = [];
  for (const f of ALL_FIELDS) {
    for (const spec of Object.values(pkg[f] ?? {})) {
      const m = typeof spec === 'string' ? /^(?:file|link|portal):(.+)$/.exec(spec) : null;
      const path = m ? insideRel(posix.join(rel === '' ? '.' : rel, m[1]!)) : undefined;
      if (path !== undefined && !out.includes(path)) out.push(path);
    }
  }
  return out;
}

export interface InstallInputs {
  /** What the install reads, relative to the root: the files of INSTALL_INPUTS that are there, every workspace package.json, local-path dependencies. */
  inputs: string[];
  /**
   * Why the full install may read any file of the app (its own lifecycle scripts run, or a
   * binding.gyp is compiled): then its cache key is made of every file of the app.
   */
  wholeApp?: string;
}

/** What the install reads: the cache key of the full install and of the production node_modules. */
export async function installInputs(
  root: AppDir,
  packages: readonly WorkspacePackageDir[],
): Promise<InstallInputs> {
  const inputs: string[] = [];
  for (const rel of INSTALL_INPUTS) if ((await pathKind(root.dir, rel)) !== undefined) inputs.push(rel);
  const all = [{ rel: '', packageJson: root.packageJson }, ...packages];
  for (const p of all) {
    if (p.rel !== '' && !inputs.includes(`${p.rel}/package.json`)) inputs.push(`${p.rel}/package.json`);
    for (const d of localDeps(p.packageJson, p.rel)) {
      if (!inputs.includes(d) && (await pathKind(root.dir, d)) !== undefined) inputs.push(d);
    }
  }
  for (const p of all) {
    const where = p.rel === '' ? 'package.json' : `${p.rel}/package.json`;
    const script = INSTALL_LIFECYCLE.find((s) => typeof p.packageJson.scripts?.[s] === 'string');
    if (script !== undefined) {
      return {
        inputs,
        wholeApp: `scripts.${script} of ${where} runs during the install and may read any file`,
      };
    }
    const gyp = p.rel === '' ? 'binding.gyp' : `${p.rel}/binding.gyp`;
    if ((await pathKind(root.dir, gyp)) === 'file') {
      return { inputs, wholeApp: `${gyp} is compiled during the install from the app's own sources` };
    }
  }
  return { inputs };
}

/** The builder step's part of the plan. */
export interface BuilderPlan {
  build: { from: string; notes: string[] };
  install: InstallInputs & { workspaces?: WorkspacePackage[] };
}

/** The notes on the build script, what the install reads and the workspace packages involved. */
export async function planBuilder(p: {
  root: AppDir;
  /** The package built: the root, or the workspace package of --workspace. */
  app: AppDir;
  workspace: string | undefined;
  build: BuildChoice;
  cmd: { args: readonly string[]; bin?: string };
  pm: PackageManagerName;
}): Promise<BuilderPlan> {
  const { root, app, build, workspace: ws } = p;
  const notes = await buildNotes(app, build, {
    args: p.cmd.args,
    ...(p.cmd.bin !== undefined && { bin: p.cmd.bin }),
  });
  // npm and yarn name workspaces in package.json, pnpm in pnpm-workspace.yaml: read both, always.
  const all = await workspacePackages(root);
  const install = await installInputs(root, all);
  return {
    build: { from: build.from, notes },
    install: {
      ...install,
      ...(ws !== undefined && { workspaces: workspaceOrder(all, ws, p.pm, build.script) }),
    },
  };
}

/**
 * planApp's builder half: the build script (chooseBuild), then the command, which may depend on
 * it (frameworks-plan.ts), then the notes on both, what the install reads and the workspace
 * packages involved.
 */
export async function planBuildAndCommand(p: {
  root: AppDir;
  app: AppDir;
  /** The workspace package of --workspace. */
  ws: { rel: string } | undefined;
  request: Parameters<typeof planCommand>[0]['request'] & {
    buildScript?: string;
    noBuild?: boolean;
    workspace?: string;
  };
  pm: PackageManagerName;
}): Promise<{ buildScript?: string; fw: Awaited<ReturnType<typeof planCommand>>; builder: BuilderPlan }> {
  const { root, app, request } = p;
  const build = chooseBuild(app, request);
  const fw = await planCommand({ root, app, wsRel: p.ws?.rel ?? '', buildScript: build.script, request });
  const builder = await planBuilder({
    root,
    app,
    workspace: request.workspace,
    build,
    cmd: fw.cmd,
    pm: p.pm,
  });
  return { ...(build.script !== undefined && { buildScript: build.script }), fw, builder };
}
