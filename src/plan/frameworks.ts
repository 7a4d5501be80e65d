import type { PackageJson } from '../sources/app/read.js';
import { startPrep } from './command.js';
import { fastifyListen, fastifyStartOptions } from './fastify.js';
import { shellWords } from './words.js';

/**
 * The web frameworks `distill build` knows: how each is detected (its packages in package.json,
 * its config file's text, read and never run), the command its production server runs with,
 * the port it listens on, the environment it needs in a container, and what the image holds:
 * the production node_modules with the app tree after the build (`app`), or only a
 * self-contained build output (`output`: Next's standalone server, Nitro's `.output`), which
 * carries the dependencies it needs. One entry per framework, tried in order; the first that
 * matches decides. planApp puts the result in the plan as `framework`, with `from` saying what
 * it was detected from; `--cmd` and `distill.cmd` still override the command.
 */
export type FrameworkName =
  | 'next'
  | 'nest'
  | 'nuxt'
  | 'nitro'
  | 'sveltekit'
  | 'react-router'
  | 'remix'
  | 'astro'
  | 'fastify'
  | 'node';

/** What a framework's production server runs: node with these arguments, after a bin's file when `bin` is set. */
export interface FrameworkCmd {
  args: string[];
  bin?: string;
  /** Why this command (for the plan's cmd.from). */
  why: string;
}

/** A path of the build output copied into the image: `from` (relative to the app directory after the build) to `to` (relative to the image's app directory). */
export interface OutputCopy {
  from: string;
  to: string;
  /** Absent in some apps (a Next app without public/): skipped then. */
  optional?: boolean;
  /** `to` is relative to the image's /app, not the workdir (Next's standalone tree holds a workspace's path). */
  root?: boolean;
}

export interface FrameworkPlan {
  name: FrameworkName;
  /** What it was detected from. */
  from: string;
  /** The command of its production server; absent when it builds none (say why in `advice`). */
  cmd?: FrameworkCmd;
  /** The port its server listens on by default (EXPOSE). */
  port?: number;
  /** Environment its server needs in a container (`HOSTNAME=0.0.0.0`). */
  env?: string[];
  /** `app`: production node_modules and the app tree; `output`: the build output only. */
  image: 'app' | 'output';
  /** With `output`: what goes where. */
  output?: OutputCopy[];
  /** What to do when the command cannot be used. */
  advice?: string;
  /** Findings about how the server will run in a container, with their fix (printed as warnings). */
  warnings?: string[];
}

/** What detection reads: the package's package.json and the config files beside it (name to text). */
export interface FrameworkInput {
  pkg: PackageJson;
  configs: Record<string, string>;
}

interface Framework {
  name: FrameworkName;
  detect(input: FrameworkInput, has: (dep: string) => string | undefined): FrameworkPlan | undefined;
}

/** The text of the first config file whose name starts with `stem.config.` (and its name). */
function config(input: FrameworkInput, stem: string): { name: string; text: string } | undefined {
  const name = Object.keys(input.configs)
    .sort()
    .find((n) => n.startsWith(`${stem}.config.`));
  return name === undefined ? undefined : { name, text: stripComments(input.configs[name]!) };
}

/**
 * Comments left out, so that a commented-out `// output: 'standalone'` does not count. A regex
 * over text is enough here: a setting is a literal in the config object, and what this misreads
 * (a `//` inside a string) only hides text after it on that line.
 */
export function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\])\/\/.*$/gm, '$1');
}

/** A string literal set for `key` in a config text (`output: "standalone"`), else undefined. */
function literal(text: string, key: string): string | undefined {
  return new RegExp(`\\b${key}\\s*:\\s*(['"\`])([^'"\`]*)\\1`).exec(text)?.[2];
}

