import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { installCommands } from '../../src/build/app/pmcommands.js';
import type { WorkspacePackage } from '../../src/plan/builder.js';

/** The package manager commands of the builder step (their results are checked in test/build/prune.test.ts). */
const line = (cmds: { what: string; args: string[] }[]) => cmds.map((c) => `${c.what}: ${c.args.join(' ')}`);

const WS: WorkspacePackage[] = [
  { name: '@repo/config', rel: 'packages/config', build: false, ship: false },
  { name: '@repo/logger', rel: 'packages/logger', build: true, ship: true },
  { name: 'api', rel: 'apps/api', build: true, ship: true },
];

describe('install commands per package manager', () => {
  test('npm without a build script installs production dependencies only', () => {
    assert.deepEqual(installCommands('npm', {}), [{ what: 'install', args: ['ci', '--omit=dev'] }]);
  });
  test('npm in a workspace: the root dependencies too, each package built after its dependencies, pruned with the root', () => {
    assert.deepEqual(
      line(installCommands('npm', { buildScript: 'build', workspace: 'api', workspaces: WS })),
      [
        'install: ci --include=dev --workspace api --include-workspace-root',
        'build: run build --workspace @repo/logger',
        'build: run build --workspace api',
        'prune: prune --omit=dev --workspace api --include-workspace-root',
      ],
    );
  });
  test('pnpm: the workspace and its dependencies installed, built one by one, pruned with the same filter', () => {
    assert.deepEqual(line(installCommands('pnpm', { workspace: '@a/api' })), [
      'install: install --frozen-lockfile --prod --filter @a/api...',
    ]);
    assert.deepEqual(
      line(installCommands('pnpm', { buildScript: 'build', workspace: 'api', workspaces: WS })),
      [
        'install: install --frozen-lockfile --filter api...',
        'build: --filter @repo/logger run build',
        'build: --filter api run build',
        'prune: --filter api... prune --prod',
      ],
    );
    assert.deepEqual(line(installCommands('pnpm', { buildScript: 'compile' })), [
      'install: install --frozen-lockfile',
      'build: run compile',
      'prune: prune --prod',
    ]);
  });
  test('yarn classic and berry refuse to change the lockfile; berry focuses the workspace', () => {
    assert.ok(installCommands('yarn-classic', {})[0]!.args.includes('--frozen-lockfile'));
    assert.deepEqual(line(installCommands('yarn-berry', { buildScript: 'build' })), [
      'install: install --immutable',
      'build: run build',
      'prune: workspaces focus --all --production',
    ]);
    assert.deepEqual(
      line(installCommands('yarn-berry', { buildScript: 'build', workspace: 'api', workspaces: WS })),
      [
        'install: install --immutable',
        'build: workspace @repo/logger run build',
        'build: workspace api run build',
        'prune: workspaces focus api --production',
      ],
    );
  });
});
