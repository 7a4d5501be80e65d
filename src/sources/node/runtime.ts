import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError, wrapError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { Store } from '../../store/store.js';
import { drain, extractArchiveDir, parseNodeModuleVersion, readSmall, walkTarball } from './archive.js';
import { ensureTarball, progress, type TarballRecord, tarballKey } from './download.js';
import type { NodeArch, NodeSourceOptions } from './remote.js';
import { parseExactVersion } from './versions.js';

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
  /** The release archive it came from, as verified when downloaded (what provenance names). */
  tarball: { url: string; integrity: string };
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
    const rt = async (r: RuntimeRecord, t: TarballRecord): Promise<NodeRuntime> => {
      const headers = join(toolchainPath(store, v, a), 'include', 'node');
      const tarball = { url: t.url, integrity: t.integrity };
      return { version: v, arch: a, ...r, tarball, ...((await exists(headers)) && { headersDir: headers }) };
    };
    const runtimes = store.record('node-runtime');
    const present = async (r: RuntimeRecord) =>
      (await store.size(r.binary.digest)) === r.binary.size &&
      (await store.size(r.license.digest)) === r.license.size;
    const known = await store.record('node-tarball').get(key);
    const r = known && (await runtimes.get({ tarball: known.tarball.digest }, { usable: present }));
    if (r) return rt(r, known);
    const rec = await ensureTarball(v, a, opts);
    const extracted = await extractRuntime(rec, v, opts);
    await runtimes.put({ tarball: rec.tarball.digest }, extracted);
    return rt(extracted, rec);
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, `getting the Node ${v} runtime for linux/${a}`);
  }
}

/** A release archive as verified when it was downloaded: where from, and its integrity. */
export interface NodeRelease {
  url: string;
  /** SRI (`sha512-...`) from the npm registry, `sha256:<hex>` from a mirror's SHASUMS256.txt. */
  integrity: string;
}

/**
 * The release archive of an exact version as the store (or a remote cache) recorded it when it
 * was downloaded and verified, without the archive and without any network; undefined when it was
 * never fetched. What a result made of the release is keyed by (build/node-layer.ts).
 */
export async function knownNodeRelease(
  version: string,
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<NodeRelease | undefined> {
  const t = await opts.store
    .record('node-tarball')
    .get(tarballKey(exactVersion(version), checkArch(arch), opts));
  return t && { url: t.url, integrity: t.integrity };
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
