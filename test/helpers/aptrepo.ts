/**
 * A small signed apt repository made by the test itself, the way Debian makes one: packages
 * built with dpkg-deb, indexes and Release by apt-ftparchive (with by-hash copies), InRelease
 * clearsigned by gpg with a throwaway key, served by a static HTTP server on 127.0.0.1. Needs
 * dpkg-deb, apt-ftparchive (apt-utils), gpg and xz; tests call
 * `requireComponents(t, 'dpkg-deb', 'apt-ftparchive', 'gpg', 'xz')` first.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FakePackage {
  name: string;
  version: string;
  /** Default amd64. */
  arch?: string;
  depends?: string;
  preDepends?: string;
  provides?: string;
  multiArch?: string;
  /** Path in the package (e.g. `usr/bin/hello`) -> content. */
  files?: Record<string, string | Uint8Array>;
  /** Path in the package -> the target of a symbolic link there. */
  symlinks?: Record<string, string>;
  postinst?: string;
}

export interface RequestLogEntry {
  method: string;
  url: string;
  status: number;
}

export interface AptRepo {
  /** Archive root, e.g. http://127.0.0.1:40000 (dists/ and pool/ under it). */
  url: string;
  /** Directory served. */
  dir: string;
  suite: string;
  /** Armored public key of the signing key. */
  publicKey: string;
  /** Armored public keys of the extra signers (opts.extraSigners). */
  extraPublicKeys: string[];
  /** Every request the server answered. */
  log: RequestLogEntry[];
  /** Path of the .deb of `name` inside `dir`. */
  debPath(name: string): string;
  addPackage(p: FakePackage): Promise<void>;
  /** Changes one byte of the signed text of InRelease (the signature stays as it was). */
  tamperInRelease(): Promise<void>;
  /** Changes the Packages indexes (and their by-hash copies) after signing. */
  corruptPackagesIndex(): Promise<void>;
  /** Changes one byte of a package's .deb after indexing. */
  corruptDeb(name: string): Promise<void>;
  /**
   * Stops serving (connections are refused from then on: a mirror that is down) and removes
   * the repository; calling it again does nothing.
   */
  stop(): Promise<void>;
}

export interface AptRepoOptions {
  /** Default 'testing'. */
  suite?: string;
  packages: FakePackage[];
  /** Adds a Valid-Until field (RFC 2822 date) to the Release. */
  validUntil?: string;
  /** Write by-hash copies and `Acquire-By-Hash: yes`; default true. */
  byHash?: boolean;
  /** Which Packages files to publish: '' (plain), '.xz', '.gz'; default all three. */
  indexFormats?: ('' | '.xz' | '.gz')[];
  /** More keys that also sign InRelease (their public keys in `extraPublicKeys`); default 0. */
  extraSigners?: number;
}

function debFileName(p: FakePackage): string {
  const version = p.version.replace(/^[0-9]+:/, '');
  return `${p.name}_${version}_${p.arch ?? 'amd64'}.deb`;
}

function controlText(p: FakePackage): string {
  const lines = [
    `Package: ${p.name}`,
    `Version: ${p.version}`,
    `Architecture: ${p.arch ?? 'amd64'}`,
    'Maintainer: distill tests <tests@distill.invalid>',
  ];
  if (p.multiArch) lines.push(`Multi-Arch: ${p.multiArch}`);
  if (p.preDepends) lines.push(`Pre-Depends: ${p.preDepends}`);
  if (p.depends) lines.push(`Depends: ${p.depends}`);
  if (p.provides) lines.push(`Provides: ${p.provides}`);
  lines.push(`Description: test package ${p.name}`, ' Built by test/helpers/aptrepo.ts.');
  return `${lines.join('\n')}\n`;
}

/** A throwaway gpg home with one ed25519 signing key; returns its armored public key. */
async function makeGpgHome(home: string, uid: string): Promise<{ publicKey: string; fingerprint: string }> {
  await mkdir(home, { recursive: true });
  await chmod(home, 0o700);
  const env = { ...process.env, GNUPGHOME: home };
  await run(
    'gpg',
    [
      '--batch',
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      '--quick-generate-key',
      uid,
      'ed25519',
      'sign',
      'never',
    ],
    { env },
  );
  const email = /<([^>]+)>/.exec(uid)?.[1] ?? uid;
  const { stdout: colons } = await run('gpg', ['--batch', '--with-colons', '--list-keys', `<${email}>`], {
    env,
  });
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1];
  if (!fpr) throw new Error(`gpg made no key: ${colons}`);
  const { stdout } = await run('gpg', ['--batch', '--armor', '--export', fpr], { env });
  return { publicKey: stdout, fingerprint: fpr };
}

