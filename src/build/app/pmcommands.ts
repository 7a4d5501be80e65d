import type { WorkspacePackage } from '../../plan/builder.js';
import type { PackageManagerTool } from '../../sources/node/pm.js';

/**
 * The package manager commands of the builder step, per package manager: the full install,
 * the build script (for each workspace package that has it, dependencies first), and the prune
 * to production dependencies; or, without a build script, the production install alone.
 *
 * Each prune was checked against a fresh production install of the same lockfile (the package
 * sets are equal, test/build/prune.test.ts): `npm prune --omit=dev` (with `-w NAME
 * --include-workspace-root` in a workspace: without the second flag npm keeps the root's
 * devDependencies); `pnpm prune --prod` (with `--filter NAME...`: without it pnpm installs the
 * production dependencies of every other workspace package; `pnpm install --prod` on top of a
 * full install, what distill ran before, keeps every devDependency in node_modules/.pnpm);
 * yarn classic's `install --production`; yarn berry's `workspaces focus --production`.
 */
export interface InstallSteps {
  /** Run `scripts[buildScript]` between a full install and pruning to production. */
  buildScript?: string;
  /** A workspace package to install and build (npm -w, pnpm --filter). */
  workspace?: string;
  /** With `workspace`: the packages built, dependencies first (the plan's install.workspaces). */
  workspaces?: readonly WorkspacePackage[];
  /** npm_config_arch etc. for a foreign platform's optional packages. */
  targetArch?: 'x64' | 'arm64';
  /** With targetArch: the cross toolchain and emulation its native packages use (cross.ts). */
  cross?: { toolchain?: string; emulated: boolean };
}

export interface PmCommand {
  what: 'install' | 'build' | 'prune';
  args: string[];
}

/** The build script of each workspace package that has it, in order; the app's own without a workspace. */
function builds(
  steps: InstallSteps,
  run: (pkg: string | undefined, script: string) => string[],
): PmCommand[] {
  const script = steps.buildScript;
  if (script === undefined) return [];
  if (steps.workspace === undefined) return [{ what: 'build', args: run(undefined, script) }];
  const pkgs = steps.workspaces?.filter((w) => w.build).map((w) => w.name) ?? [steps.workspace];
  return pkgs.map((p) => ({ what: 'build', args: run(p, script) }));
}

export function installCommands(pm: PackageManagerTool['name'], steps: InstallSteps): PmCommand[] {
  const ws = steps.workspace;
  const build = steps.buildScript;
  switch (pm) {
    case 'npm': {
      const w = ws !== undefined ? ['--workspace', ws, '--include-workspace-root'] : [];
      if (build === undefined) return [{ what: 'install', args: ['ci', '--omit=dev', ...w] }];
      return [
        { what: 'install', args: ['ci', '--include=dev', ...w] },
        ...builds(steps, (p, s) => ['run', s, ...(p !== undefined ? ['--workspace', p] : [])]),
        { what: 'prune', args: ['prune', '--omit=dev', ...w] },
      ];
    }
    case 'pnpm': {
      const f = ws !== undefined ? ['--filter', `${ws}...`] : [];
      if (build === undefined)
        return [{ what: 'install', args: ['install', '--frozen-lockfile', '--prod', ...f] }];
      return [
        { what: 'install', args: ['install', '--frozen-lockfile', ...f] },
        ...builds(steps, (p, s) => [...(p !== undefined ? ['--filter', p] : []), 'run', s]),
        { what: 'prune', args: [...f, 'prune', '--prod'] },
      ];
    }
    case 'yarn-classic': {
      const prod = ['install', '--frozen-lockfile', '--production=true', '--non-interactive'];
      if (build === undefined) return [{ what: 'install', args: prod }];
      return [
        { what: 'install', args: ['install', '--frozen-lockfile', '--non-interactive'] },
        ...builds(steps, (p, s) => (p !== undefined ? ['workspace', p, 'run', s] : ['run', s])),
        { what: 'prune', args: prod },
      ];
    }
    case 'yarn-berry': {
      const focus = ['workspaces', 'focus', ...(ws !== undefined ? [ws] : ['--all']), '--production'];
      if (build === undefined) return [{ what: 'install', args: focus }];
      return [
        { what: 'install', args: ['install', '--immutable'] },
        ...builds(steps, (p, s) => (p !== undefined ? ['workspace', p, 'run', s] : ['run', s])),
        { what: 'prune', args: focus },
      ];
    }
  }
}
