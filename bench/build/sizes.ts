/**
 * bench/build's image sizes (issue 17), in the same run as docker's: 34-sizes.sh builds, for each
 * app, the Dockerfile + distroless image and distill's images (default, --trace, --compression
 * zstd, --compression zstd:19, --no-strip, --no-prune) as OCI layouts; this measures every one with `distill inspect`
 * (per layer: the blob as stored, and its tar decompressed), writes the sizes beside docker's with
 * issue 17's targets, and a table per layer of what each step removed, into docs/BENCHMARKS.md
 * between the bench:build-sizes markers.
 *
 *   SIZES_ONLY=1 APP_LIST="hello medium" npm run bench:build   # the sizes alone, no timing rounds
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { excludedPath, variantSpec } from '../../src/plan/variants.js';
import { machine, writeBenchBlock } from '../lib.js';
import { results, root, run, scratch, tsv } from './harness.js';

interface Layer {
  compressed: number;
  uncompressed: number;
  createdBy?: string;
  mediaType: string;
}
interface Measured {
  compressed: number;
  uncompressed: number;
  layers: Layer[];
  packages: { name: string; version: string }[];
  run: string;
}

/** The image of an OCI layout, measured by distill's own inspect. */
function inspect(layout: string): Omit<Measured, 'run'> {
  const out = execFileSync(
    'node',
    [join(root, 'bin/distill.js'), 'inspect', `oci:${layout}:latest`, '--format', 'json', '-q'],
    { encoding: 'utf8', env: { ...process.env, DISTILL_USE_DIST: '1' }, maxBuffer: 256 * 1024 * 1024 },
  );
  const facts = JSON.parse(out) as {
    size: { compressed: number | null; uncompressed: number };
    layers: Layer[];
    packages: { type: string; name: string; version: string }[];
  };
  if (facts.size.compressed === null) throw new Error(`${layout}: no compressed size`);
  return {
    compressed: facts.size.compressed,
    uncompressed: facts.size.uncompressed,
    layers: facts.layers,
    packages: facts.packages.filter((p) => p.type === 'deb'),
  };
}

/** distill's layer of the kind `what` (by the history line distill writes), or undefined. */
function layer(m: Measured | undefined, what: 'os' | 'node' | 'node_modules' | 'app'): Layer | undefined {
  const prefix = {
    os: 'distill base node-app',
    node: 'distill build: Node.js',
    node_modules: 'distill build: node_modules',
    app: 'distill build: app files',
  }[what];
  return m?.layers.find((l) => l.createdBy?.startsWith(prefix));
}

/**
 * The bytes of the files the slim OS leaves out of the OS packages (what excludedPath says for
 * variant node-app: glibc's gconv modules and unused libraries, tini's static build, tzdata's
 * right/ zones, docs but the copyright files, what no program in the image reads), summed from
 * `dpkg-deb -c` of the very .deb files the build used (distill's cache keeps them as blobs, named
 * by the deb-contents records). File bytes, without the tar headers the layer would add for them.
 */
function osLeftOut(cache: string, packages: Measured['packages']): number {
  const spec = variantSpec('node-app');
  const wanted = new Set(packages.map((p) => `${p.name} ${p.version}`));
  let bytes = 0;
  const seen = new Set<string>();
  for (const name of readdirSync(join(cache, 'meta'))) {
    const text = readFileSync(join(cache, 'meta', name), 'utf8');
    if (!text.includes('"deb-contents"')) continue;
    const rec = JSON.parse(text) as { kind: string; parts: { deb: string }; value: { controlText: string } };
    const field = (f: string) => new RegExp(`^${f}: (.*)$`, 'm').exec(rec.value.controlText)?.[1];
    const id = `${field('Package')} ${field('Version')}`;
    if (rec.kind !== 'deb-contents' || !wanted.has(id) || seen.has(id)) continue;
    seen.add(id);
    const deb = join(cache, 'blobs', 'sha256', rec.parts.deb.replace(/^sha256:/, ''));
    for (const line of execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' }).split('\n')) {
      const m = /^-\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\.\/(.*)$/.exec(line);
      if (m && excludedPath(spec, m[2]!)) bytes += Number(m[1]);
    }
  }
  if (seen.size !== wanted.size)
    throw new Error(`${cache}: the .deb of ${[...wanted].filter((w) => !seen.has(w)).join(', ')} not found`);
  return bytes;
}

