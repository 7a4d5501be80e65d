/**
 * bench/start: how fast distill starts from a source checkout (issue 12 point 7), beside the
 * packed package installed the way users install it. On a clone of this repository's HEAD in a
 * temporary directory:
 *
 *   (a) `npm ci`, then the README's first command, `npx distill build examples/hello`, timed from
 *       its start to its first line of output (target: under 3 s), then stopped with SIGINT (the
 *       rest is a cold build, which bench/build measures). Then again after one source file is
 *       touched: the first command after an edit pays the bundle's rebuild.
 *   (b) a warm build of examples/hello (one line of index.js changed before each run, everything
 *       else cached) from the source checkout (`node bin/distill.js`) and from `npm pack`'s
 *       tarball installed with `npm install -g --prefix` (its `bin/distill`), alternating run by
 *       run on the same cache; target: the checkout costs no more. Both run through node directly:
 *       npx's own start is npm's, not distill's.
 *
 *   npm run bench:start          # RUNS=5 by default; KEEP=1 keeps the temporary directory
 */
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machine, median, timeCommand, writeBenchBlock } from '../lib.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const RUNS = Number(process.env.RUNS ?? '5');

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): number {
  const t0 = performance.now();
  process.stderr.write(`bench/start: ${cmd} ${args.join(' ')}\n`);
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
  return (performance.now() - t0) / 1000;
}

/** Seconds from spawning a command to its first byte of output, and that first line; then SIGINT to its process group. */
function firstLine(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ s: number; line: string }> {
  const t0 = performance.now();
  const p = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let got: { s: number; line: string } | undefined;
    const on = (d: Buffer) => {
      if (got) return;
      got = { s: (performance.now() - t0) / 1000, line: d.toString().split('\n')[0] ?? '' };
      process.kill(-p.pid!, 'SIGINT');
      const hard = setTimeout(() => process.kill(-p.pid!, 'SIGKILL'), 30_000);
      p.on('close', () => clearTimeout(hard));
    };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.on('error', reject);
    p.on('close', (code) =>
      got ? resolve(got) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code} silently`)),
    );
  });
}

interface FirstLines {
  npmCi: number;
  freshAfterCi: boolean;
  first: { s: number; line: string };
  again: number[];
  edited: number[];
  /** `distill --version` through tsx (DISTILL_USE_SOURCE=1): every command's start before the bundle ran. */
  tsx: number[];
}

/** (a) npm ci in the clone, then the README's first command: the first time, later, and after an edit. */
async function firstLines(clone: string, scratch: string): Promise<FirstLines> {
  const npmCi = sh('npm', ['ci', '--no-audit', '--no-fund'], clone);
  let freshAfterCi = true;
  try {
    execFileSync(process.execPath, ['scripts/bundle.mjs', '--check'], { cwd: clone });
  } catch {
    freshAfterCi = false;
  }
  const npx = (cache: string) =>
    firstLine('npx', ['distill', 'build', 'examples/hello'], clone, { DISTILL_CACHE: join(scratch, cache) });
  const first = await npx('cache-a1');
  const again: number[] = [];
  for (let i = 0; i < RUNS; i++) again.push((await npx(`cache-a${i + 2}`)).s);
  const edited: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const now = new Date();
    utimesSync(join(clone, 'src', 'cli', 'main.ts'), now, now);
    edited.push((await npx(`cache-e${i}`)).s);
  }
  const tsx: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const bin = join(clone, 'bin', 'distill.js');
    const m = timeCommand(process.execPath, [bin, '--version'], { DISTILL_USE_SOURCE: '1' });
    if (i > 0) tsx.push(m.wall); // the first compiles every module into tsx's cache
  }
  return { npmCi, freshAfterCi, first, again, edited, tsx };
}

type Tool = 'checkout' | 'installed';
type PerTool = Record<Tool, number[]>;

/** (b) Warm builds from the checkout and from the packed package installed, alternating on one cache. */
function warmBuilds(clone: string, scratch: string): { walls: PerTool; rss: PerTool; version: PerTool } {
  sh('npm', ['pack', '--pack-destination', scratch], clone);
  const tgz = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack left no tarball in ${scratch}`);
  const prefix = join(scratch, 'prefix');
  sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(scratch, tgz)], scratch);
  const bins: Record<Tool, string> = {
    checkout: join(clone, 'bin', 'distill.js'),
    installed: join(prefix, 'lib', 'node_modules', 'distill', 'bin', 'distill.js'),
  };
  const env = { DISTILL_CACHE: join(scratch, 'cache-b') };
  const app = (tool: Tool) => join(scratch, `hello-${tool}`);
  for (const tool of ['checkout', 'installed'] as const) {
    cpSync(join(clone, 'examples', 'hello'), app(tool), { recursive: true });
  }
  const walls: PerTool = { checkout: [], installed: [] };
  const rss: PerTool = { checkout: [], installed: [] };
  const version: PerTool = { checkout: [], installed: [] };
  for (let round = 0; round <= RUNS; round++) {
    const order: Tool[] = round % 2 ? ['checkout', 'installed'] : ['installed', 'checkout'];
    for (const tool of order) {
      appendFileSync(join(app(tool), 'index.js'), `// round ${round}\n`);
      const m = timeCommand(process.execPath, [bins[tool], 'build', app(tool)], env);
      const v = timeCommand(process.execPath, [bins[tool], '--version']);
      if (round === 0) continue; // round 0 warms the cache (a cold build) and is not counted
      walls[tool].push(m.wall);
      rss[tool].push(m.rssKb);
      version[tool].push(v.wall);
    }
  }
  return { walls, rss, version };
}

