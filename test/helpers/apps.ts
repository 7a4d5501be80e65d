import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedEntry, cacheKey, type Entry } from './apps/cache.js';
import { type Checked, checkHttp, waitForAnswer } from './apps/http.js';
import { nest } from './apps/recipes/nest.js';
import { next, nextStandalone } from './apps/recipes/next.js';
import { pnpmWorkspace } from './apps/recipes/pnpm-workspace.js';
import { nodePin, noEntry } from './apps/recipes/small.js';
import { npmSqlite, yarnBerrySqlite } from './apps/recipes/sqlite.js';
import { copyTree, hostNode, run, type Server, startServer, type ToolName, toolEnv } from './apps/tools.js';
import type { AppName, AppRecipe } from './apps/types.js';
import { VERSIONS } from './apps/versions.js';
import { freePort } from './components.js';

/**
 * Real apps for tests and benches, made at test time by the frameworks' own generators from the
 * npm registry (nothing fetched is committed): `nest new`, `create-next-app`, pnpm and yarn
 * themselves, npm for our own small apps. Each is made once per cache key (apps/cache.ts: shared
 * by the test files of a run, atomic, locked) and handed out as a fresh copy to change.
 *
 *     const dir = await appCopy('nest');            // the tree a checkout holds, no node_modules
 *     const spec = APPS.nest;                       // port, HTTP checks, what distill should make
 *     await checkHttp(`http://127.0.0.1:${port}`, spec.checks);
 *
 * Versions are pinned in apps/versions.ts. Generating needs the npm registry; the tests that use
 * these apps call requireNetwork(t, NPM) first.
 */
export const APPS: Readonly<Record<AppName, AppRecipe>> = {
  nest,
  next,
  'next-standalone': nextStandalone,
  'pnpm-workspace': pnpmWorkspace,
  'npm-sqlite': npmSqlite,
  'yarn-berry-sqlite': yarnBerrySqlite,
  'no-entry': noEntry,
  'node-pin': nodePin,
};

export const APP_NAMES = Object.keys(APPS) as AppName[];

export type { AppName, AppRecipe, Checked };
export { checkHttp, VERSIONS };

const keys = new Map<AppName, Promise<{ key: string; inputs: unknown }>>();

/** An app's cache key: its inputs, the text of its sources, and the keys of the apps it copies. */
function keyOf(name: AppName): Promise<{ key: string; inputs: unknown }> {
  let k = keys.get(name);
  if (!k) {
    k = (async () => {
      const recipe = APPS[name];
      const sources: Record<string, string> = {};
      for (const f of recipe.sources)
        sources[f.replace(/^.*\/test\/|^.*\/bench\//, '')] = await readFile(f, 'utf8');
      const from = await Promise.all((recipe.from ?? []).map(async (n) => (await keyOf(n)).key));
      const inputs = { ...recipe.inputs, from, hostNode: VERSIONS.hostNode };
      return { key: cacheKey(name, { inputs, sources }), inputs };
    })();
    keys.set(name, k);
  }
  return k;
}

/**
 * The environment the apps are made and run with on the host (tools.ts toolEnv): `node` first
 * on PATH, then the package managers `tools`.
 */
export async function hostEnv(
  node: string = VERSIONS.hostNode,
  tools: readonly ToolName[] = [],
): Promise<NodeJS.ProcessEnv> {
  return toolEnv(await hostNode(node), tools);
}

/** The app's cached tree (read it, never change it), generated first when it is not there. */
export async function generatedApp(name: AppName): Promise<Entry> {
  const { key, inputs } = await keyOf(name);
  return cachedEntry(key, inputs, async (tree) => {
    const env = await hostEnv(VERSIONS.hostNode, APPS[name].tools);
    await APPS[name].generate(tree, { env, tree: async (n) => (await generatedApp(n)).tree });
  });
}

/**
 * A fresh copy of the app for the caller to change and remove: in `into` (created) or a new
 * temp directory; without node_modules (what a checkout holds) unless `nodeModules`.
 */
export async function appCopy(
  name: AppName,
  opts: { into?: string; nodeModules?: boolean } = {},
): Promise<string> {
  const { tree } = await generatedApp(name);
  const dest = opts.into ?? (await mkdtemp(join(tmpdir(), `distill-app-${name}-`)));
  await copyTree(tree, dest, { nodeModules: opts.nodeModules === true });
  return dest;
}

export interface HostApp {
  server: Server;
  base: string;
  /** Seconds the build commands took. */
  buildSeconds: number;
}

/**
 * Builds the app in `dir` (a copy with node_modules) and starts it on the host with its own
 * tooling, PORT set to a free port; resolves once it answers HTTP. Stop it with server.stop().
 */
export async function startOnHost(name: AppName, dir: string): Promise<HostApp> {
  const host = APPS[name].host;
  if (!host) throw new Error(`${name} does not run (${APPS[name].description})`);
  const env = await hostEnv(host.node, APPS[name].tools);
  let buildSeconds = 0;
  for (const cmd of host.build ?? []) buildSeconds += (await run(cmd, { cwd: dir, env })).seconds;
  const port = await freePort();
  const server = startServer(host.start, { cwd: dir, env: { ...env, ...host.env, PORT: String(port) } });
  const base = `http://127.0.0.1:${port}`;
  const first = APPS[name].checks[0]?.path;
  try {
    await waitForAnswer(base, typeof first === 'string' ? first : '/', {
      timeoutMs: 90_000,
      alive: () => {
        if (server.child.exitCode !== null) {
          throw new Error(`${host.start.join(' ')} exited ${server.child.exitCode}:\n${server.output()}`);
        }
      },
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { server, base, buildSeconds };
}

/** The files a builder could take as the entry point; the no-entry app must have none. */
export function entryCandidates(
  dir: string,
  pkg: { main?: string; scripts?: Record<string, string> },
): string[] {
  const found: string[] = [];
  if (pkg.scripts?.start !== undefined) found.push(`scripts.start (${pkg.scripts.start})`);
  if (pkg.main !== undefined) found.push(`main (${pkg.main})`);
  for (const f of ['index.js', 'server.js', 'dist', 'build/index.js'])
    if (existsSync(join(dir, f))) found.push(f);
  return found;
}