const MB = (b: number) => (b / 1e6).toFixed(1);
const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

/** The sizes table, and a verdict per target of issue 17. */
function sizeLines(app: string, m: Map<string, Measured>, verdicts: string[]): string[] {
  const docker = m.get('docker');
  if (!docker) return [`| ${app} | docker | not measured | | | |`];
  const lines: string[] = [];
  const label: Record<string, string> = {
    docker: 'Dockerfile + distroless (docker build)',
    default: 'distill (default)',
    trace: 'distill `--trace`',
    zstd: 'distill `--compression zstd`',
    zstd19: 'distill `--compression zstd:19`',
    'no-strip': 'distill `--no-strip`',
    'no-prune': 'distill `--no-prune`',
  };
  for (const [variant, i] of m) {
    const vs =
      variant === 'docker'
        ? '1.00x / 1.00x'
        : `${x(i.uncompressed, docker.uncompressed)} / ${x(i.compressed, docker.compressed)}`;
    lines.push(
      `| ${app} | ${label[variant]} | ${MB(i.uncompressed)} | ${MB(i.compressed)} | ${vs} | ${i.run} |`,
    );
  }
  const judge = (variant: string, what: string, target: number, sizes: ('uncompressed' | 'compressed')[]) => {
    const i = m.get(variant);
    if (!i) return verdicts.push(`${app} ${what}: not measured`);
    const ratios = sizes.map((s) => `${s} ${x(i[s], docker[s])}`);
    const met = sizes.every((s) => i[s] / docker[s] <= target);
    verdicts.push(
      `${app} ${what}: ${ratios.join(', ')} docker's (target at most ${target}x) ${met ? 'met' : 'NOT met'}`,
    );
  };
  judge('default', 'default', 0.8, ['uncompressed', 'compressed']);
  judge('trace', '--trace', 0.7, ['uncompressed', 'compressed']);
  judge('zstd', '--compression zstd', 0.65, ['compressed']);
  judge('zstd19', '--compression zstd:19', 0.65, ['compressed']);
  return lines;
}

/** What each step removed, layer by layer, from distill's own layers of the same app. */
function layerLines(app: string, m: Map<string, Measured>, cache: string): string[] {
  const cell = (l: Layer | undefined, c: 'compressed' | 'uncompressed') => (l ? MB(l[c]) : '-');
  const step = (what: string, from: Layer | undefined, to: Layer | undefined) => {
    const pct = (c: 'compressed' | 'uncompressed') =>
      from && to ? `${(((to[c] - from[c]) / from[c]) * 100).toFixed(0)} %` : '-';
    return `| ${app} | ${what} | ${cell(from, 'uncompressed')} -> ${cell(to, 'uncompressed')} (${pct('uncompressed')}) | ${cell(from, 'compressed')} -> ${cell(to, 'compressed')} (${pct('compressed')}) |`;
  };
  const def = m.get('default');
  const os = layer(def, 'os');
  const left = def && os ? osLeftOut(cache, def.packages) : 0;
  const osWhole = os && { ...os, uncompressed: os.uncompressed + left };
  return [
    step(
      'Node: whole (`--no-strip`) -> stripped (default)',
      layer(m.get('no-strip'), 'node'),
      layer(def, 'node'),
    ),
    step(
      'node_modules: whole (`--no-prune`) -> pruned (default)',
      layer(m.get('no-prune'), 'node_modules'),
      layer(def, 'node_modules'),
    ),
    step(
      'node_modules: pruned (default) -> traced (`--trace`)',
      layer(def, 'node_modules'),
      layer(m.get('trace'), 'node_modules'),
    ),
    step(
      'node_modules: whole (`--no-prune`) -> traced (`--trace`)',
      layer(m.get('no-prune'), 'node_modules'),
      layer(m.get('trace'), 'node_modules'),
    ),
    `${step('OS: the packages whole -> slim (default)', osWhole, os).replace(/\| [^|]* \|$/, '| not built whole |')}`,
    ...(['node', 'os', 'node_modules'] as const).map((w) =>
      step(
        `${w}: gzip 6 (default) -> zstd 19 (\`--compression zstd:19\`)`,
        layer(def, w),
        layer(m.get('zstd19'), w),
      ),
    ),
  ];
}

