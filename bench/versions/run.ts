/**
 * bench/versions: this checkout's distill beside an earlier one, on the same builds in the same
 * run, so that "no slower than before" (issue 14) is a figure and not a memory: the ratios of
 * bench/build move with docker's and the npm registry's speed, a paired A/B on one machine does not.
 *
 * Each version is packed (`npm pack`, which runs the bundle step) and installed with
 * `npm install -g --prefix`, the way users install it; the earlier one from a `git worktree` of
 * REF after `npm ci`. The apps are the shared peers harness's hello and medium (../shared/peers,
 * or PEERS_DIR), one copy and one cache per version. Each version builds each app once untimed
 * (the Debian packages, the Node release, the base layers), then rounds alternate the two versions
 * run by run (the earlier one first in odd rounds; round 0 is an unmeasured warm-up):
 *   warm: one line of index.js changed before each build;
 *   cold: the node_modules records, kept full installs and package-manager cache removed first
 *         (npm downloads every package again), as bench/build's cold case.
 * Output: an OCI layout (the build and the store's work, no registry in the way).
 *
 *   npm run bench:versions -- REF          # RUNS=6 APP_LIST="hello medium" MODES="warm cold"
 *   KEEP=1 npm run bench:versions -- REF   # keep the scratch directory
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, median, packAndInstall, timeCommand, writeBenchBlock } from '../lib.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const peers = process.env.PEERS_DIR ?? join(root, '..', 'shared', 'peers');
const RUNS = Number(process.env.RUNS ?? '6');
const APPS = (process.env.APP_LIST ?? 'hello medium').split(/\s+/).filter(Boolean);
const MODES = (process.env.MODES ?? 'warm cold').split(/\s+/).filter(Boolean);
/** The Node the harness's apps are built with (its lib.sh). */
const NODE = process.env.NODE_VERSION ?? '24.21.0';

type Version = 'before' | 'now';