function report(a: FirstLines, b: ReturnType<typeof warmBuilds>, load: string[], head: string): string {
  const { first, again, edited } = a;
  const { walls, rss, version } = b;
  const f = (n: number) => n.toFixed(2);
  const cell = (xs: number[]) => `${f(median(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]`;
  const paired = median(walls.checkout.map((w, i) => w / walls.installed[i]!));
  return [
    '<!-- bench:start:start -->',
    '## bench/start: starting from a source checkout',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}, load average ${load.join(', ')} at the start (a machine shared with other engineers' work); a \`git clone\` of ${head} in a temporary directory, \`npm ci\` (${f(a.npmCi)} s; it leaves the bundle ${a.freshAfterCi ? 'fresh' : 'STALE'}). Seconds, median of ${RUNS} runs [min-max] unless one run.`,
    '',
    '| what | seconds |',
    '|---|---:|',
    `| \`npx distill build examples/hello\`, first run after \`npm ci\`: to its first output line | ${f(first.s)} |`,
    `| the same, later runs (each with an empty cache) | ${cell(again)} |`,
    `| the same after touching src/cli/main.ts (the bundle is rebuilt first) | ${cell(edited)} |`,
    `| warm build of examples/hello from the checkout (\`node bin/distill.js build\`) | ${cell(walls.checkout)} |`,
    `| warm build from the installed package (\`npm install -g --prefix\` of \`npm pack\`) | ${cell(walls.installed)} |`,
    `| \`distill --version\` from the checkout / installed | ${f(median(version.checkout))} / ${f(median(version.installed))} |`,
    `| \`distill --version\` from the checkout through tsx (DISTILL_USE_SOURCE=1: the route every command took before) | ${cell(a.tsx)} |`,
    '',
    `First line: \`${first.line.trim()}\`. Warm builds alternate (the installed package first in even rounds) after one cold build each on a shared cache, one line of index.js changed before each; peak RSS ${(median(rss.checkout) / 1024).toFixed(0)} MB from the checkout, ${(median(rss.installed) / 1024).toFixed(0)} MB installed.`,
    '',
    `- first output line ${f(first.s)} s (target under 3 s) ${first.s < 3 ? 'met' : 'NOT met'}`,
    `- warm build from the checkout: ${f(paired)}x the installed package's, paired by round (target at most 1x) ${paired <= 1 ? 'met' : paired <= 1.05 ? 'NOT met by under 5 %, within this machine’s run-to-run noise' : 'NOT met'}`,
    '<!-- bench:start:end -->',
  ].join('\n');
}

async function main(): Promise<void> {
  const load = loadavg().map((l) => l.toFixed(1));
  const scratch = mkdtempSync(join(tmpdir(), 'distill-bench-start-'));
  const clone = join(scratch, 'clone');
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  try {
    sh('git', ['clone', '--quiet', '--no-hardlinks', root, clone], scratch);
    const block = report(await firstLines(clone, scratch), warmBuilds(clone, scratch), load, head);
    writeBenchBlock(root, 'start', block);
    process.stdout.write(`${block}\n`);
  } finally {
    if (process.env.KEEP === '1') process.stderr.write(`bench/start: kept ${scratch}\n`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