/** Where the default image's bytes are, largest layer first, and docker's beside them. */
function whereLines(app: string, m: Map<string, Measured>, runtime: Measured | undefined): string[] {
  const def = m.get('default');
  const docker = m.get('docker');
  if (!def || !docker || !runtime) return [];
  const parts = (['node', 'os', 'node_modules', 'app'] as const)
    .map((w) => [w, layer(def, w)] as const)
    .filter((p): p is readonly [(typeof p)[0], Layer] => p[1] !== undefined)
    .sort((a, b) => b[1].uncompressed - a[1].uncompressed)
    .map(
      ([w, l]) =>
        `${w} ${MB(l.uncompressed)} MB (${((l.uncompressed / def.uncompressed) * 100).toFixed(0)} %)`,
    );
  // The runtime base's layers: its OS and Node (the largest, /nodejs/bin/node whole).
  const node = Math.max(...runtime.layers.map((l) => l.uncompressed));
  return [
    `- ${app}, where distill's default image's ${MB(def.uncompressed)} MB are: ${parts.join(', ')}; docker's ${MB(docker.uncompressed)} MB: the distroless runtime base ${MB(runtime.uncompressed)} MB (its largest layer, with Node whole, ${MB(node)} MB), /app (node_modules and app, unpruned) ${MB(docker.uncompressed - runtime.uncompressed)} MB`,
  ];
}

/** Builds (unless `reportOnly`) and measures every app's images, and writes the bench:build-sizes block. */
export async function sizes(apps: string[], reportOnly: boolean): Promise<void> {
  if (!reportOnly) run('34-sizes.sh', { APP_LIST: apps.join(' ') });
  const rows = tsv('sizes.tsv');
  if (rows.length === 0) throw new Error(`${join(results, 'sizes.tsv')}: no sizes measured`);
  const cache = join(scratch, 'distill-cache');
  const head = [
    '<!-- bench:build-sizes:start -->',
    '## bench/build: image sizes beside the Dockerfile + distroless image, same run',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}, by bench/build/peers/34-sizes.sh in the copy of the peers harness (\`SIZES_ONLY=1 npm run bench:build\`, or after the timing rounds): for each app, \`docker build\` of the harness's Dockerfile (distroless runtime stand-in) and \`distill build\` of the same app, Node ${process.env.NODE_VERSION ?? '24.21.0'}, one after the other. Every image is measured the same way, by \`distill inspect\` of an OCI layout: compressed is the sum of the layer blobs as stored (distill's as distill wrote them; docker's gzipped by \`skopeo copy\` out of dockerd, as a push would), uncompressed the sum of the layers' tars. "answers HTTP": the image run in dockerd (the zstd ones in podman: dockerd 20.10's classic store takes no zstd layers) answers GET / (medium: also /thumb, a PNG made by sharp, and /self); the \`--no-strip\` and \`--no-prune\` builds are measured only.`,
    '',
    '| app | image | uncompressed MB | compressed MB | vs docker (uncompressed / compressed) | answers HTTP |',
    '|---|---|---:|---:|---:|---|',
  ];
  const table: string[] = [];
  const perLayer: string[] = [];
  const verdicts: string[] = [];
  const where: string[] = [];
  const rt = rows.find((r) => r[1] === 'runtime')?.[2];
  const runtime = rt && existsSync(rt) ? { ...inspect(rt), run: '-' } : undefined;
  for (const app of apps) {
    const m = new Map<string, Measured>();
    for (const [a, variant, layout, runOk] of rows) {
      if (a === app && variant && layout && existsSync(layout))
        m.set(variant, { ...inspect(layout), run: runOk ?? '-' });
    }
    table.push(...sizeLines(app, m, verdicts));
    perLayer.push(...layerLines(app, m, cache));
    where.push(...whereLines(app, m, runtime));
  }
  const block = [
    ...head,
    ...table,
    '',
    "What each step removed, per layer, from distill's own layers of the same app in the same run (MB; `--no-strip`, `--no-prune` and `--trace` builds; the OS whole is the slim layer plus the file bytes of what the slim OS leaves out, read from the very .deb files with `dpkg-deb -c`, as the whole OS layer is not built):",
    '',
    '| app | layer: step | uncompressed | compressed |',
    '|---|---|---:|---:|',
    ...perLayer,
    '',
    ...verdicts.map((v) => `- ${v}`),
    ...where,
    '<!-- bench:build-sizes:end -->',
  ].join('\n');
  writeBenchBlock(root, 'build-sizes', block);
  process.stdout.write(`${block}\n`);
}