function sh(cmd: string, args: string[], cwd: string): string {
  process.stderr.write(`bench/versions: ${cmd} ${args.join(' ')}\n`);
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Removes what bench/build's cold case removes: the node_modules records, kept installs, npm's cache. */
function coldPrep(cache: string): void {
  rmSync(join(cache, 'pm-cache'), { recursive: true, force: true });
  rmSync(join(cache, 'trees'), { recursive: true, force: true });
  const meta = join(cache, 'meta');
  if (!existsSync(meta)) return;
  const kinds = new Set(['node-modules', 'dev-install', 'dev-install-app']);
  for (const f of readdirSync(meta, { recursive: true, withFileTypes: true })) {
    if (!f.isFile()) continue;
    const path = join(f.parentPath, f.name);
    let rec: { kind?: string; key?: string };
    try {
      rec = JSON.parse(readFileSync(path, 'utf8')) as typeof rec;
    } catch {
      continue;
    }
    if (kinds.has(rec.kind ?? '') || (rec.key ?? '').startsWith('app-node-modules:')) rmSync(path);
  }
}

interface Case {
  app: string;
  mode: string;
  walls: Record<Version, number[]>;
  cpus: Record<Version, number[]>;
  rss: Record<Version, number[]>;
}

function report(cases: Case[], ref: string, refSha: string, head: string, load: string[]): string {
  const f = (n: number) => (n * 1000).toFixed(0);
  const cell = (xs: number[]) => `${f(median(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]`;
  const lines = [
    '<!-- bench:versions:start -->',
    '## bench/versions: this distill beside an earlier one',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}, load average ${load.join(', ')} at the start. Before: ${ref} (${refSha}); now: ${head}. Each packed and installed into its own prefix, own cache, own copy of the peers harness's apps, Node ${NODE}, output an OCI layout. Milliseconds, median of ${RUNS} rounds [min-max] after a warm-up round, the two versions alternating run by run; the ratio is the median of the per-round ratios (now / before). CPU: user and system time of the build and its children (/usr/bin/time, 10 ms steps), Node ${process.version} running distill.`,
    '',
    '| app | case | before ms | now ms | now / before | CPU ms before / now | CPU now / before | peak RSS MB before / now |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const verdicts: string[] = [];
  const ratioOf = (xs: Record<Version, number[]>) => median(xs.now.map((w, i) => w / xs.before[i]!));
  const verdict = (r: number) => (r <= 1 ? 'no slower' : r <= 1.05 ? 'slower by under 5 %' : 'SLOWER');
  for (const c of cases) {
    const ratio = ratioOf(c.walls);
    const cpu = ratioOf(c.cpus);
    const mb = (xs: number[]) => (median(xs) / 1024).toFixed(0);
    lines.push(
      `| ${c.app} | ${c.mode} | ${cell(c.walls.before)} | ${cell(c.walls.now)} | ${ratio.toFixed(2)} | ${f(median(c.cpus.before))} / ${f(median(c.cpus.now))} | ${cpu.toFixed(2)} | ${mb(c.rss.before)} / ${mb(c.rss.now)} |`,
    );
    verdicts.push(
      `- ${c.app} ${c.mode}: ${ratio.toFixed(2)}x before, ${verdict(ratio)}; CPU ${cpu.toFixed(2)}x, ${verdict(cpu)}`,
    );
  }
  lines.push('', ...verdicts, '<!-- bench:versions:end -->');
  return lines.join('\n');
}

function main(): void {
  const ref = process.argv[2];
  if (!ref) throw new Error('usage: npm run bench:versions -- REF (a commit, tag or branch to compare with)');
  const load = loadavg().map((l) => l.toFixed(1));
  const git = (...args: string[]) => sh('git', args, root).trim();
  const refSha = git('rev-parse', '--short', `${ref}^{commit}`);
  const head = git('rev-parse', '--short', 'HEAD');
  if (git('status', '--porcelain', '--untracked-files=no') !== '') {
    process.stderr.write('bench/versions: the checkout has uncommitted changes; "now" includes them\n');
  }
  const scratch = mkdtempSync(join(tmpdir(), 'distill-bench-versions-'));
  const worktree = join(scratch, 'before');
  try {
    git('worktree', 'add', '--detach', worktree, refSha);
    sh('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], worktree);
    const bins: Record<Version, string> = {
      before: packAndInstall(worktree, scratch, 'before', 'bench/versions'),
      now: packAndInstall(root, scratch, 'now', 'bench/versions'),
    };
    const cache = (v: Version) => join(scratch, `cache-${v}`);
    const appDir = (v: Version, app: string) => join(scratch, `apps-${v}`, app);
    const build = (v: Version, app: string) =>
      timeCommand(
        process.execPath,
        [
          bins[v],
          'build',
          appDir(v, app),
          '-q',
          '--node',
          NODE,
          '-o',
          `oci:${join(scratch, `out-${v}`, app)}`,
        ],
        { DISTILL_CACHE: cache(v) },
      );
    for (const v of ['before', 'now'] as const) {
      for (const app of APPS) {
        cpSync(join(peers, 'apps', app), appDir(v, app), { recursive: true });
        build(v, app); // the base material, untimed
      }
    }
    const cases: Case[] = [];
    for (const app of APPS) {
      for (const mode of MODES) {
        const c: Case = {
          app,
          mode,
          walls: { before: [], now: [] },
          cpus: { before: [], now: [] },
          rss: { before: [], now: [] },
        };
        for (let round = 0; round <= RUNS; round++) {
          const order: Version[] = round % 2 ? ['before', 'now'] : ['now', 'before'];
          for (const v of order) {
            if (mode === 'cold') coldPrep(cache(v));
            else appendFileSync(join(appDir(v, app), 'index.js'), `// round ${round}\n`);
            const m = build(v, app);
            if (round === 0) continue;
            c.walls[v].push(m.elapsed);
            c.cpus[v].push(m.cpu);
            c.rss[v].push(m.rssKb);
          }
        }
        cases.push(c);
      }
    }
    const block = report(cases, ref, refSha, head, load);
    writeBenchBlock(root, 'versions', block);
    process.stdout.write(`${block}\n`);
  } finally {
    git('worktree', 'remove', '--force', worktree);
    if (process.env.KEEP === '1') process.stderr.write(`bench/versions: kept ${scratch}\n`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

main();
