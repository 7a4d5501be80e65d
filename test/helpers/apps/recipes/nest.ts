import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../tools.js';
import type { AppRecipe } from '../types.js';
import { VERSIONS } from '../versions.js';

/**
 * A NestJS app from `nest new` with npm, as its generator makes it (ESM, Vitest, oxlint, its
 * agent notes), installed by the generator. Its `start` is `nest start` (the CLI, a dev
 * dependency); `start:prod` is `node dist/main`, the command an image should run.
 */
export const nest: AppRecipe = {
  name: 'nest',
  description: `NestJS starter from @nestjs/cli ${VERSIONS.nestCli} \`nest new\` (npm)`,
  inputs: { nestCli: VERSIONS.nestCli, node: VERSIONS.hostNode },
  sources: [fileURLToPath(import.meta.url)],
  async generate(dir, { env }) {
    // nest new makes <cwd>/<name>; the name is the package's name, so it is made beside `dir`.
    const parent = dirname(dir);
    const name = 'nest-app';
    await rm(join(parent, name), { recursive: true, force: true });
    await run(
      [
        'npx',
        '--yes',
        `@nestjs/cli@${VERSIONS.nestCli}`,
        'new',
        name,
        '--package-manager',
        'npm',
        '--skip-git',
        '--no-interactive',
        '--skip-skills',
        '--no-observe',
      ],
      { cwd: parent, env },
    );
    await rm(dir, { recursive: true });
    await rename(join(parent, name), dir);
  },
  host: { build: [['npm', 'run', 'build']], start: ['npm', 'run', 'start:prod'] },
  port: 3000,
  checks: [{ what: "Nest's AppController", path: '/', status: 200, includes: 'Hello World!' }],
  expect: {
    cmd: ['dist/main'],
    port: 3000,
    notes: '`start` is `nest start` (a dev dependency): the image runs `start:prod`, `node dist/main`',
  },
};