const NEXT: Framework = {
  name: 'next',
  detect({ pkg, configs }, has) {
    const dep = has('next');
    if (dep === undefined) return undefined;
    const cfg = config({ pkg, configs }, 'next');
    if (cfg !== undefined && literal(cfg.text, 'output') === 'standalone') {
      return {
        name: 'next',
        from: `${dep}, output: "standalone" in ${cfg.name}`,
        cmd: {
          args: ['server.js'],
          why: "Next's standalone server (next start does not serve a standalone build)",
        },
        port: 3000,
        // server.js listens on $HOSTNAME, which Docker sets to the container's name.
        env: ['HOSTNAME=0.0.0.0', 'PORT=3000'],
        image: 'output',
        output: [
          { from: '.next/standalone', to: '.', root: true },
          { from: '.next/static', to: '.next/static' },
          { from: 'public', to: 'public', optional: true },
        ],
      };
    }
    return {
      name: 'next',
      from: dep,
      cmd: { args: ['start'], bin: 'next', why: 'next start' },
      port: 3000,
      image: 'app',
      advice: `"next" must be in "dependencies" for next start, or set output: "standalone" in next.config (then the image holds only Next's standalone server)`,
    };
  },
};

const NEST: Framework = {
  name: 'nest',
  detect({ pkg, configs }, has) {
    const dep = has('@nestjs/core');
    if (dep === undefined) return undefined;
    const prod = pkg.scripts?.['start:prod'];
    const words = typeof prod === 'string' ? shellWords(prod.trim()) : undefined;
    let cmd: FrameworkCmd;
    if (words && words.length > 1 && (words[0] === 'node' || words[0] === 'nodejs')) {
      cmd = { args: words.slice(1), why: `scripts["start:prod"] (${prod})` };
    } else {
      // nest build writes dist/<entryFile> (nest-cli.json, default main).
      let entry = 'main';
      try {
        const cli = JSON.parse(configs['nest-cli.json'] ?? '{}') as { entryFile?: unknown };
        if (typeof cli.entryFile === 'string' && /^[\w./-]+$/.test(cli.entryFile)) entry = cli.entryFile;
      } catch {
        // not JSON: nest itself would refuse it; the default stands
      }
      cmd = { args: [`dist/${entry}`], why: `nest build's output (dist/${entry}.js)` };
    }
    return { name: 'nest', from: dep, cmd, port: 3000, image: 'app' };
  },
};

/** Nuxt and Nitro: a self-contained `.output` (server, its traced node_modules, public assets). */
function nitroLike(name: 'nuxt' | 'nitro', deps: string[]): Framework {
  return {
    name,
    detect(_input, has) {
      const dep = deps.map(has).find((d) => d !== undefined);
      if (dep === undefined) return undefined;
      return {
        name,
        from: dep,
        cmd: { args: ['.output/server/index.mjs'], why: "Nitro's node-server output" },
        port: 3000,
        image: 'output',
        output: [{ from: '.output', to: '.output' }],
      };
    },
  };
}

const SVELTEKIT: Framework = {
  name: 'sveltekit',
  detect(input, has) {
    const dep = has('@sveltejs/kit');
    if (dep === undefined) return undefined;
    const adapter = has('@sveltejs/adapter-node');
    if (adapter === undefined) {
      return {
        name: 'sveltekit',
        from: dep,
        image: 'app',
        advice:
          'SvelteKit runs as a Node server with @sveltejs/adapter-node: add it to the dependencies and to svelte.config.js',
      };
    }
    const cfg = config(input, 'svelte');
    const out = (cfg && literal(cfg.text, 'out')) || 'build';
    return {
      name: 'sveltekit',
      from: `${dep} with ${adapter}`,
      cmd: { args: [`${out.replace(/\/+$/, '')}/index.js`], why: "adapter-node's server" },
      port: 3000,
      image: 'app',
    };
  },
};

const REACT_ROUTER: Framework = {
  name: 'react-router',
  detect(_input, has) {
    const dep = has('@react-router/serve');
    if (dep === undefined) return undefined;
    return {
      name: 'react-router',
      from: dep,
      cmd: {
        args: ['./build/server/index.js'],
        bin: 'react-router-serve',
        why: 'react-router-serve of the server build',
      },
      port: 3000,
      image: 'app',
    };
  },
};

