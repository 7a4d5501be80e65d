/**
 * An apt repository over HTTP, verified the way apt verifies it: the InRelease signature against
 * trusted keys, every index against the SHA256 and size the signed Release lists, every .deb
 * against the SHA256 and size its Packages stanza lists. Indexes and packages are downloaded
 * into the content-addressed store (so a second run downloads nothing) and only kept when they
 * match; Packages indexes are decompressed and parsed as they stream out of the store.
 */
import type * as openpgp from 'openpgp';
import type { BinaryPackage, PackageIndex } from '../../debian/resolver.js';
import { DistillError, isDistillError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { Store } from '../../store/store.js';
import { downloadToStore, type HttpContext, httpGetText } from './http.js';
import { loadDefaultKeys } from './keys.js';
import { readPackages } from './packages.js';
import {
  checkValidUntil,
  inReleaseDigest,
  parseRelease,
  type ReleaseInfo,
  readTrustedKeys,
  verifyInRelease,
} from './release.js';

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

export interface AptProgress {
  what: string;
  done: number;
  total?: number;
}

export interface AptOptions {
  /**
   * Suite -> archive root: the suite's InRelease, indexes and .debs all come from it. Suites
   * not listed here get `mirror` or `securityMirror`.
   */
  mirrors?: Readonly<Record<string, string>>;
  /** Archive root of the suites not in `mirrors`; default http://deb.debian.org/debian. */
  mirror?: string;
  /**
   * Archive root for suites ending in `-security` not in `mirrors`; default
   * http://deb.debian.org/debian-security, unless `mirror` was given and this was not (then
   * `mirror` serves every suite).
   */
  securityMirror?: string;
  /** Armored or binary OpenPGP public keys; default: the Debian archive keys shipped in keys/. */
  keys?: (string | Uint8Array)[];
  store: Store;
  onProgress?: (e: AptProgress) => void;
  /**
   * Accept a Release whose Valid-Until has passed (rebuilding from a locked, old snapshot).
   * Default false: an expired Release is APT_RELEASE_EXPIRED.
   */
  ignoreValidUntil?: boolean;
  /** The time Valid-Until is checked against; default now (tests). */
  now?: () => Date;
  /** Tests only. */
  fetchImpl?: typeof fetch;
  /** Retries after the first attempt for 5xx and connection failures; default 3. */
  retries?: number;
  /** First retry delay in ms, doubled each time; default 300. */
  retryDelayMs?: number;
}

export interface DebRef {
  name: string;
  version: string;
  /** Path relative to the archive root (the Packages `Filename`). */
  filename: string;
  sha256: string;
  size: number;
  /** The suite the package came from (chooses the mirror). */
  suite: string;
}

const SUITE_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const NAME_RE = /^[a-z0-9][a-z0-9._/-]*$/;

function checkPathPart(kind: string, value: string, re: RegExp): void {
  if (!re.test(value) || value.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new DistillError('USAGE', `"${value}" is not a valid ${kind}`);
  }
}

/** The errors of a mirror that does not answer as it should (not of bad content). */
const MIRROR_FAILURES = new Set<string>(['NETWORK', 'HTTP', 'NOT_FOUND']);

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export class AptSource {
  private readonly store: Store;
  private readonly mirrors: ReadonlyMap<string, string>;
  private readonly mirror: string;
  private readonly securityMirror: string;
  private readonly http: HttpContext;
  private readonly keysInput: (string | Uint8Array)[] | undefined;
  private readonly ignoreValidUntil: boolean;
  private readonly now: () => Date;
  private keys: Promise<openpgp.PublicKey[]> | undefined;
  private readonly releases = new Map<string, Promise<ReleaseInfo>>();
  private readonly indexes = new Map<string, Promise<readonly BinaryPackage[]>>();

  constructor(opts: AptOptions) {
    this.store = opts.store;
    this.mirrors = new Map(Object.entries(opts.mirrors ?? {}).map(([s, url]) => [s, trimSlash(url)]));
    this.mirror = trimSlash(opts.mirror ?? DEFAULT_MIRROR);
    this.securityMirror = trimSlash(
      opts.securityMirror ?? (opts.mirror !== undefined ? opts.mirror : DEFAULT_SECURITY_MIRROR),
    );
    this.keysInput = opts.keys;
    this.ignoreValidUntil = opts.ignoreValidUntil ?? false;
    this.now = opts.now ?? (() => new Date());
    this.http = {
      fetchImpl: opts.fetchImpl ?? fetch,
      retries: opts.retries ?? 3,
      retryDelayMs: opts.retryDelayMs ?? 300,
      onProgress: opts.onProgress,
    };
  }

  /** The archive root serving `suite`. */
  mirrorFor(suite: string): string {
    return this.mirrors.get(suite) ?? (suite.endsWith('-security') ? this.securityMirror : this.mirror);
  }

  /**
   * What to do when `suite`'s mirror fails. Every download error of a suite is wrapped by
   * `fromMirror`, so the message names the suite and the mirror whatever URL failed.
   */
  private hint(suite: string): string {
    return `check the network and the mirror, or give ${suite} another one with --mirror ${suite}=URL`;
  }

  private async fromMirror<T>(suite: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (!(err instanceof DistillError) || !MIRROR_FAILURES.has(err.code)) throw err;
      throw new DistillError(err.code, `${suite} from ${this.mirrorFor(suite)}: ${err.message}`, {
        cause: err,
      });
    }
  }

  /** URL of a file of the pool, e.g. `pool/main/g/glibc/libc6_2.41-12_amd64.deb`. */
  debUrl(suite: string, filename: string): string {
    checkPathPart('suite name', suite, SUITE_RE);
    if (
      !/^[A-Za-z0-9][A-Za-z0-9+~.,_/%-]*$/.test(filename) ||
      filename.split('/').some((s) => s === '..' || s === '.' || s === '')
    ) {
      throw new DistillError('DEB822_INVALID', `"${filename}" is not a valid Filename in a Packages index`);
    }
    return `${this.mirrorFor(suite)}/${filename}`;
  }

  private trustedKeys(): Promise<openpgp.PublicKey[]> {
    if (!this.keys) {
      const input = this.keysInput;
      this.keys = (async () => readTrustedKeys(input ?? (await loadDefaultKeys())))();
      this.keys.catch(() => {
        this.keys = undefined;
      });
    }
    return this.keys;
  }

  /** Downloads, verifies and parses `dists/<suite>/InRelease` (once per instance). */
  release(suite: string): Promise<ReleaseInfo> {
    let p = this.releases.get(suite);
    if (!p) {
      p = this.loadRelease(suite);
      this.releases.set(suite, p);
      p.catch(() => this.releases.delete(suite));
    }
    return p;
  }

  private async loadRelease(suite: string): Promise<ReleaseInfo> {
    checkPathPart('suite name', suite, SUITE_RE);
    const mirror = this.mirrorFor(suite);
    const url = `${mirror}/dists/${suite}/InRelease`;
    const keys = await this.trustedKeys();
    const text = await this.fromMirror(
      suite,
      httpGetText(this.http, url, {
        notFound: `check the suite name "${suite}" (e.g. trixie, trixie-updates, trixie-security) and its mirror (--mirror ${suite}=URL)`,
        failed: this.hint(suite),
      }),
    );
    const { signedText } = await verifyInRelease(text, keys, url);
    const info = { ...parseRelease(signedText, mirror, url), inReleaseSha256: inReleaseDigest(text) };
    if (info.suite !== suite && info.codename !== suite) {
      // A genuine but different release served for this suite (a replay or a misconfigured mirror).
      throw new DistillError(
        'APT_RELEASE_INVALID',
        `${url} is the Release of suite "${info.suite}" (codename "${info.codename}"), not "${suite}"; check the mirror`,
      );
    }
    if (!this.ignoreValidUntil) checkValidUntil(info, url, this.now());
    return info;
  }

  /**
   * The binary packages of `suite` for `arch` in the given components (default main), arch:all
   * packages included as the index lists them. Parsed once per (suite, arch, component).
   */
  async packages(suite: string, arch: string, components: string[] = ['main']): Promise<PackageIndex> {
    checkPathPart('architecture', arch, /^[a-z0-9][a-z0-9-]*$/);
    for (const c of components) checkPathPart('component', c, NAME_RE);
    const rel = await this.release(suite);
    const lists = await Promise.all(components.map((c) => this.componentIndex(suite, rel, c, arch)));
    return { suite, packages: lists.length === 1 ? lists[0]! : lists.flat() };
  }

  /**
   * Only the stanzas of the named packages (any version, any suite entry), read in one streaming
   * pass without keeping the rest: what a base of hand-listed packages and `lock --check` need,
   * in a few megabytes instead of the hundreds a whole parsed index takes. Not memoized.
   */
  async packagesNamed(
    suite: string,
    arch: string,
    names: ReadonlySet<string>,
    components: string[] = ['main'],
  ): Promise<PackageIndex> {
    checkPathPart('architecture', arch, /^[a-z0-9][a-z0-9-]*$/);
    for (const c of components) checkPathPart('component', c, NAME_RE);
    const full = components.every((c) => this.indexes.has(`${suite}\0${arch}\0${c}`));
    if (full) {
      const all = await this.packages(suite, arch, components);
      return { suite, packages: all.packages.filter((p) => names.has(p.name)) };
    }
    const rel = await this.release(suite);
    const lists = await Promise.all(components.map((c) => this.loadIndex(suite, rel, c, arch, names)));
    return { suite, packages: lists.flat() };
  }

  private componentIndex(
    suite: string,
    rel: ReleaseInfo,
    component: string,
    arch: string,
  ): Promise<readonly BinaryPackage[]> {
    const key = `${suite}\0${arch}\0${component}`;
    let p = this.indexes.get(key);
    if (!p) {
      p = this.loadIndex(suite, rel, component, arch);
      this.indexes.set(key, p);
      p.catch(() => this.indexes.delete(key));
    }
    return p;
  }

  private async loadIndex(
    suite: string,
    rel: ReleaseInfo,
    component: string,
    arch: string,
    only?: ReadonlySet<string>,
  ): Promise<readonly BinaryPackage[]> {
    const dir = `${component}/binary-${arch}`;
    // gzip first: Node's zlib inflates it in a fraction of the time the WASM xz decoder takes.
    const chosen = (['.gz', '.xz', ''] as const)
      .map((ext) => ({ ext, path: `${dir}/Packages${ext}`, entry: rel.files.get(`${dir}/Packages${ext}`) }))
      .find((c) => c.entry !== undefined);
    if (!chosen?.entry) {
      const archs = rel.architectures.length > 0 ? rel.architectures.join(' ') : '(not listed)';
      const comps = rel.components.length > 0 ? rel.components.join(' ') : '(not listed)';
      throw new DistillError(
        'APT_INDEX_MISSING',
        `the Release of ${suite} at ${rel.mirror} lists no Packages index for component "${component}", ` +
          `architecture "${arch}" (architectures: ${archs}; components: ${comps})`,
      );
    }
    const { ext, path, entry } = chosen;
    const expected = { digest: `sha256:${entry.sha256}` as Digest, size: entry.size };
    const base = `${rel.mirror}/dists/${suite}`;
    const plainUrl = `${base}/${path}`;
    const what = `Packages index ${path} of ${suite}`;
    const source = `Packages (${suite} ${component} ${arch})`;
    for (let attempt = 0; ; attempt++) {
      if (!(await this.store.has(expected.digest))) {
        const urls = rel.acquireByHash
          ? [`${base}/${dir}/by-hash/SHA256/${entry.sha256}`, plainUrl]
          : [plainUrl];
        try {
          await this.fromMirror(
            suite,
            downloadToStore(this.http, this.store, urls, expected, what, {
              notFound: `the signed Release lists it: the mirror may be mid-sync (retry later) or incomplete`,
              failed: this.hint(suite),
            }),
          );
        } catch (err) {
          if (isDistillError(err, 'DIGEST_MISMATCH') || isDistillError(err, 'SIZE_MISMATCH')) {
            throw new DistillError(
              'APT_INDEX_HASH_MISMATCH',
              `${path} of ${suite} from the mirror ${rel.mirror} does not match the SHA256 and size its signed ` +
                `Release lists (${err.message}); the mirror may be mid-sync or tampered with: retry later or use another --mirror`,
              { cause: err },
            );
          }
          throw err;
        }
      }
      try {
        const stream = await this.store.open(expected.digest, expected.size);
        return await readPackages(stream, ext, suite, source, only);
      } catch (err) {
        // The cached copy may have gone bad on disk; the decompressor can notice before the
        // store's end-of-stream check does. readBytes re-verifies it (and removes it when bad):
        // then download it once more.
        if (
          attempt === 0 &&
          !isDistillError(err, 'DEB822_INVALID') &&
          !isDistillError(err, 'VERSION_INVALID')
        ) {
          const intact = await this.store.readBytes(expected.digest, expected.size).then(
            () => true,
            () => false,
          );
          if (!intact) continue;
        }
        if (isDistillError(err)) throw err;
        throw new DistillError(
          'ARCHIVE_INVALID',
          `${source} from ${plainUrl} matches its signed checksum but cannot be decompressed: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  }

  /**
   * Downloads a .deb into the store, verified against the SHA256 and size of its Packages
   * stanza. A package already in the store is not downloaded again.
   */
  async fetchDeb(pkg: DebRef): Promise<{ digest: Digest; size: number }> {
    if (!/^[0-9a-f]{64}$/.test(pkg.sha256) || !Number.isSafeInteger(pkg.size) || pkg.size < 0) {
      throw new DistillError(
        'DEB822_INVALID',
        `${pkg.name} ${pkg.version}: the Packages index gives no valid SHA256 and Size for it`,
      );
    }
    const expected = { digest: `sha256:${pkg.sha256}` as Digest, size: pkg.size };
    const url = this.debUrl(pkg.suite, pkg.filename);
    if ((await this.store.size(expected.digest)) === pkg.size) return expected;
    try {
      const r = await this.fromMirror(
        pkg.suite,
        downloadToStore(this.http, this.store, [url], expected, `${pkg.name}_${pkg.version}.deb`, {
          notFound: `the package ${pkg.name} ${pkg.version} is not on the mirror (the index may be stale: retry, or give ${pkg.suite} its mirror with --mirror ${pkg.suite}=URL)`,
          failed: this.hint(pkg.suite),
        }),
      );
      return { digest: r.digest, size: r.size };
    } catch (err) {
      if (isDistillError(err, 'DIGEST_MISMATCH') || isDistillError(err, 'SIZE_MISMATCH')) {
        throw new DistillError(
          'APT_DEB_HASH_MISMATCH',
          `${pkg.name} ${pkg.version} downloaded from ${url} does not match the SHA256 and size of the signed ` +
            `Packages index (${err.message}); the mirror may be corrupt or tampered with: retry or use another --mirror`,
          { cause: err },
        );
      }
      throw err;
    }
  }
}
