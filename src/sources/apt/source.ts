/**
 * An apt repository over HTTP, verified the way apt verifies it: the InRelease signature against
 * trusted keys, every index against the SHA256 and size the signed Release lists, every .deb
 * against the SHA256 and size its Packages stanza lists. Indexes and packages are downloaded
 * into the content-addressed store (so a second run downloads nothing) and only kept when they
 * match; Packages indexes are decompressed and parsed as they stream out of the store.
 */
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type * as openpgp from 'openpgp';
import xzDecompress from 'xz-decompress';
import { Paragraph, parseDeb822Stream } from '../../debian/deb822.js';
import { BinaryPackage, type PackageIndex } from '../../debian/resolver.js';
import { DistillError, isDistillError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { Store } from '../../store/store.js';
import { downloadToStore, type HttpContext, httpGetText } from './http.js';
import { loadDefaultKeys } from './keys.js';
import {
  checkValidUntil,
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
  /** Archive root; default http://deb.debian.org/debian. */
  mirror?: string;
  /**
   * Archive root for suites ending in `-security`; default
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

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

export class AptSource {
  private readonly store: Store;
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
    return suite.endsWith('-security') ? this.securityMirror : this.mirror;
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
    const text = await httpGetText(
      this.http,
      url,
      `check the suite name "${suite}" (e.g. trixie, trixie-updates, trixie-security) and the mirror ${mirror}`,
    );
    const { signedText } = await verifyInRelease(text, keys, url);
    const info = parseRelease(signedText, mirror, url);
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
          await downloadToStore(
            this.http,
            this.store,
            urls,
            expected,
            what,
            `check the mirror ${rel.mirror}`,
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
      const r = await downloadToStore(
        this.http,
        this.store,
        [url],
        expected,
        `${pkg.name}_${pkg.version}.deb`,
        `the package ${pkg.name} ${pkg.version} is not on the mirror (the index may be stale: retry, or check the mirror)`,
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

/** Decompresses and parses a Packages stream into BinaryPackages, without holding its text. */
const INDEX_FIELDS = new Set(
  [
    'Package',
    'Version',
    'Architecture',
    'Multi-Arch',
    'Provides',
    'Depends',
    'Pre-Depends',
    'Conflicts',
    'Breaks',
    'Replaces',
    'Filename',
    'Size',
    'SHA256',
    'Priority',
    'Essential',
    'Source',
  ].map((f) => f.toLowerCase()),
);

const interned = new Map<string, string>();
function intern(s: string): string {
  let v = interned.get(s);
  if (v === undefined) {
    v = ownString(s);
    interned.set(v, v);
  }
  return v;
}

/**
 * A copy of `s` that does not keep alive the decompressed chunk it was cut from: V8 keeps
 * substrings as slices of their parent, which would hold the whole index text in memory.
 */
function ownString(s: string): string {
  return s.length <= 12 ? intern2(s) : ` ${s}`.slice(1);
}

const small = new Map<string, string>();
function intern2(s: string): string {
  let v = small.get(s);
  if (v === undefined) {
    v = ` ${s}`.slice(1);
    if (small.size < 100_000) small.set(v, v);
  }
  return v;
}

/**
 * The paragraphs of a Packages index whose first field is `Package: <a wanted name>`, as text,
 * for the deb822 parser; the others are skipped after one look at their first line. A Packages
 * file always starts a stanza with Package (Debian policy 5.3), and the parser still checks
 * what is kept. This turns reading trixie's 68,000 stanzas for fifteen names from seconds of
 * parsing into a scan.
 */
async function* onlyParagraphsOf(
  chunks: AsyncIterable<Uint8Array>,
  names: ReadonlySet<string>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let carry = '';
  const keep = (para: string): boolean => {
    const start = para.startsWith('\n') ? para.replace(/^\n+/, '') : para;
    if (!start.startsWith('Package:')) return start.trim() !== '';
    const eol = start.indexOf('\n');
    return names.has(start.slice(8, eol < 0 ? undefined : eol).trim());
  };
  for await (const chunk of chunks) {
    carry += decoder.decode(chunk, { stream: true });
    const cut = carry.lastIndexOf('\n\n');
    if (cut < 0) continue;
    const block = carry.slice(0, cut + 2);
    carry = carry.slice(cut + 2);
    let out = '';
    for (const para of block.split('\n\n')) if (keep(para)) out += `${para}\n\n`;
    if (out !== '') yield out;
  }
  carry += decoder.decode();
  if (keep(carry)) yield carry;
}

async function readPackages(
  stream: Readable,
  ext: '.xz' | '.gz' | '',
  suite: string,
  source: string,
  only?: ReadonlySet<string>,
): Promise<BinaryPackage[]> {
  let chunks: AsyncIterable<Uint8Array>;
  if (ext === '.xz') {
    // xz-decompress is CommonJS: its named export lives on the default import
    const { XzReadableStream } = xzDecompress as unknown as { XzReadableStream: new (s: unknown) => unknown };
    chunks = new XzReadableStream(Readable.toWeb(stream)) as AsyncIterable<Uint8Array>;
  } else if (ext === '.gz') {
    chunks = pipeline(stream, createGunzip(), () => {});
  } else {
    chunks = stream;
  }
  const out: BinaryPackage[] = [];
  try {
    const input = only === undefined ? chunks : onlyParagraphsOf(chunks, only);
    for await (const p of parseDeb822Stream(input, { source })) {
      if (only !== undefined && !only.has(p.get('Package') ?? '')) continue;
      // Keep only what resolving and fetching read: the index's descriptions, tags and the like
      // are most of its 50 MB and would stay in memory for nothing.
      const fields = p.fields
        .filter((f) => INDEX_FIELDS.has(f.name.toLowerCase()))
        .map((f) => ({ name: intern(f.name), value: ownString(f.value), line: f.line }));
      out.push(new BinaryPackage(new Paragraph(fields, p.line), suite));
    }
  } finally {
    stream.destroy();
  }
  return out;
}