const REMIX: Framework = {
  name: 'remix',
  detect(input, has) {
    const dep = has('@remix-run/serve');
    if (dep === undefined) return undefined;
    // Remix on Vite builds build/server/index.js; the classic compiler build/index.js.
    const vite = config(input, 'vite');
    const build =
      vite && /vitePlugin|@remix-run\/dev/.test(vite.text) ? './build/server/index.js' : './build/index.js';
    return {
      name: 'remix',
      from: dep,
      cmd: { args: [build], bin: 'remix-serve', why: 'remix-serve of the server build' },
      port: 3000,
      image: 'app',
    };
  },
};

const ASTRO: Framework = {
  name: 'astro',
  detect(input, has) {
    const dep = has('astro');
    if (dep === undefined) return undefined;
    const adapter = has('@astrojs/node');
    const cfg = config(input, 'astro');
    if (adapter === undefined || (cfg && literal(cfg.text, 'mode') === 'middleware')) {
      return {
        name: 'astro',
        from: dep,
        image: 'app',
        advice:
          adapter === undefined
            ? 'Astro serves pages from Node with @astrojs/node in standalone mode: add it (npx astro add node), or serve dist/ with a static server'
            : `@astrojs/node in middleware mode builds no server; set mode: "standalone" in ${cfg?.name ?? 'astro.config'}, or pass --cmd with your own server`,
      };
    }
    return {
      name: 'astro',
      from: `${dep} with ${adapter}`,
      cmd: { args: ['dist/server/entry.mjs'], why: "@astrojs/node's standalone server" },
      port: 4321,
      // It listens on localhost unless HOST says otherwise.
      env: ['HOST=0.0.0.0'],
      image: 'app',
    };
  },
};

/**
 * fastify-cli's `fastify start FILE` as scripts.start (or its server half, after `npm run
 * build:ts &&`), as `npx fastify-cli generate` writes it: the start script is the command;
 * fastify.ts reads its port and address the way fastify-cli does.
 */
const FASTIFY: Framework = {
  name: 'fastify',
  detect({ pkg }, has) {
    const dep = has('fastify-cli');
    const start = pkg.scripts?.start;
    if (dep === undefined || typeof start !== 'string') return undefined;
    const words = shellWords((startPrep(start)?.server ?? start).trim());
    const opts = words && fastifyStartOptions(words);
    if (!opts) return undefined;
    const listen = fastifyListen(opts, []);
    return {
      name: 'fastify',
      from: `${dep}, fastify start in scripts.start`,
      ...(listen.port !== undefined && { port: Number(listen.port) }),
      ...(listen.env.length > 0 && { env: listen.env }),
      ...(listen.warnings.length > 0 && { warnings: listen.warnings }),
      image: 'app',
      advice: '"fastify-cli" must be in "dependencies" for fastify start to run in the image',
    };
  },
};

/** In order: the first that matches decides (Nuxt before Nitro, which Nuxt depends on). */
export const FRAMEWORKS: readonly Framework[] = [
  NEXT,
  nitroLike('nuxt', ['nuxt']),
  nitroLike('nitro', ['nitropack', 'nitro']),
  SVELTEKIT,
  REACT_ROUTER,
  REMIX,
  ASTRO,
  NEST,
  FASTIFY,
];

/** The framework of an app, or `node` (a plain server) when none matches. */
export function detectFramework(input: FrameworkInput): FrameworkPlan {
  const { pkg } = input;
  const has = (dep: string): string | undefined => {
    for (const field of ['dependencies', 'devDependencies'] as const) {
      const deps = pkg[field];
      if (deps && typeof deps === 'object' && typeof deps[dep] === 'string') return `${dep} in ${field}`;
    }
    return undefined;
  };
  for (const f of FRAMEWORKS) {
    const found = f.detect(input, has);
    if (found) return found;
  }
  return { name: 'node', from: 'no framework among the dependencies', image: 'app' };
}
