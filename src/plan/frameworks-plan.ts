import { readBinIndex } from '../sources/app/bins.js';
import { fileChecker, readConfigFiles } from '../sources/app/configs.js';
import type { AppDir } from '../sources/app/read.js';
import type { AppPlan, AppRequest, PlannedLayer } from './app.js';
import { type CmdChoice, chooseCmd } from './command.js';
import { fastifyListen, fastifyStartOptions } from './fastify.js';
import { detectFramework, type FrameworkPlan } from './frameworks.js';

/**
 * planApp's framework half: what the app is built with (frameworks.ts), what the image runs
 * (command.ts, with the lockfile's bins and the app's files), and what that changes in the
 * plan: ports, environment, and the layers of a self-contained output.
 */

/** The app's lifecycle scripts that run during an install and may write files. */
const LIFECYCLE = ['preinstall', 'install', 'postinstall', 'prepare'];

/** What could make files before the image is made, in words; undefined: nothing. */
function buildable(app: AppDir, buildScript: string | undefined): string | undefined {
  if (buildScript !== undefined) return `the build script "${buildScript}"`;
  const s = LIFECYCLE.find((n) => typeof app.packageJson.scripts?.[n] === 'string');
  return s === undefined ? undefined : `scripts.${s}`;
}

/**
 * The framework, the command with its entry, the ports (the request's, else the framework's)
 * and the framework's environment (what the request does not set itself).
 */
export async function planCommand(opts: {
  root: AppDir;
  app: AppDir;
  /** The workspace package's directory relative to the root ('' for the root). */
  wsRel: string;
  buildScript: string | undefined;
  request: Pick<AppRequest, 'cmd' | 'ports' | 'env'>;
}): Promise<{ framework: FrameworkPlan; cmd: AppPlan['cmd']; ports: string[]; env: string[]; says: string }> {
  const { app, request } = opts;
  const detected = detectFramework({ pkg: app.packageJson, configs: await readConfigFiles(app.dir) });
  const bins = await readBinIndex(opts.root, app, opts.wsRel);
  const canBuild = buildable(app, opts.buildScript);
  const cmd = chooseCmd(app, request.cmd, {
    exists: fileChecker(app.dir),
    framework: detected,
    bins,
    ...(canBuild !== undefined && { buildable: canBuild }),
    ...(opts.buildScript !== undefined && { buildScript: opts.buildScript }),
  });
  const framework = listenOf(detected, cmd, request.env ?? []);
  const runs = `runs ${[...(cmd.kind === 'bin' ? [cmd.bin] : []), ...cmd.args].join(' ')} (${cmd.from})`;
  return {
    framework,
    // One line for the progress of planning.
    says:
      framework.name === 'node' || cmd.from.startsWith(framework.name)
        ? runs
        : `${framework.name} (${framework.from}); ${runs}`,
    cmd: {
      args: cmd.args,
      from: cmd.from,
      ...(cmd.kind === 'bin' && { bin: cmd.bin }),
      ...(cmd.entry && { entry: cmd.entry }),
    },
    ...frameworkConfig(framework, request),
  };
}

/**
 * fastify start's port and address again with the image's environment (`-e FASTIFY_PORT=8080`
 * moves it), when the image runs it: fastify-cli reads them when it starts (fastify.ts).
 */
function listenOf(framework: FrameworkPlan, cmd: CmdChoice, env: readonly string[]): FrameworkPlan {
  if (framework.name !== 'fastify' || cmd.kind !== 'bin') return framework;
  const opts = fastifyStartOptions([cmd.bin, ...cmd.args]);
  if (!opts) return framework;
  const { port: _port, env: _env, warnings: _warnings, ...rest } = framework;
  const listen = fastifyListen(opts, env);
  return {
    ...rest,
    ...(listen.port !== undefined && { port: Number(listen.port) }),
    ...(listen.env.length > 0 && { env: listen.env }),
    ...(listen.warnings.length > 0 && { warnings: listen.warnings }),
  };
}

/** The ports (the request's, else the framework's) and the framework's environment under the request's. */
export function frameworkConfig(
  framework: FrameworkPlan,
  request: { ports?: string[]; env?: string[] },
): { ports: string[]; env: string[] } {
  const ports =
    (request.ports ?? []).length > 0
      ? [...request.ports!]
      : framework.port !== undefined
        ? [String(framework.port)]
        : [];
  const set = new Set((request.env ?? []).map((e) => e.split('=')[0]));
  return { ports, env: (framework.env ?? []).filter((e) => !set.has(e.split('=')[0])) };
}

/**
 * The layers of a self-contained output (Next standalone, Nitro's .output): both are made from
 * the build output every build, node_modules from the dependencies the framework traced into
 * it, the app from the rest.
 */
export function outputLayers(layers: PlannedLayer[], framework: FrameworkPlan): PlannedLayer[] {
  if (framework.image !== 'output') return layers;
  const outputs = (framework.output ?? []).map((o) => o.from).join(', ');
  return layers.map((l) => {
    if (l.name === 'node_modules') {
      return {
        ...l,
        holds: `node_modules that ${framework.name}'s build traced into its output (${outputs})`,
        key: ['(made from the build output every build)'],
        createdBy: `distill build: node_modules (traced by ${framework.name})`,
      };
    }
    if (l.name === 'app') {
      return {
        ...l,
        holds: `${framework.name}'s build output: ${outputs}`,
        createdBy: `distill build: ${framework.name} output (${outputs})`,
      };
    }
    return l;
  });
}
