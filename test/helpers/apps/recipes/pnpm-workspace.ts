import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { editJson, run } from '../tools.js';
import type { AppRecipe } from '../types.js';
import { VERSIONS } from '../versions.js';

/**
 * A pnpm workspace of the turborepo shape, made with pnpm itself (`pnpm init`, `pnpm add`):
 * `packages/logger` (`@repo/logger`, built by esbuild to dist/index.cjs, which its `main`
 * names; depends on picocolors) and `apps/api` (an HTTP server depending on
 * `@repo/logger: workspace:*`, built by esbuild too). Each build is its package's own; the
 * api's bundle leaves its dependencies to node_modules, so it runs only when logger was built.
 * esbuild is a dev dependency of both, with its platform binary (@esbuild/linux-x64).
 */
const LOGGER = `import pc from 'picocolors';

export const name = '@repo/logger';

/** A log line: time, scope, message. */
export function line(scope: string, message: string): string {
  return \`\${pc.dim(new Date().toISOString())} \${pc.bold(scope)} \${message}\`;
}
`;

const API = `import { createServer } from 'node:http';
import { line, name as logger } from '@repo/logger';

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ app: 'api', logger, path: req.url }));
});

const port = Number(process.env.PORT ?? 3001);
server.listen(port, () => console.log(line('api', \`listening on port \${port}\`)));
`;

const esbuild = (entry: string, out: string) =>
  `esbuild ${entry} --bundle --platform=node --packages=external --format=cjs --outfile=${out}`;

const pnpm = (...args: string[]) => ['pnpm', ...args];

/** `pnpm init` in `dir`, then the package's own fields. */
async function initPackage(
  dir: string,
  env: NodeJS.ProcessEnv,
  fields: Record<string, unknown>,
  root = false,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run(pnpm('init'), { cwd: dir, env });
  await editJson(join(dir, 'package.json'), (p) => {
    for (const k of ['main', 'keywords', 'author', 'description']) delete p[k];
    // pnpm init pins a pnpm in every package (packageManager and devEngines), and pins the
    // newest release (12.x), which does not run here (versions.ts). The root pins ours, in
    // packageManager only: with devEngines' onFail "download", pnpm 11 looks for an
    // @pnpm/exe@11.x to switch to, even when it is that version, and there is none.
    for (const k of ['packageManager', 'devEngines']) delete p[k];
    if (root) p.packageManager = `pnpm@${VERSIONS.pnpm}`;
    Object.assign(p, fields);
  });
}

export const pnpmWorkspace: AppRecipe = {
  name: 'pnpm-workspace',
  tools: ['pnpm'],
  description: `pnpm ${VERSIONS.pnpm} workspace: apps/api depends on packages/logger (workspace:*), each built by esbuild`,
  inputs: { pnpm: VERSIONS.pnpm, esbuild: VERSIONS.esbuild, typesNode: VERSIONS.typesNode },
  sources: [fileURLToPath(import.meta.url)],
  async generate(dir, { env }) {
    const p = (cwd: string, ...args: string[]) => run(pnpm(...args), { cwd, env });
    await initPackage(
      dir,
      env,
      { name: 'pnpm-workspace', private: true, scripts: { build: 'pnpm -r build' } },
      true,
    );
    await writeFile(join(dir, 'pnpm-workspace.yaml'), 'packages:\n  - apps/*\n  - packages/*\n');
    const logger = join(dir, 'packages', 'logger');
    await initPackage(logger, env, {
      name: '@repo/logger',
      version: '0.0.0',
      private: true,
      main: './dist/index.cjs',
      scripts: { build: esbuild('src/index.ts', 'dist/index.cjs') },
    });
    await mkdir(join(logger, 'src'));
    await writeFile(join(logger, 'src', 'index.ts'), LOGGER);
    const api = join(dir, 'apps', 'api');
    await initPackage(api, env, {
      name: 'api',
      version: '0.0.0',
      private: true,
      scripts: { build: esbuild('src/server.ts', 'dist/server.cjs'), start: 'node dist/server.cjs' },
    });
    await mkdir(join(api, 'src'));
    await writeFile(join(api, 'src', 'server.ts'), API);
    await p(dir, '--filter', '@repo/logger', 'add', 'picocolors@^1');
    // pnpm refuses a dependency's install script until it is approved, after adding it (exit
    // code 1, ERR_PNPM_IGNORED_BUILDS); a user then runs `pnpm approve-builds`, as here.
    await p(dir, '--filter', '@repo/logger', 'add', '--save-dev', `esbuild@^${VERSIONS.esbuild}`).catch(
      (err: Error) => {
        if (!err.message.includes('ERR_PNPM_IGNORED_BUILDS')) throw err;
      },
    );
    await p(dir, 'approve-builds', 'esbuild');
    await p(dir, '--filter', 'api', 'add', '@repo/logger@workspace:*');
    await p(
      dir,
      '--filter',
      'api',
      'add',
      '--save-dev',
      `esbuild@^${VERSIONS.esbuild}`,
      `@types/node@^${VERSIONS.typesNode}`,
    );
  },
  host: { build: [pnpm('build')], start: pnpm('--filter', 'api', 'start') },
  port: 3001,
  checks: [
    {
      what: 'the api, with the logger',
      path: '/',
      status: 200,
      includes: '"app":"api","logger":"@repo/logger"',
    },
  ],
  expect: {
    flags: ['--workspace', 'api'],
    cmd: ['dist/server.cjs'],
    notes:
      'builds @repo/logger then api; node_modules equal `pnpm --filter api deploy --prod` (api, @repo/logger, picocolors; no esbuild)',
  },
};
