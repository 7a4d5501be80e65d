import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { abortError, checkAborted, DistillError, wrapError } from '../../errors.js';
import { hostCwd, hostEnv } from '../../host.js';
import type { Store } from '../../store/store.js';

export type NodeArch = 'x64' | 'arm64';

export interface NodeSourceOptions {
  store: Store;
  /** npm registry base URL (default: see defaultNpmRegistry). */
  registry?: string;
  /**
   * A Node.js dist mirror base URL, e.g. https://nodejs.org/dist; when given it is used instead
   * of the npm registry (index.json, v<ver>/SHASUMS256.txt, v<ver>/node-v<ver>-linux-<arch>.tar.xz).
   */
  mirror?: string;
  fetchImpl?: typeof fetch;
  onProgress?: (e: { what: string; done: number; total?: number }) => void;
  /** The day `lts` means (default: now). */
  now?: Date;
  /** Whose version list listNodeVersions and resolveNodeVersion read (default x64). */
  arch?: NodeArch;
  /** Stops requests (and the downloads of their bodies): they reject with ABORTED. */
  signal?: AbortSignal;
}

export const DEFAULT_NPM_REGISTRY = 'https://registry.npmjs.org/';

/**
 * The npm registry to use: `npm_config_registry` from `env`, else the `registry=` line of the
 * project's `.npmrc` (in `cwd`) or the user's `~/.npmrc`, else registry.npmjs.org.
 */
export function defaultNpmRegistry(env: NodeJS.ProcessEnv = hostEnv(), cwd = hostCwd()): string {
  const fromEnv = env.npm_config_registry ?? env.NPM_CONFIG_REGISTRY;
  if (fromEnv) return fromEnv;
  for (const file of [join(cwd, '.npmrc'), join(env.HOME ?? homedir(), '.npmrc')]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const m = /^\s*registry\s*=\s*(\S+)\s*$/m.exec(text);
    if (m && /^https?:\/\//.test(m[1]!)) return m[1]!;
  }
  return DEFAULT_NPM_REGISTRY;
}

export function registryBase(opts: NodeSourceOptions): string {
  return (opts.registry ?? defaultNpmRegistry()).replace(/\/+$/, '');
}

export function mirrorBase(opts: NodeSourceOptions): string | undefined {
  return opts.mirror?.replace(/\/+$/, '');
}

export function npmPackageName(arch: NodeArch): string {
  return `node-linux-${arch}`;
}

/** GETs a URL; a non-2xx status is HTTP (NOT_FOUND for 404), a failed connection NETWORK. */
export async function httpGet(url: string, opts: NodeSourceOptions, accept?: string): Promise<Response> {
  const f = opts.fetchImpl ?? fetch;
  let res: Response;
  try {
    checkAborted(opts.signal);
    res = await f(url, {
      ...(accept && { headers: { accept } }),
      ...(opts.signal && { signal: opts.signal }),
    });
  } catch (err) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    const cause = (err as { cause?: unknown }).cause ?? err;
    const e = wrapError(cause, `fetching ${url}`);
    throw new DistillError(
      e.code === 'INTERNAL' || e.code === 'IO' ? 'NETWORK' : e.code,
      `${e.message}; check the network, or point distill at a reachable npm registry or Node mirror`,
      { cause: err },
    );
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new DistillError(
      res.status === 404 ? 'NOT_FOUND' : 'HTTP',
      `fetching ${url} failed: HTTP ${res.status} ${res.statusText}`.trim(),
    );
  }
  return res;
}

export async function getJson(url: string, opts: NodeSourceOptions, accept?: string): Promise<unknown> {
  const res = await httpGet(url, opts, accept);
  const text = await res.text().catch((err: unknown) => {
    throw wrapError(err, `reading ${url}`);
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DistillError('HTTP', `${url} did not return JSON: ${(err as Error).message}`, { cause: err });
  }
}

export function bodyStream(res: Response): Readable {
  if (!res.body) return Readable.from([]);
  return Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
}

export interface PackumentVersion {
  version: string;
  dist: { tarball: string; integrity?: string; shasum?: string };
  /** The package's own engines.node, when it declares one. */
  enginesNode?: string;
}

/** The versions of `node-linux-<arch>` in the registry, with their dist records. */
export function fetchPackument(
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<{ name: string; url: string; versions: Map<string, PackumentVersion> }> {
  return fetchNpmPackument(npmPackageName(arch), opts);
}

/** The versions of any npm package (abbreviated metadata), with their dist records and dist-tags. */
export async function fetchNpmPackument(
  name: string,
  opts: NodeSourceOptions,
): Promise<{
  name: string;
  url: string;
  versions: Map<string, PackumentVersion>;
  distTags: Record<string, string>;
}> {
  const url = `${registryBase(opts)}/${name.replace('/', '%2f')}`;
  let doc: unknown;
  try {
    doc = await getJson(url, opts, 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8');
  } catch (err) {
    throw wrapError(err, `reading the ${name} package from the npm registry`);
  }
  const raw = (doc as { versions?: unknown } | null)?.versions;
  if (!raw || typeof raw !== 'object') {
    throw new DistillError('HTTP', `${url} is not an npm packument: it has no "versions" object`);
  }
  const versions = new Map<string, PackumentVersion>();
  for (const [v, rec] of Object.entries(raw as Record<string, unknown>)) {
    const dist = (rec as { dist?: Record<string, unknown> } | null)?.dist;
    if (!dist || typeof dist.tarball !== 'string') continue;
    const engines = (rec as { engines?: { node?: unknown } }).engines;
    versions.set(v, {
      version: v,
      dist: {
        tarball: dist.tarball,
        ...(typeof dist.integrity === 'string' && { integrity: dist.integrity }),
        ...(typeof dist.shasum === 'string' && { shasum: dist.shasum }),
      },
      ...(typeof engines?.node === 'string' && { enginesNode: engines.node }),
    });
  }
  const tags = (doc as { 'dist-tags'?: unknown })['dist-tags'];
  const distTags: Record<string, string> = {};
  if (tags && typeof tags === 'object') {
    for (const [k, v] of Object.entries(tags)) if (typeof v === 'string') distTags[k] = v;
  }
  return { name, url, versions, distTags };
}

export interface MirrorRelease {
  version: string; // without the v
  lts: string | undefined;
  files: string[];
}

/** A dist mirror's index.json, releases that ship a linux-<arch> build. */
export async function fetchMirrorIndex(
  mirror: string,
  arch: NodeArch,
  opts: NodeSourceOptions,
): Promise<MirrorRelease[]> {
  const url = `${mirror}/index.json`;
  const doc = await getJson(url, opts);
  if (!Array.isArray(doc))
    throw new DistillError('HTTP', `${url} is not a Node dist index: not a JSON array`);
  const out: MirrorRelease[] = [];
  for (const r of doc as unknown[]) {
    const rec = r as { version?: unknown; lts?: unknown; files?: unknown } | null;
    if (typeof rec?.version !== 'string') continue;
    const files = Array.isArray(rec.files) ? rec.files.filter((f): f is string => typeof f === 'string') : [];
    // Releases without a files list (hand-made mirrors) are assumed to have every build.
    if (files.length > 0 && !files.includes(`linux-${arch}`)) continue;
    out.push({
      version: rec.version.replace(/^v/, ''),
      lts: typeof rec.lts === 'string' && rec.lts !== '' ? rec.lts : undefined,
      files,
    });
  }
  return out;
}
