/**
 * Writes docs/BASE-IMAGES.md: for every variant, the packages distill puts in it (from a real
 * build against Debian's archive) and the image's size, beside the reference distroless image's
 * package set (../shared/ANCHORS.md), with each difference explained.
 *
 *   npm run build && node --import tsx scripts/base-report.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const DISTILL = join(root, 'dist/cli/main.js');

const STATIC = ['base-files', 'netbase', 'tzdata', 'tzdata-legacy', 'media-types'];
const REFERENCE: Record<string, string[]> = {
  static: STATIC,
  'base-nossl': [...STATIC, 'libc6'],
  base: [...STATIC, 'libc6', 'libssl3t64', 'libzstd1', 'zlib1g'],
  cc: [
    ...STATIC,
    'libc6',
    'libssl3t64',
    'libzstd1',
    'zlib1g',
    'libgomp1',
    'libstdc++6',
    'libgcc-s1',
    'gcc-14-base',
  ],
};
REFERENCE.nodejs22 = [...REFERENCE.cc!];
REFERENCE.nodejs24 = [...REFERENCE.cc!];
REFERENCE.nodejs26 = [...REFERENCE.cc!, 'libatomic1'];

interface Built {
  digest: string;
  node?: string;
  packages: { amd64: { name: string; version: string; role: string; size: number }[] };
}

const work = await mkdtemp(join(tmpdir(), 'distill-base-report-'));
const rows: string[] = [];
try {
  for (const variant of Object.keys(REFERENCE)) {
    const layout = join(work, variant);
    const out = execFileSync(
      process.execPath,
      [DISTILL, 'base', variant, '-q', '--format', 'json', '-o', `oci:${layout}:x`],
      {
        encoding: 'utf8',
        env: { ...process.env, DISTILL_CACHE: process.env.DISTILL_CACHE ?? join(work, 'cache') },
      },
    );
    const built = JSON.parse(out) as Built;
    const manifest = JSON.parse(
      execFileSync('skopeo', ['inspect', '--raw', `oci:${layout}:x`], { encoding: 'utf8' }),
    );
    const compressed = manifest.layers.reduce((n: number, l: { size: number }) => n + l.size, 0);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const bundle = join(work, `${variant}-bundle`);
    execFileSync('umoci', ['unpack', '--image', `${layout}:x`, bundle], { stdio: 'pipe' });
    const uncompressed = Number(
      execFileSync('du', ['-sb', join(bundle, 'rootfs')], { encoding: 'utf8' }).split('\t')[0],
    );
    const pkgs = built.packages.amd64.filter((p) => p.role === 'base').map((p) => `${p.name} ${p.version}`);
    const names = new Set(built.packages.amd64.filter((p) => p.role === 'base').map((p) => p.name));
    const ref = REFERENCE[variant]!;
    const missing = ref.filter((n) => !names.has(n));
    const extra = [...names].filter((n) => !ref.includes(n));
    rows.push(
      `### ${variant}\n\n` +
        `* distill: ${(uncompressed / 2 ** 20).toFixed(1)} MiB on disk, ${(compressed / 2 ** 20).toFixed(1)} MiB compressed, ${manifest.layers.length} layer(s), digest \`${index.manifests[0].digest.slice(0, 19)}…\`${built.node ? `, Node ${built.node} at /nodejs/bin/node` : ''}\n` +
        `* packages (${pkgs.length}, all with status.d entries): ${pkgs.join(', ')}\n` +
        `* the reference image's set: ${ref.join(', ')}${built.node ? ' + Node at /nodejs/bin/node' : ''}\n` +
        `* difference: ${missing.length === 0 && extra.length === 0 ? 'none in the package set' : `missing ${missing.join(', ') || 'none'}; extra ${extra.join(', ') || 'none'}`}\n`,
    );
    await rm(bundle, { recursive: true, force: true });
    process.stderr.write(`${variant} done\n`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const text = `# The base images distill builds

Written by \`scripts/base-report.ts\` from real builds (linux/amd64) against Debian's archive on
${new Date().toISOString().slice(0, 10)}. The reference package sets are those of
GoogleContainerTools/distroless's Debian 13 images (see \`../shared/ANCHORS.md\` in the
project's shared notes). Reference sizes known from public sources: distroless static about
2 MiB, distroless nodejs22-debian12 141 MB (uncompressed, as \`docker images\` shows it).

## What every variant has, like the reference

* \`/etc/passwd\` (root 0, nobody 65534, nonroot 65532, all \`/sbin/nologin\`), \`/etc/group\`
  (root, tty 5, staff 50, nobody, nonroot), \`/root\` and \`/home/nonroot\` 0700, \`/tmp\` 1777,
  \`/etc/nsswitch.conf\`, \`/usr/lib/os-release\` with \`ID=debian\` and \`PRETTY_NAME="Distroless"\`.
* One CA bundle, \`/etc/ssl/certs/ca-certificates.crt\`, made from the \`ca-certificates\` package
  the way \`update-ca-certificates\` would make it (every certificate under
  \`/usr/share/ca-certificates\`, in path order), and \`SSL_CERT_FILE\` set to it.
* \`/var/lib/dpkg/status.d/<pkg>\` and \`<pkg>.md5sums\` for every installed package, so that
  scanners (syft, trivy) see them; no \`/var/lib/dpkg/status\`. The Node binary has no dpkg entry.
* Whole \`data.tar\`s are kept (documentation and gconv included), maintainer scripts never run.
* Every timestamp is \`SOURCE_DATE_EPOCH\` (default 0); the same lockfile gives the same digest.

## Mirrors and lockfiles

* Each suite comes from its own mirror: \`trixie\` and \`trixie-updates\` from
  \`http://deb.debian.org/debian\`, \`trixie-security\` from \`http://deb.debian.org/debian-security\`
  (as in apt's sources), its InRelease, its Packages index and its packages' .debs alike.
  \`--mirror URL\` serves every suite from one mirror; \`--mirror trixie-security=URL\` one suite
  (repeatable, on \`base\`, \`lock\` and \`build\`); \`mirror:\` in base.yaml is a URL or a map
  of suite to URL. Naming a suite the build does not have, or a URL that is not http(s), is
  an error that says which.
* \`distill.lock.json\` records the mirror each suite was read from. \`base --lock\` and
  \`lock --check\` fetch each suite from there (a \`--mirror\` still wins), so a lockfile rebuilds
  on a machine with an empty cache to the same digest. When a recorded mirror no longer serves
  its suite (or never did: a hand-edited lockfile), pass \`--mirror SUITE=URL\` or lock again.
* \`distill lock --check\` exits 0 when every locked package is current, 1 when newer versions
  exist (listed on stdout; \`--format json\` prints \`{lockfile, outdated}\`), and 2 when it could
  not check: an unreachable mirror, a bad lockfile, a failed verification, with the suite and
  mirror named.

## Differences from the reference, and why

* **ca-certificates**: the reference images carry only the generated bundle; so does distill, and
  it writes no status.d entry for ca-certificates (its files other than the bundle are not in
  the image, and an entry would make scanners believe they are).
* **Layers**: distill puts the OS in one layer and Node in its own (the reference uses one layer
  per package group); \`--package\`, extra files and \`--debug\` add a layer each, so a change to
  one of them leaves the others' digests alone.
* **Node versions**: distill takes the newest release of the variant's major from the npm
  registry's \`node-linux-<arch>\` packages (the official binaries) at lock time and pins it in
  \`distill.lock.json\`; \`--node 24.11.1\` picks an exact one. The reference images have no tags
  for Node point releases.
* **Sizes**: the packages' files are the reference's, so the sizes differ from the published
  images mainly by the Debian point release and the Node version of the day.

${rows.join('\n')}`;
await writeFile(join(root, 'docs/BASE-IMAGES.md'), text);
process.stdout.write(`wrote docs/BASE-IMAGES.md\n`);
