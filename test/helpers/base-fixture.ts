import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { distillSources } from '../../src/build/sources.js';
import { AptSource } from '../../src/sources/apt/index.js';
import { Store } from '../../src/store/store.js';
import { type AptRepo, type FakePackage, makeAptRepo } from './aptrepo.js';
import { distill } from './cli.js';
import { requireComponents } from './components.js';
import { dirFixture } from './fixture.js';

/**
 * The packages of the local signed repository that base tests build from: stand-ins for the
 * static variant's Debian packages, plus a few to exercise --package, chains and postinst.
 * test/golden/base-local.json holds the digest `staticDigest` gives (scripts/update-golden.ts).
 */
export const CERT = `-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUJ8t0ZXN0LWNhLWZvci1kaXN0aWxsMAoGCCqGSM49BAMC
-----END CERTIFICATE-----
`;

export const PACKAGES: FakePackage[] = [
  {
    name: 'base-files',
    version: '13.8',
    files: { 'etc/debian_version': '13.8\n', 'usr/lib/os-release': 'ID=debian\n' },
  },
  { name: 'netbase', version: '6.5', arch: 'all', files: { 'etc/protocols': 'ip 0 IP\n' } },
  { name: 'tzdata', version: '2026a-1', arch: 'all', files: { 'usr/share/zoneinfo/UTC': 'TZif-fake\n' } },
  {
    name: 'tzdata-legacy',
    version: '2026a-1',
    arch: 'all',
    files: { 'usr/share/zoneinfo/GMT': 'TZif-fake\n' },
  },
  { name: 'media-types', version: '13.0.0', arch: 'all', files: { 'etc/mime.types': 'text/plain txt\n' } },
  {
    name: 'ca-certificates',
    version: '20250419',
    arch: 'all',
    files: { 'usr/share/ca-certificates/mozilla/Test_Root.crt': CERT },
    postinst: '#!/bin/sh\nupdate-ca-certificates\n',
  },
  {
    name: 'libfoo1',
    version: '1.4-2',
    files: { 'usr/lib/x86_64-linux-gnu/libfoo.so.1': 'not really a library\n' },
  },
  {
    name: 'hello',
    version: '2.10-3',
    depends: 'libfoo1 (>= 1.0)',
    files: { 'usr/bin/hello': '#!/bin/hello\n' },
  },
  { name: 'nodejs-extra', version: '1.0', depends: 'libfoo1 (>= 2)', files: { 'usr/share/x': 'x\n' } },
  {
    name: 'needs-setup',
    version: '1.0',
    files: { 'usr/share/needs-setup/data': 'x\n' },
    postinst: '#!/bin/sh\nmkdir -p /var/lib/needs-setup\n',
  },
];

/** The options that point distill at the local repository (amd64). */
export function repoArgs(repo: AptRepo, keyring: string): string[] {
  return ['--mirror', repo.url, '--suite', repo.suite, '--keyring', keyring, '--arch', 'amd64'];
}

/** Locks the static variant against the repository into `lockFile`. */
export async function lockStatic(
  repo: AptRepo,
  keyring: string,
  lockFile: string,
  cache: string,
): Promise<void> {
  const r = await distill(['lock', 'static', '-q', ...repoArgs(repo, keyring), '-o', lockFile], {
    DISTILL_CACHE: cache,
  });
  if (r.code !== 0) throw new Error(`distill lock failed: ${r.stderr}`);
}

/** Builds the static variant from a lockfile with an empty cache under `dir`; returns the digest. */
export async function staticDigest(
  repo: AptRepo,
  keyring: string,
  lockFile: string,
  dir: string,
): Promise<string> {
  const r = await distill(
    [
      'base',
      'static',
      '-q',
      '--lock',
      lockFile,
      ...repoArgs(repo, keyring),
      '-o',
      `oci:${join(dir, 'out')}:x`,
      '--format',
      'json',
    ],
    { DISTILL_CACHE: join(dir, 'cache'), SOURCE_DATE_EPOCH: '' },
  );
  if (r.code !== 0) throw new Error(`distill base failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { digest: string }).digest;
}

/** What making a local signed repository takes (test/helpers/aptrepo.ts). */
export const REPO_TOOLS = ['dpkg-deb', 'apt-ftparchive', 'gpg', 'xz'] as const;

/**
 * distill's sources on a local signed repository, as a library build takes them: a store at
 * `storeDir`, the repository as the mirror and its key the one trusted.
 */
export function repoSources(
  repo: AptRepo,
  storeDir: string,
  signal?: AbortSignal,
): { store: Store; sources: ReturnType<typeof distillSources> } {
  const store = new Store(storeDir);
  const keys = [Buffer.from(repo.publicKey)];
  const sources = distillSources({
    store,
    apt: async () => new AptSource({ store, mirror: repo.url, keys }),
    ...(signal && { signal }),
  });
  return { store, sources };
}

export interface LocalRepoFixture {
  /** The describe block's temporary directory (removed after it). */
  readonly dir: string;
  /** The repository, made on first use; undefined when its tools are missing (the test skips, or fails under CI). */
  ready(t: TestContext): Promise<AptRepo | undefined>;
  /** The repository's public key as a file in `dir`, for `--keyring`. */
  keyring(): string;
}

/**
 * A temporary directory and a local signed repository of `packages` (PACKAGES unless given) for
 * the tests of one describe block: call it in the block, which gets the before/after hooks that
 * make the directory, then stop the repository and remove the directory.
 */
export function useLocalRepo(prefix: string, packages: FakePackage[] = PACKAGES): LocalRepoFixture {
  const fx = dirFixture(
    prefix,
    async (dir) => {
      const repo = await makeAptRepo({ packages });
      await writeFile(join(dir, 'test-key.asc'), repo.publicKey);
      return repo;
    },
    (repo) => repo.stop(),
  );
  return {
    get dir() {
      return fx.dir;
    },
    ready: async (t) => (requireComponents(t, ...REPO_TOOLS) ? fx.get() : undefined),
    keyring: () => join(fx.dir, 'test-key.asc'),
  };
}
