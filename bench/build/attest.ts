/**
 * bench/build/attest.ts: what `--attest sbom,provenance` adds to a warm build of the peers
 * harness's medium app (issue 16: at most 10 %).
 *
 * This checkout is packed (`npm pack`, which runs the bundle step) and installed with `npm install
 * -g --prefix`, the way users install it, as bench/versions does. The app is the shared peers
 * harness's medium (../shared/peers, or PEERS_DIR), one copy and one cache per variant. Each variant
 * builds once untimed (the Debian packages, the Node release, the base layers), then rounds
 * alternate the two run by run (the plain build first in odd rounds; round 0 is an unmeasured
 * warm-up), one line of index.js changed before each build. Output: an OCI layout, where the
 * attestations are stored as referrers beside the image.
 *
 * Each variant has its own TMPDIR too: on Node 20 distill runs with V8's code cache kept there
 * (bin/code-cache.js, decision 0030), one file per command, written by whichever build found none.
 * Shared, the plain variant's warm build wrote it (the cold first build's is replaced), and every
 * attested build then compiled the attest path lazily: about 10 ms of CPU a build that a user who
 * always builds with --attest does not pay (decision 0043). CPU time (user + system) is reported
 * beside wall time: on a shared machine it is the steadier of the two.
 *
 *   npm run bench:attest              # RUNS=5 APP=medium
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, median, packAndInstall, timeCommand, writeBenchBlock } from '../lib.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const peers = process.env.PEERS_DIR ?? join(root, '..', 'shared', 'peers');
const RUNS = Number(process.env.RUNS ?? '5');
const APP = process.env.APP ?? 'medium';
/** The Node the harness's apps are built with (its lib.sh). */
const NODE = process.env.NODE_VERSION ?? '24.21.0';
const VARIANTS = { plain: [] as string[], attest: ['--attest', 'sbom,provenance'] };
type Variant = keyof typeof VARIANTS;

/** The referrers the attest variant left in its layout: its check that it did attach something. */
function attached(layout: string): number {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { artifactType?: string }[];
  };
  return index.manifests.filter((m) => m.artifactType).length;
}

function report(
  walls: Record<Variant, number[]>,
  cpus: Record<Variant, number[]>,
  rss: Record<Variant, number[]>,
  refs: number,
  load: string[],
) {
  const f = (n: number) => (n * 1000).toFixed(0);
  const cell = (xs: number[]) => `${f(median(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]`;
  const ratio = median(walls.attest.map((w, i) => w / walls.plain[i]!));
  const cpuRatio = median(cpus.attest.map((c, i) => c / cpus.plain[i]!));
  const mb = (xs: number[]) => (median(xs) / 1024).toFixed(0);
  const verdict = ratio <= 1.1 ? 'within the 10 % target' : 'NOT within the 10 % target';
  return [
    '<!-- bench:attest:start -->',
    '## bench/build/attest: `--attest sbom,provenance` on a warm build',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}, a machine shared with other sessions (load average ${load.join(', ')} at the start). ` +
      `This checkout packed and installed as users install it; the peers harness's ${APP} app, Node ${NODE}, output an OCI layout (the attest variant stored ${refs} referrers beside its image). ` +
      `Each variant has its own copy of the app, its own cache and its own TMPDIR (Node 20's code cache of distill); one line of index.js changes before every build. Milliseconds, median of ${RUNS} rounds [min-max] after a warm-up round, the two alternating run by run; the ratio is the median of the per-round ratios.`,
    '',
    '| app | plain ms | --attest sbom,provenance ms | attest / plain | peak RSS MB plain / attest |',
    '|---|---:|---:|---:|---:|',
    `| ${APP} | ${cell(walls.plain)} | ${cell(walls.attest)} | ${ratio.toFixed(2)} | ${mb(rss.plain)} / ${mb(rss.attest)} |`,
    '',
    `- ${APP} warm: attesting costs ${((ratio - 1) * 100).toFixed(1)} %, ${verdict}`,
    `- CPU (user + system) per build: plain ${cell(cpus.plain)} ms, attested ${cell(cpus.attest)} ms, ratio ${cpuRatio.toFixed(2)}`,
    '<!-- bench:attest:end -->',
  ].join('\n');
}

function main(): void {
  const load = loadavg().map((l) => l.toFixed(1));
  const scratch = mkdtempSync(join(tmpdir(), 'distill-bench-attest-'));
  try {
    const bin = packAndInstall(root, scratch, 'now', 'bench/attest');
    const appDir = (v: Variant) => join(scratch, `app-${v}`);
    const layout = (v: Variant) => join(scratch, `out-${v}`);
    const build = (v: Variant) =>
      timeCommand(
        process.execPath,
        [bin, 'build', appDir(v), '-q', '--node', NODE, ...VARIANTS[v], '-o', `oci:${layout(v)}:latest`],
        { DISTILL_CACHE: join(scratch, `cache-${v}`), TMPDIR: join(scratch, `tmp-${v}`) },
      );
    for (const v of ['plain', 'attest'] as const) {
      mkdirSync(join(scratch, `tmp-${v}`));
      cpSync(join(peers, 'apps', APP), appDir(v), { recursive: true });
      build(v); // the base material, untimed
    }
    const refs = attached(layout('attest'));
    if (refs === 0) throw new Error('the --attest build stored no referrer in its layout');
    const walls: Record<Variant, number[]> = { plain: [], attest: [] };
    const rss: Record<Variant, number[]> = { plain: [], attest: [] };
    const cpus: Record<Variant, number[]> = { plain: [], attest: [] };
    for (let round = 0; round <= RUNS; round++) {
      const order: Variant[] = round % 2 ? ['plain', 'attest'] : ['attest', 'plain'];
      for (const v of order) {
        appendFileSync(join(appDir(v), 'index.js'), `// round ${round}\n`);
        const m = build(v);
        process.stderr.write(
          `bench/attest: round ${round} ${v} ${(m.elapsed * 1000).toFixed(0)} ms, CPU ${(m.cpu * 1000).toFixed(0)} ms\n`,
        );
        if (round === 0) continue;
        walls[v].push(m.elapsed);
        cpus[v].push(m.cpu);
        rss[v].push(m.rssKb);
      }
    }
    const block = report(walls, cpus, rss, attached(layout('attest')), load);
    writeBenchBlock(root, 'attest', block);
    process.stdout.write(`${block}\n`);
  } finally {
    if (process.env.KEEP === '1') process.stderr.write(`bench/attest: kept ${scratch}\n`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

main();
