import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER } from '../components.js';
import { CACHE_ROOT, cachedEntry, cacheKey } from './cache.js';
import { hostNode, packEnv, run } from './tools.js';
import { VERSIONS } from './versions.js';

/**
 * A stand-in for the public `node:24` image, for the yardstick Dockerfiles
 * (dockerfiles/next-standalone.Dockerfile's NODE_IMAGE) in tests: no registry on the internet is
 * reachable, so it is made the way the peers harness makes its local/node:24
 * (../shared/peers/10-base-images.sh): Debian trixie minbase from debootstrap, apt's lists and
 * downloaded .debs removed, the official Node release from the npm registry in /usr/local (bin,
 * headers), npm from the npm registry, and the host's CA bundle with NODE_EXTRA_CA_CERTS, since
 * npm reaches the registry here through a TLS-inspecting proxy. Imported into the Docker engine
 * as `distill-test/node:<version>-<hash>` once; the root filesystem is cached (apps/cache.ts).
 * Needs docker, debootstrap and Debian's archive.
 */
const SUITE = 'trixie';
const MIRROR = 'http://deb.debian.org/debian';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

function imageExists(name: string): boolean {
  try {
    execFileSync(DOCKER, ['image', 'inspect', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Debian minbase, as debootstrap makes it (a few minutes the first time). */
async function minbase(): Promise<string> {
  const inputs = { suite: SUITE, mirror: MIRROR, variant: 'minbase' };
  const entry = await cachedEntry(cacheKey(`debian-${SUITE}-minbase`, inputs), inputs, async (tree) => {
    await run(['debootstrap', '--variant=minbase', SUITE, tree, MIRROR], {
      cwd: CACHE_ROOT,
      env: process.env,
      timeoutMs: 20 * 60_000,
    });
  });
  return entry.tree;
}

/** The npm package `npm@version`, unpacked (its `package/` directory). */
async function npmRelease(version: string): Promise<string> {
  const inputs = { version };
  const entry = await cachedEntry(cacheKey(`npm-${version}`, inputs), inputs, async (tree) => {
    await run(['npm', 'pack', `npm@${version}`, '--pack-destination', tree], {
      cwd: tree,
      env: packEnv(),
    });
    const tgz = (await readdir(tree)).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack npm@${version} wrote no tarball`);
    await run(['tar', '-xzf', tgz, '--strip-components=1'], { cwd: tree, env: process.env });
    await rm(join(tree, tgz));
  });
  return entry.tree;
}

/** The image's name, made and imported into the Docker engine when it is not there. */
export async function nodeImage(): Promise<string> {
  const node = VERSIONS.hostNode;
  const npm = VERSIONS.npm;
  const name = `distill-test/node:${cacheKey(node, { node, npm, suite: SUITE, rev: 1 })}`;
  if (imageExists(name)) return name;
  const [root, nodeDir, npmDir] = await Promise.all([minbase(), hostNode(node), npmRelease(npm)]);
  const work = await mkdtemp(join(CACHE_ROOT, '.node-image-'));
  try {
    const r = join(work, 'root');
    await run(['cp', '-a', `${root}/.`, r], { cwd: work, env: process.env });
    for (const p of ['var/lib/apt/lists', 'var/cache/apt/archives', 'etc/resolv.conf', 'etc/hostname']) {
      await rm(join(r, p), { recursive: true, force: true });
    }
    await mkdir(join(r, 'var/lib/apt/lists/partial'), { recursive: true });
    await mkdir(join(r, 'var/cache/apt/archives/partial'), { recursive: true });
    for (const d of ['bin', 'include', 'share']) {
      await cp(join(nodeDir, d), join(r, 'usr/local', d), { recursive: true, verbatimSymlinks: true });
    }
    await cp(npmDir, join(r, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    await run(['ln', '-sf', '../lib/node_modules/npm/bin/npm-cli.js', join(r, 'usr/local/bin/npm')], {
      cwd: work,
      env: process.env,
    });
    await run(['ln', '-sf', '../lib/node_modules/npm/bin/npx-cli.js', join(r, 'usr/local/bin/npx')], {
      cwd: work,
      env: process.env,
    });
    await mkdir(join(r, 'etc/ssl/certs'), { recursive: true });
    await cp(CA_BUNDLE, join(r, CA_BUNDLE));
    const changes = [
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `ENV NODE_VERSION=${node}`,
      `ENV NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`,
      'CMD ["node"]',
    ].flatMap((c) => ['--change', c]);
    await run(
      [
        'bash',
        '-c',
        `tar --numeric-owner -C '${r}' -cf - . | '${DOCKER}' import "$@" - '${name}'`,
        'import',
        ...changes,
      ],
      { cwd: work, env: process.env, timeoutMs: 10 * 60_000 },
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return name;
}
