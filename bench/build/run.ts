/**
 * bench/build: `distill build` beside `docker build` of the classic multi-stage Dockerfile, in
 * the same run, through the shared peers harness (../shared/peers, or PEERS_DIR; copied to
 * $SCRATCH/harness with distill's script added, since the shared folder is read-only): the same two
 * apps, the same Node, docker's base images made from the same Debian release. The harness
 * times every case with /usr/bin/time (median of RUNS after a warm-up) and measures the images;
 * this script builds dist/, runs the docker and distill cases, and writes the figures into
 * docs/BENCHMARKS.md between the bench:build markers.
 *
 *   npm run bench:build                 # RUNS=5 APP_LIST="hello medium" by default
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from '../lib.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const shared = process.env.PEERS_DIR ?? join(root, '..', 'shared', 'peers');
const scratch = process.env.SCRATCH ?? '/tmp/peers';
const results = join(scratch, 'results');
/** A writable copy of the shared harness with distill added (the shared folder is read-only). */
const peers = join(scratch, 'harness');

/**
 * Copies the shared harness and adds distill the way its README says a tool is added: a
 * 3N-bench script (kept in bench/build/peers/) and a block in 40-inspect.sh that brings the
 * image into dockerd and measures it like containerify's.
 */
async function harness(): Promise<void> {
  await rm(peers, { recursive: true, force: true });
  await cp(shared, peers, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', peers]);
  await cp(join(root, 'bench/build/peers/33-bench-distill.sh'), join(peers, '33-bench-distill.sh'));
  const inspect = join(peers, '40-inspect.sh');
  const text = await readFile(inspect, 'utf8');
  const anchor = '\ndone\ncolumn -t';
  if (!text.includes(anchor))
    throw new Error(`${join(shared, '40-inspect.sh')} changed: no "done / column -t" to add distill before`);
  const block = [
    '',
    '  if skopeo inspect --tls-verify=false --raw "docker://$REG/peers/distill-$app:latest" >/dev/null 2>&1; then',
    '    skopeo copy -q --src-tls-verify=false "docker://$REG/peers/distill-$app:latest" \\',
    '      "docker-daemon:peers/distill-$app:latest" >/dev/null',
    '    row distill "$app" "peers/distill-$app:latest" "$(manifest_gz_sum "peers/distill-$app:latest")"',
    '  fi',
  ].join('\n');
  await writeFile(inspect, text.replace(anchor, `${block}${anchor}`));
}

function run(script: string, env: NodeJS.ProcessEnv = {}): void {
  process.stderr.write(`bench/build: ${script}\n`);
  execFileSync('bash', [join(peers, script)], {
    cwd: peers,
    stdio: 'inherit',
    env: { ...process.env, DISTILL_REPO: root, ...env },
  });
}

function tsv(name: string): string[][] {
  const p = join(results, name);
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

async function main(): Promise<void> {
  if (!existsSync(join(shared, '30-bench-docker.sh'))) {
    throw new Error(`no peers harness at ${shared}; set PEERS_DIR`);
  }
  await harness();
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const apps = process.env.APP_LIST ?? 'hello medium';
  const env = { APP_LIST: apps, RUNS: process.env.RUNS ?? '5' };
  run('00-setup.sh');
  run('10-base-images.sh');
  // docker and distill case by case (app and mode), so that each pair is timed close together on
  // a shared machine; each case replaces its own earlier rows.
  for (const app of apps.split(/\s+/).filter(Boolean)) {
    for (const mode of ['cold', 'warm']) {
      run('30-bench-docker.sh', { ...env, APP_LIST: app, MODES: mode });
      run('33-bench-distill.sh', { ...env, APP_LIST: app, MODES: mode });
    }
  }
  run('40-inspect.sh', env);

  // tool app mode n wall_med wall_min wall_max cpu_med cpu_min cpu_max maxrss_kb_med
  const summary = tsv('summary.tsv').filter((r) => r.length >= 11);
  const get = (tool: string, app: string, mode: string) =>
    summary.find((r) => r[0] === tool && r[1] === app && r[2] === mode);
  const images = tsv('images.tsv');
  const header = images[0] ?? [];
  const image = (tool: string, app: string) => {
    const row = images.slice(1).find((r) => r[0] === tool && r[1] === app);
    return row ? Object.fromEntries(header.map((h, i) => [h, row[i] ?? ''])) : undefined;
  };
  const mb = (b: string | undefined) => (b && /^\d+$/.test(b) ? (Number(b) / 1e6).toFixed(1) : '-');
  const lines = [
    '<!-- bench:build:start -->',
    '## bench/build: `distill build` beside `docker build` (multi-stage Dockerfile)',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}, through a copy of the shared peers harness with bench/build/peers/33-bench-distill.sh added (${readFileSync(join(results, 'distill-version.txt'), 'utf8').trim() ? `distill ${readFileSync(join(results, 'distill-version.txt'), 'utf8').trim()}` : 'distill'} from dist/; Docker ${execFileSync('/usr/bin/docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).trim()} with BuildKit). Median wall seconds of ${env.RUNS} runs after one warm-up (min-max); docker's and distill's runs of each app and case follow each other. Cold: docker --no-cache with its base images present; distill without its node_modules records and npm cache, with the Debian packages, the Node release and the OS and Node layers present. Warm: one line of index.js changed. distill pushes to a local registry (the docker-built image ends in dockerd); distill-layout writes an OCI layout.`,
    '',
    '| app | case | docker build | distill (registry) | ratio | distill (layout) | ratio | distill peak RSS MB |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const verdicts: string[] = [];
  for (const app of apps.split(/\s+/).filter(Boolean)) {
    for (const mode of ['cold', 'warm']) {
      const d = get('docker-buildkit', app, mode);
      const r = get('distill', app, mode);
      const l = get('distill-layout', app, mode);
      const cell = (x: string[] | undefined) => (x ? `${x[4]} [${x[5]}-${x[6]}]` : 'failed');
      const ratio = (x: string[] | undefined) => (x && d ? (Number(x[4]) / Number(d[4])).toFixed(2) : '-');
      const rss = Math.max(Number(r?.[10] ?? 0), Number(l?.[10] ?? 0)) / 1024;
      lines.push(
        `| ${app} | ${mode} | ${cell(d)} | ${cell(r)} | ${ratio(r)} | ${cell(l)} | ${ratio(l)} | ${rss.toFixed(0)} |`,
      );
      const target = mode === 'cold' ? 1 : app === 'hello' ? 0.5 : 0.25;
      // Judged on distill's default output (an OCI layout: the image is built and stored, as
      // docker's is in dockerd); the registry column adds publishing, which docker's does not.
      for (const [what, x] of [
        ['layout', l],
        ['registry', r],
      ] as const) {
        if (!x || !d) continue;
        const ratio = Number(x[4]) / Number(d[4]);
        verdicts.push(
          `${app} ${mode} (${what}): ${ratio.toFixed(2)}x docker (target at most ${target}x) ${ratio <= target ? 'met' : 'NOT met'}`,
        );
      }
      if (rss >= 500)
        verdicts.push(`${app} ${mode}: peak RSS ${rss.toFixed(0)} MB is over the 500 MB target`);
    }
  }
  lines.push(
    '',
    '| app | image | uncompressed MB | compressed MB | layers | answers HTTP |',
    '|---|---|---:|---:|---:|---|',
  );
  for (const app of apps.split(/\s+/).filter(Boolean)) {
    for (const tool of ['docker-buildkit', 'distill']) {
      const i = image(tool, app);
      if (!i) continue;
      lines.push(
        `| ${app} | ${tool} | ${mb(i.uncompressed_bytes)} | ${mb(i.compressed_bytes)} | ${i.layers} | ${i.run_ok} |`,
      );
    }
    const di = image('docker-buildkit', app);
    const si = image('distill', app);
    if (di && si) {
      const ok = Number(si.uncompressed_bytes) <= Number(di.uncompressed_bytes);
      verdicts.push(
        `${app} image: ${mb(si.uncompressed_bytes)} MB vs docker's ${mb(di.uncompressed_bytes)} MB ${ok ? 'met' : 'NOT met'}`,
      );
    }
  }
  lines.push('', ...verdicts.map((v) => `- ${v}`), '<!-- bench:build:end -->');
  const file = join(root, 'docs/BENCHMARKS.md');
  let text = await readFile(file, 'utf8');
  const block = lines.join('\n');
  const re = /<!-- bench:build:start -->[\s\S]*<!-- bench:build:end -->/;
  text = re.test(text) ? text.replace(re, block) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(file, text);
  process.stdout.write(`${block}\n`);
}

await main();
