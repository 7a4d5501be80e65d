import { DistillError } from '../errors.js';
import type { BinIndex } from '../sources/app/bins.js';
import type { AppDir } from '../sources/app/read.js';
import { chooseAdvice, entryMissing, entryOf, entryVariants } from './entry.js';
import type { FrameworkPlan } from './frameworks.js';
import { shellWords } from './words.js';

/**
 * What the image runs, decided before anything installs, in this order: `--cmd`,
 * `distill.cmd`, a framework's self-contained server (Next standalone, Nitro), scripts.start
 * when the image can run it (`node FILE`, or a bin of a production dependency), the framework's
 * command, `main`, then `server.js` or `index.js` when the app has one. Then its entry file must
 * be in the app (checked now when nothing could make it, after the build otherwise), and a bin
 * must come from a production dependency (from the lockfile); else the error lists the
 * candidates the app has.
 */
export type CmdChoice = (
  | { kind: 'args'; args: string[]; from: string }
  /** A dependency's bin, resolved to its file once node_modules is installed. */
  | { kind: 'bin'; bin: string; args: string[]; from: string }
) & {
  /** The file node runs (a bin's package for `bin`), and when it was checked. */
  entry?: { file: string; checked: string };
};

export interface CmdContext {
  /** Whether a path relative to the app directory is a file there. */
  exists?: (rel: string) => boolean;
  framework?: FrameworkPlan;
  /** Which dependency provides a bin, from the lockfile. */
  bins?: BinIndex;
  /** What could make files before the image is made (`the build script "build"`), if anything. */
  buildable?: string;
  /** The build script's name, when there is one (builder.ts chooseBuild). */
  buildScript?: string;
}

/**
 * `npm run S && SERVER` (also `npm run-script`, `pnpm [run]`, `yarn [run]`): a start script that
 * builds, then starts, as generators write them (fastify-cli: `npm run build:ts && fastify start
 * dist/app.js`). In an image the build has already run, at build time: S and SERVER apart.
 */
const PREP =
  /^\s*(?:npm\s+run(?:-script)?|pnpm(?:\s+run)?|yarn(?:\s+run)?)\s+([\w:.@/-]+)\s*&&\s*(\S[\s\S]*)$/;
export function startPrep(start: unknown): { script: string; server: string } | undefined {
  if (typeof start !== 'string') return undefined;
  const m = PREP.exec(start);
  if (!m || m[1] === 'start') return undefined;
  return { script: m[1]!, server: m[2]!.trim() };
}