async function killAgent(home: string): Promise<void> {
  await run('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } }).catch(() => {});
}

/** An armored OpenPGP public key of a fresh key that signs nothing (for "wrong key" tests). */
export async function generateTestKey(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'distill-gpg-'));
  try {
    return (await makeGpgHome(home, 'distill unrelated key <other@distill.invalid>')).publicKey;
  } finally {
    await killAgent(home);
    await rm(home, { recursive: true, force: true });
  }
}

async function replaceFile(path: string, bytes: Uint8Array): Promise<void> {
  // unlink first: by-hash copies may be hard links of the same file
  await unlink(path);
  await writeFile(path, bytes);
}

function flipByte(bytes: Buffer, at: number): Buffer {
  const out = Buffer.from(bytes);
  out[at] = (out[at]! ^ 0x01) & 0xff;
  return out;
}

export async function makeAptRepo(opts: AptRepoOptions): Promise<AptRepo> {
  const suite = opts.suite ?? 'testing';
  const byHash = opts.byHash ?? true;
  const work = await mkdtemp(join(tmpdir(), 'distill-aptrepo-'));
  const dir = join(work, 'repo');
  const gnupg = join(work, 'gnupg');
  const build = join(work, 'build');
  const gpgEnv = { ...process.env, GNUPGHOME: gnupg };
  await mkdir(join(dir, 'pool', 'main'), { recursive: true });
  const { publicKey, fingerprint } = await makeGpgHome(
    gnupg,
    'distill test archive <archive@distill.invalid>',
  );
  const signers = [fingerprint];
  const extraPublicKeys: string[] = [];
  for (let i = 0; i < (opts.extraSigners ?? 0); i++) {
    // extra keys live in the same gpg home, so one --clearsign makes all signatures
    const extra = await makeGpgHome(gnupg, `distill test signer ${i + 2} <signer${i + 2}@distill.invalid>`);
    signers.push(extra.fingerprint);
    extraPublicKeys.push(extra.publicKey);
  }
  const packages: FakePackage[] = [];
  const dists = join(dir, 'dists', suite);

  const buildDeb = async (p: FakePackage): Promise<void> => {
    const root = join(build, `${p.name}_${p.version.replace(/:/g, '_')}_${p.arch ?? 'amd64'}`);
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, 'DEBIAN'), { recursive: true });
    await writeFile(join(root, 'DEBIAN', 'control'), controlText(p));
    if (p.postinst !== undefined) {
      await writeFile(join(root, 'DEBIAN', 'postinst'), p.postinst, { mode: 0o755 });
      await chmod(join(root, 'DEBIAN', 'postinst'), 0o755);
    }
    for (const [path, content] of Object.entries(p.files ?? {})) {
      const dest = join(root, normalize(path).replace(/^\/+/, ''));
      if (!dest.startsWith(`${root}/`)) throw new Error(`bad path ${path}`);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, content);
    }
    for (const [path, target] of Object.entries(p.symlinks ?? {})) {
      const dest = join(root, normalize(path).replace(/^\/+/, ''));
      if (!dest.startsWith(`${root}/`)) throw new Error(`bad path ${path}`);
      await mkdir(dirname(dest), { recursive: true });
      await symlink(target, dest);
    }
    await run('dpkg-deb', [
      '--root-owner-group',
      '-Zxz',
      '--build',
      root,
      join(dir, 'pool', 'main', debFileName(p)),
    ]);
  };

  const archs = (): string[] => {
    const set = new Set(packages.map((p) => p.arch ?? 'amd64').filter((a) => a !== 'all'));
    if (set.size === 0) set.add('amd64');
    return [...set].sort();
  };

  const publish = async (): Promise<void> => {
    await rm(join(dists, 'main'), { recursive: true, force: true });
    for (const arch of archs()) {
      const bin = join(dists, 'main', `binary-${arch}`);
      await mkdir(bin, { recursive: true });
      // arch:all packages go into every binary-<arch> (No-Support-for-Architecture-all: Packages)
      const { stdout } = await run('apt-ftparchive', ['-a', arch, 'packages', 'pool/main'], {
        cwd: dir,
        maxBuffer: 64 * 1024 * 1024,
      });
      await writeFile(join(bin, 'Packages'), stdout);
      const formats = opts.indexFormats ?? ['', '.xz', '.gz'];
      if (formats.includes('.xz')) await run('xz', ['-k', '-f', join(bin, 'Packages')]);
      if (formats.includes('.gz')) await run('gzip', ['-k', '-f', '-n', join(bin, 'Packages')]);
      if (!formats.includes('')) await rm(join(bin, 'Packages'));
    }
    const relOpts = [
      `APT::FTPArchive::Release::Origin=distill-test`,
      `APT::FTPArchive::Release::Label=distill-test`,
      `APT::FTPArchive::Release::Suite=${suite}`,
      `APT::FTPArchive::Release::Codename=${suite}`,
      `APT::FTPArchive::Release::Version=1.0`,
      `APT::FTPArchive::Release::Architectures=${archs().join(' ')}`,
      'APT::FTPArchive::Release::Components=main',
      `APT::FTPArchive::DoByHash=${byHash ? 'true' : 'false'}`,
    ].flatMap((o) => ['-o', o]);
    await rm(join(dists, 'Release'), { force: true });
    await rm(join(dists, 'InRelease'), { force: true });
    const { stdout: release } = await run('apt-ftparchive', [...relOpts, 'release', `dists/${suite}`], {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
    });
    let text = release;
    if (opts.validUntil !== undefined)
      text = text.replace(/^(Date: .*)$/m, `$1\nValid-Until: ${opts.validUntil}`);
    await writeFile(join(dists, 'Release'), text);
    await run(
      'gpg',
      [
        '--batch',
        '--yes',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        ...signers.flatMap((f) => ['--local-user', f]),
        '--digest-algo',
        'SHA256',
        '--clearsign',
        '--output',
        join(dists, 'InRelease'),
        join(dists, 'Release'),
      ],
      { env: gpgEnv },
    );
  };

  for (const p of opts.packages) {
    await buildDeb(p);
    packages.push(p);
  }
  await publish();

  const log: RequestLogEntry[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const done = (status: number) => log.push({ method, url, status });
    let path: string;
    try {
      path = decodeURIComponent(new URL(url, 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      done(400);
      return;
    }
    const file = join(dir, normalize(path));
    if (!file.startsWith(`${dir}/`) || (method !== 'GET' && method !== 'HEAD')) {
      res.writeHead(404).end();
      done(404);
      return;
    }
    stat(file).then(
      (st) => {
        if (!st.isFile()) {
          res.writeHead(404).end();
          done(404);
          return;
        }
        res.writeHead(200, { 'content-length': String(st.size), 'content-type': 'application/octet-stream' });
        done(200);
        if (method === 'HEAD') {
          res.end();
          return;
        }
        createReadStream(file).pipe(res);
      },
      () => {
        res.writeHead(404).end();
        done(404);
      },
    );
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const packagesFiles = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const arch of archs()) {
      const bin = join(dists, 'main', `binary-${arch}`);
      for (const n of ['Packages', 'Packages.xz', 'Packages.gz']) {
        if (await stat(join(bin, n)).catch(() => undefined)) out.push(join(bin, n));
      }
      for (const alg of ['SHA256', 'SHA512']) {
        const hd = join(bin, 'by-hash', alg);
        for (const n of await readdir(hd).catch(() => [] as string[])) out.push(join(hd, n));
      }
    }
    return out;
  };

  let stopped = false;
  const repo: AptRepo = {
    url: `http://127.0.0.1:${port}`,
    dir,
    suite,
    publicKey,
    extraPublicKeys,
    log,
    debPath(name: string) {
      const p = packages.find((x) => x.name === name);
      if (!p) throw new Error(`no package ${name} in the test repository`);
      return join(dir, 'pool', 'main', debFileName(p));
    },
    async addPackage(p: FakePackage) {
      await buildDeb(p);
      packages.push(p);
      await publish();
    },
    async tamperInRelease() {
      const path = join(dists, 'InRelease');
      const text = await readFile(path, 'utf8');
      const changed = text.replace('Origin: distill-test', 'Origin: distill-tesT');
      if (changed === text) throw new Error('InRelease has no Origin line to tamper with');
      await writeFile(path, changed);
    },
    async corruptPackagesIndex() {
      for (const f of await packagesFiles()) {
        const bytes = await readFile(f);
        if (bytes.length === 0) continue;
        await replaceFile(f, flipByte(bytes, bytes.length - 1));
      }
    },
    async corruptDeb(name: string) {
      const path = repo.debPath(name);
      const bytes = await readFile(path);
      await replaceFile(path, flipByte(bytes, Math.floor(bytes.length / 2)));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await killAgent(gnupg);
      await rm(work, { recursive: true, force: true });
    },
  };
  return repo;
}
