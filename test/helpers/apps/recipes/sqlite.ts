import { cp, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { editJson, run } from '../tools.js';
import type { AppRecipe } from '../types.js';
import { VERSIONS } from '../versions.js';

/**
 * A TypeScript HTTP service with a native addon (better-sqlite3, compiled at install: its
 * prebuilt binaries come from GitHub) and a `tsc` build: the bench app of bench/build, kept
 * there (src/, tsconfig.json, and the package.json and package-lock.json that npmPackage()
 * made; bench/build/apps/make.ts makes them again). The npm app is that fixture; the yarn berry
 * app is the same code with yarn's own package.json and yarn.lock.
 */
export const SQLITE_APP = fileURLToPath(new URL('../../../../bench/build/apps/sqlite-tsc', import.meta.url));
const CODE = ['tsconfig.json', 'src'];
const DEPS = [`better-sqlite3@^${VERSIONS.betterSqlite3}`];
const DEV_DEPS = [
  `typescript@^${VERSIONS.typescript}`,
  `@types/node@^${VERSIONS.typesNode}`,
  `@types/better-sqlite3@^${VERSIONS.typesBetterSqlite3}`,
];
const SCRIPTS = { build: 'tsc', start: 'node dist/index.js' };

/**
 * npm's steps for the npm app's package.json and package-lock.json, in `dir` (which has the
 * code): `npm init`, the dependencies at the pinned versions, and `npm approve-scripts` for
 * better-sqlite3's install script (npm 11.10 and later run it only when allowed).
 */
export async function npmPackage(
  dir: string,
  env: NodeJS.ProcessEnv,
  installFlags: string[] = [],
): Promise<void> {
  const npm = (...args: string[]) => run(['npm', ...args], { cwd: dir, env });
  await npm('init', '-y');
  await npm('pkg', 'delete', 'main', 'scripts.test', 'keywords', 'author', 'description');
  await npm('pkg', 'set', 'name=sqlite-tsc', ...Object.entries(SCRIPTS).map(([k, v]) => `scripts.${k}=${v}`));
  await npm('pkg', 'set', 'private=true', '--json');
  await npm('install', ...installFlags, ...DEPS);
  await npm('install', ...installFlags, '--save-dev', ...DEV_DEPS);
  await npm('approve-scripts', 'better-sqlite3');
}

async function copyCode(dir: string, names: string[]): Promise<void> {
  for (const name of names) await cp(join(SQLITE_APP, name), join(dir, name), { recursive: true });
}

/**
 * /health (polled until it answers; it records nothing), then the first visit, counted in
 * SQLite (the body starts with the package's name).
 */
function checks(app: string): AppRecipe['checks'] {
  return [
    { what: 'the health path', path: '/health', status: 200, includes: 'ok' },
    { what: 'a visit recorded in SQLite', path: '/', status: 200, includes: `"app":"${app}","visits":1` },
  ];
}

export const npmSqlite: AppRecipe = {
  name: 'npm-sqlite',
  components: ['g++', 'make', 'python3'],
  description: `TypeScript server with better-sqlite3 ${VERSIONS.betterSqlite3} (compiled) and a tsc build, npm (the bench app)`,
  inputs: { node: VERSIONS.hostNode },
  sources: [
    fileURLToPath(import.meta.url),
    ...['package.json', 'package-lock.json', 'tsconfig.json', 'src/index.ts'].map((f) => join(SQLITE_APP, f)),
  ],
  async generate(dir, { env }) {
    await copyCode(dir, ['package.json', 'package-lock.json', ...CODE]);
    // The install is for the host check; builders of the app never see node_modules.
    await run(['npm', 'ci'], { cwd: dir, env });
  },
  host: { build: [['npm', 'run', 'build']], start: ['npm', 'start'] },
  port: 8080,
  checks: checks('sqlite-tsc'),
  expect: {
    cmd: ['dist/index.js'],
    notes: 'node_modules holds better-sqlite3 built for the image Node, no typescript',
  },
};

const yarn = (...args: string[]) => [
  'npx',
  '--yes',
  '-p',
  `@yarnpkg/cli-dist@${VERSIONS.yarnBerry}`,
  'yarn',
  ...args,
];

export const yarnBerrySqlite: AppRecipe = {
  name: 'yarn-berry-sqlite',
  tools: ['yarn'],
  components: ['g++', 'make', 'python3'],
  description: `the same server made with yarn ${VERSIONS.yarnBerry} (node-modules linker, packageManager field)`,
  inputs: { node: VERSIONS.hostNode, yarn: VERSIONS.yarnBerry, DEPS, DEV_DEPS, SCRIPTS },
  sources: [
    fileURLToPath(import.meta.url),
    ...CODE.map((f) => join(SQLITE_APP, f === 'src' ? 'src/index.ts' : f)),
  ],
  async generate(dir, { env }) {
    const y = (...args: string[]) => run(yarn(...args), { cwd: dir, env });
    await copyCode(dir, CODE);
    await y('init', '-y');
    await y('config', 'set', 'nodeLinker', 'node-modules');
    // yarn init made a git repository and a Plug'n'Play loader; neither belongs to this app.
    await rm(join(dir, '.git'), { recursive: true, force: true });
    await rm(join(dir, '.pnp.cjs'), { force: true });
    await editJson(join(dir, 'package.json'), (p) => {
      p.name = 'sqlite-tsc-yarn';
      p.private = true;
      p.scripts = SCRIPTS;
      // yarn 4 runs no dependency's build script unless told (enableScripts is false by
      // default: "lists build scripts, but all build scripts have been disabled").
      p.dependenciesMeta = { 'better-sqlite3': { built: true } };
    });
    await y('add', ...DEPS);
    await y('add', '--dev', ...DEV_DEPS);
    // Install state is local (yarn's .gitignore leaves it out of a checkout).
    await rm(join(dir, '.yarn', 'install-state.gz'), { force: true });
    if ((await readdir(join(dir, '.yarn')).catch(() => ['?'])).length === 0) await rmdir(join(dir, '.yarn'));
  },
  host: { build: [yarn('build')], start: yarn('start') },
  port: 8080,
  checks: checks('sqlite-tsc-yarn'),
  expect: {
    cmd: ['dist/index.js'],
    notes: 'yarn berry from packageManager; better-sqlite3 built for the image Node, no typescript',
  },
};