// Commands that run another command, which the image has no shell or PATH entry for.
const PACKAGE_RUNNERS = new Set([
  'npm',
  'npx',
  'yarn',
  'pnpm',
  'pnpx',
  'bun',
  'corepack',
  'sh',
  'bash',
  'env',
  'cross-env',
]);

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** A word as a shell would take it back. */
const quoted = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`);

/**
 * The node part of a start script that needs a shell, for the advice: the last command of the
 * line (the one that keeps running), its variables (`NODE_OPTIONS=... node dist/app.js`, also
 * after `env` or `cross-env`) and node's arguments.
 */
export function nodePart(script: string): { args: string[]; env: string[] } | undefined {
  const words = shellWords(
    script
      .split(/&&|\|\||;/)
      .pop()!
      .trim(),
  );
  if (!words) return undefined;
  const env: string[] = [];
  let i = 0;
  const vars = () => {
    while (i < words.length && ASSIGNMENT.test(words[i]!)) env.push(words[i++]!);
  };
  vars();
  if (words[i] === 'env' || words[i] === 'cross-env') {
    i++;
    vars();
  }
  if ((words[i] === 'node' || words[i] === 'nodejs') && words.length > i + 1)
    return { args: words.slice(i + 1), env };
  return undefined;
}

/**
 * The error of a start script the image cannot run. `split`: the whole script, when `script` is
 * its server half (after `npm run S &&`, S being the build script): the message quotes both.
 */
function needsShell(script: string, why: string, buildScript?: string, split?: string): DistillError {
  const node = nodePart(script);
  const prep = split === undefined ? startPrep(script) : undefined;
  const fix = prep
    ? `it runs "${prep.script}" first, which is not the build script (${buildScript !== undefined ? `"${buildScript}"` : 'none'}): pass --build-script ${prep.script} to run it at build time and start with "${prep.server}"`
    : node
      ? `pass --cmd ${node.args.map(quoted).join(' ')}${node.env.map((e) => ` -e ${quoted(e)}`).join('')}, or set "distill": {"cmd": ${JSON.stringify(node.args)}} in package.json${node.env.length > 0 ? ' and pass the variables with -e' : ''}`
      : 'set "distill": {"cmd": ["FILE", ...]} in package.json, or pass --cmd FILE with the file your server starts from';
  return new DistillError(
    'APP_CMD_UNKNOWN',
    `scripts.start ("${split ?? script}")${split === undefined ? '' : `: ${serverHalf(script, buildScript)}`} ${why}, and the image has no shell or package manager to run it; ${fix}`,
  );
}

/** How an error names the server half of a split start script. */
const serverHalf = (server: string, script: string | undefined) =>
  `its server half ("${server}"; "${script}" runs at build time)`;

/** scripts.start as a command, or why the image cannot run it (`unusable`); throws when it needs a shell. */
function fromStart(
  start: string,
  ctx: CmdContext,
): { choice: CmdChoice } | { unusable: string; shell?: DistillError } {
  const prep = startPrep(start);
  if (prep !== undefined && prep.script === ctx.buildScript) {
    const r = fromStart(prep.server, ctx);
    if (!('choice' in r)) {
      return {
        unusable: `${serverHalf(prep.server, prep.script)} ${r.unusable}`,
        ...(r.shell && { shell: needsShell(prep.server, r.unusable, ctx.buildScript, start) }),
      };
    }
    const from = `${r.choice.from}, without "${prep.script}", which runs at build time`;
    return { choice: { ...r.choice, from } };
  }
  const words = shellWords(start.trim());
  const shell = (why: string) => ({ unusable: why, shell: needsShell(start, why, ctx.buildScript) });
  if (!words) return shell('needs a shell (operators, variables or quoting a shell would interpret)');
  if (words.length === 0) return shell('is empty');
  const [first, ...rest] = words as [string, ...string[]];
  const from = 'scripts.start in package.json';
  if (ASSIGNMENT.test(first))
    return shell(`sets an environment variable (${first}); pass it with -e instead`);
  if (first === 'node' || first === 'nodejs') {
    if (rest.length === 0) return shell('runs node without a script');
    return { choice: { kind: 'args', args: rest, from } };
  }
  if (PACKAGE_RUNNERS.has(first) || !/^[a-z0-9@][\w.@-]*$/i.test(first)) return shell(`runs ${first}`);
  const owner = ctx.bins?.owner(first);
  if (owner === undefined && ctx.bins !== undefined) {
    return {
      unusable: `runs ${first}, but no production dependency in ${ctx.bins.lockfile} provides a bin "${first}"`,
    };
  }
  if (owner !== undefined && owner !== 'unknown' && !owner.prod) {
    return {
      unusable: `runs ${first}, a bin of ${owner.pkg}, which is a dev dependency (${ctx.bins!.lockfile}): the image holds production dependencies only`,
    };
  }
  const entry =
    owner && owner !== 'unknown'
      ? {
          file: `the bin "${first}" of ${owner.pkg}`,
          checked: `a production dependency in ${ctx.bins!.lockfile}; its file is found after the install`,
        }
      : undefined;
  return { choice: { kind: 'bin', bin: first, args: rest, from, ...(entry && { entry }) } };
}

/** The framework's command, unless its bin is known not to be there. */
function fromFramework(fw: FrameworkPlan, ctx: CmdContext, skipped?: string): CmdChoice | string {
  const cmd = fw.cmd!;
  const from = `${fw.name} (${fw.from}): ${cmd.why}${skipped ? `; scripts.start ${skipped}` : ''}`;
  if (cmd.bin === undefined) return { kind: 'args', args: cmd.args, from };
  const owner = ctx.bins?.owner(cmd.bin);
  if (owner === undefined && ctx.bins !== undefined)
    return `no production dependency provides the bin ${cmd.bin}`;
  if (owner !== undefined && owner !== 'unknown' && !owner.prod) {
    return `${cmd.bin} comes from ${owner.pkg}, a dev dependency (${ctx.bins!.lockfile})`;
  }
  return { kind: 'bin', bin: cmd.bin, args: cmd.args, from };
}

function distillCmd(own: unknown): CmdChoice {
  const from = 'distill.cmd in package.json';
  if (Array.isArray(own) && own.length > 0 && own.every((x) => typeof x === 'string')) {
    return { kind: 'args', args: own, from };
  }
  const words = typeof own === 'string' ? shellWords(own) : undefined;
  if (!words || words.length === 0) {
    throw new DistillError(
      'APP_INVALID',
      'package.json: distill.cmd must be a list of arguments for node, e.g. ["server.js", "--port", "8080"]',
    );
  }
  return { kind: 'args', args: words[0] === 'node' ? words.slice(1) : words, from };
}

/** The command, before its entry is checked. */
function decide(app: AppDir, flag: string[] | undefined, ctx: CmdContext): CmdChoice {
  if (flag !== undefined && flag.length > 0) return { kind: 'args', args: flag, from: '--cmd' };
  const pkg = app.packageJson;
  if (pkg.distill?.cmd !== undefined) return distillCmd(pkg.distill.cmd);
  const fw = ctx.framework;
  const exists = ctx.exists ?? (() => false);
  const noEntry = (why: string, advice = fw?.advice) =>
    new DistillError(
      'APP_CMD_UNKNOWN',
      `${app.dir}: ${why}; ${advice ? `${advice}; or ` : ''}${chooseAdvice(pkg, exists, ctx.buildable)}`,
    );
  if (fw?.image === 'output' && fw.cmd) {
    const c = fromFramework(fw, ctx);
    if (typeof c === 'string') throw noEntry(c);
    return c;
  }
  const start = pkg.scripts?.start;
  let skipped: string | undefined;
  if (typeof start === 'string' && start.trim() !== '') {
    const r = fromStart(start, ctx);
    if ('choice' in r) return r.choice;
    if (!fw?.cmd) {
      if (r.shell) throw r.shell;
      throw noEntry(`scripts.start ("${start}") ${r.unusable}`);
    }
    skipped = `("${start}") ${r.unusable}`;
  }
  if (fw?.cmd) {
    const c = fromFramework(fw, ctx, skipped);
    if (typeof c === 'string') throw noEntry(`the ${fw.name} command cannot run: ${c}`);
    return c;
  }
  if (typeof pkg.main === 'string' && pkg.main.trim() !== '') {
    return { kind: 'args', args: [pkg.main.trim()], from: 'main in package.json' };
  }
  for (const [file, why] of [
    ['server.js', "npm start's default"],
    ['index.js', "node's default"],
  ] as const) {
    if (exists(file)) return { kind: 'args', args: [file], from: `${file} in the app (${why})` };
  }
  throw noEntry(
    `no entry point: no start script, no "main", no server.js or index.js${fw?.name !== undefined && fw.name !== 'node' ? `, and ${fw.name} (${fw.from}) builds no server` : ''}`,
  );
}

export function chooseCmd(app: AppDir, flag?: string[], ctx: CmdContext = {}): CmdChoice {
  const choice = decide(app, flag, ctx);
  if (choice.kind === 'bin' || choice.entry) return choice;
  const file = entryOf(choice.args);
  if (file === undefined) return choice;
  const exists = ctx.exists ?? (() => false);
  const found = entryVariants(file).find(exists);
  if (found !== undefined) return { ...choice, entry: { file: found, checked: 'in the app directory' } };
  const later =
    ctx.framework?.image === 'output'
      ? 'in the build output, after the build'
      : ctx.buildable && `after ${ctx.buildable}`;
  if (later !== undefined) return { ...choice, entry: { file, checked: later } };
  throw entryMissing(`the command (${choice.from})`, file, app.dir, app.packageJson, exists);
}
