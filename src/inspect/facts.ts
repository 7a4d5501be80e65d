/**
 * Facts about an image, from its merged filesystem and its config. The harvester reads the few
 * files facts need while the layers stream by (every read capped); the rest comes from metadata.
 * The shape is the versioned JSON schema of schema.ts: plain data, lists sorted, paths absolute.
 */
import type { ImageConfigJson } from '../oci/types.js';
import { readHead, scanFor } from './content.js';
import { LOTL_TOOLS } from './lotl.js';
import type { Harvester, MergeOptions } from './merge.js';
import {
  type DatabaseProbe,
  DEFAULT_PACKAGE_LIMITS,
  NPM_PACKAGE_JSON,
  type NpmProbe,
  type PackageLimits,
  parsePackageJson,
  readApkInstalled,
  readDpkg,
} from './packages.js';
import { resolvePath } from './resolve.js';
import {
  envSecret,
  isDotenv,
  isPrivateKey,
  npmrcHasToken,
  redactEnv,
  type SecretKind,
  SNIFF_BYTES,
} from './secrets.js';
import type { Tree, TreeNode } from './tree.js';

export const FACTS_SCHEMA_VERSION = 1;

export interface Executable {
  name: string;
  /** Where it was found, `/bin/sh`. */
  path: string;
  /** The file `path` resolves to when that is another path (`/bin/sh` -> `/bin/dash`), else null. */
  target: string | null;
  /** `unknown`: the path is a symlink loop (or a chain of more than 40 links). */
  status: 'present' | 'unknown';
}

export interface LotlFinding extends Executable {
  reason: string;
}

export interface SpecialFile {
  path: string;
  /** Octal permission bits, `4755`. */
  mode: string;
  uid: number;
  gid: number;
  setuid: boolean;
  setgid: boolean;
}

export interface WritablePath {
  path: string;
  type: 'file' | 'dir' | 'other';
  mode: string;
}

export interface Package {
  type: 'deb' | 'apk' | 'npm';
  name: string;
  version: string | null;
  /** The database file it is listed in, or the package's directory for npm. */
  path: string;
  /** deb only: the Architecture the database lists (amd64, all); absent when it lists none. */
  architecture?: string;
}

export interface PackageDatabase {
  type: 'deb' | 'apk' | 'rpm';
  path: string;
  /** Packages listed; null when not read (rpm). */
  count: number | null;
}

export interface LayerFact {
  /** 0 for the base layer. */
  index: number;
  digest: string | null;
  diffId: string | null;
  mediaType: string | null;
  compressed: number;
  uncompressed: number;
  entries: number;
  createdBy: string | null;
}

export interface SecretFinding {
  kind: SecretKind;
  /** An environment variable's name, or a file's path. Never the value. */
  location: string;
  source: 'config' | 'filesystem';
  /** The layer holding the file; null for the config. */
  layer: number | null;
  /** The file was deleted or replaced by a later layer: hidden in the container, still in the image. */
  removed: boolean;
}

export interface Facts {
  schemaVersion: typeof FACTS_SCHEMA_VERSION;
  source: {
    kind: 'image' | 'rootfs';
    manifestDigest: string | null;
    configDigest: string | null;
    /** `linux/amd64`, from the config. */
    platform: string | null;
  };
  os: {
    id: string | null;
    version: string | null;
    /** VERSION_CODENAME of os-release (trixie), else null. */
    codename: string | null;
    prettyName: string | null;
    path: string | null;
  };
  libc: { family: 'glibc' | 'musl' | 'none'; version: string | null; path: string | null };
  shells: Executable[];
  packageManagers: Executable[];
  lotl: LotlFinding[];
  setuid: SpecialFile[];
  worldWritable: WritablePath[];
  /** The config's User; null when unset (root). */
  user: string | null;
  /** null when it cannot be told (a user name not in /etc/passwd, or no config). */
  runsAsRoot: boolean | null;
  entrypoint: string[] | null;
  cmd: string[] | null;
  workingDir: string | null;
  /** The config's Env, values of likely secrets replaced by `<redacted>`. */
  env: string[];
  exposedPorts: string[];
  packages: Package[];
  packageDatabases: PackageDatabase[];
  node: { version: string | null; source: 'binary' | 'env'; path: string | null } | null;
  size: { compressed: number; uncompressed: number };
  layers: LayerFact[];
  wastedBytes: number;
  secrets: SecretFinding[];
  /** Only when the security archive was asked about (security.ts): whether it could be. */
  security?: SecurityStatus;
  /** With `security`: the deb packages its archive has a newer version of (empty when not checked). */
  securityUpdates?: SecurityUpdate[];
  warnings: string[];
}

export interface SecurityStatus {
  /** False when the image is not Debian, its release is unknown, or the archive could not be read. */
  checked: boolean;
  /** The suite asked, `trixie-security`. */
  suite?: string;
  /** Why it was not checked. */
  reason?: string;
}

export interface SecurityUpdate {
  name: string;
  /** The architecture compared (the installed package's, or the image's when its database lists none). */
  architecture: string;
  installed: string;
  available: string;
  suite: string;
}

// ---- what the harvester attaches to nodes ----

interface OsReleaseProbe {
  kind: 'os-release';
  fields: Record<string, string>;
  problems: string[];
}
interface PasswdProbe {
  kind: 'passwd';
  users: Map<string, number>;
}
interface VersionProbe {
  kind: 'glibc-version' | 'node-version';
  version: string | undefined;
}
interface SecretProbe {
  kind: 'secret';
  secret: SecretKind;
}
interface SkippedProbe {
  kind: 'npm-skipped';
}
type Probe =
  | OsReleaseProbe
  | PasswdProbe
  | VersionProbe
  | SecretProbe
  | SkippedProbe
  | DatabaseProbe
  | NpmProbe;

function probeOf(node: TreeNode | undefined): Probe | undefined {
  return node?.probe as Probe | undefined;
}

export interface FactLimits extends PackageLimits {
  /** package.json files under node_modules read at most (default 50,000). */
  maxPackageJsonFiles: number;
}

export const DEFAULT_FACT_LIMITS: FactLimits = { ...DEFAULT_PACKAGE_LIMITS, maxPackageJsonFiles: 50_000 };

const STATUS_D = 'var/lib/dpkg/status.d';
const MAX_SECRETS = 1000;

/** Parses os-release(5): `KEY=value` lines, values optionally quoted; bad lines are problems. */
export function parseOsRelease(bytes: Uint8Array): OsReleaseProbe {
  const probe: OsReleaseProbe = { kind: 'os-release', fields: {}, problems: [] };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    probe.problems.push('is not UTF-8 text');
    return probe;
  }
  if (text.includes('\0')) {
    probe.problems.push('is not text (it holds NUL bytes)');
    return probe;
  }
  let bad = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      bad++;
      continue;
    }
    let v = m[2]!;
    const q = v[0];
    if (q === '"' || q === "'") {
      if (v.length < 2 || v[v.length - 1] !== q) {
        bad++;
        continue;
      }
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\(.)/g, '$1');
    }
    probe.fields[m[1]!] = v;
  }
  if (bad > 0) probe.problems.push(`has ${bad} lines that are not KEY=value`);
  return probe;
}

function parsePasswd(bytes: Uint8Array): PasswdProbe {
  const users = new Map<string, number>();
  for (const line of Buffer.from(bytes).toString('utf8').split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !/^\d+$/.test(f[2]!)) continue;
    if (!users.has(f[0]!)) users.set(f[0]!, Number(f[2]));
  }
  return { kind: 'passwd', users };
}

const GLIBC_FILE = /^libc-(\d+\.\d+)\.so$/;

function privateKey(): SecretProbe {
  return { kind: 'secret', secret: 'private-key' };
}

/**
 * Collects facts while an image is merged (`merge`: the harvester and the hook that remembers
 * secrets in removed files) and builds them afterwards (`facts`).
 */
export function factCollector(limits: FactLimits = DEFAULT_FACT_LIMITS): {
  merge: Pick<MergeOptions, 'harvest' | 'onRemove'>;
  facts(tree: Tree, ctx: FactContext): Facts;
} {
  let packageJsonRead = 0;
  const removedSecrets: SecretFinding[] = [];

  const harvest: Harvester = (path, entry, node, base) => {
    if (path === 'etc/os-release' || path === 'usr/lib/os-release') {
      return readHead(entry, 64 * 1024).then(({ bytes }) => parseOsRelease(bytes));
    }
    if (path === 'etc/passwd') return readHead(entry, 1024 * 1024).then(({ bytes }) => parsePasswd(bytes));
    if (path === 'var/lib/dpkg/status') return readDpkg(entry.open(), `/${path}`, 'required', limits);
    if (
      path.length === STATUS_D.length + 1 + base.length &&
      path.startsWith(`${STATUS_D}/`) &&
      !/\.(md5sums|list|conffiles)$/.test(base)
    ) {
      return readDpkg(entry.open(), `/${path}`, 'optional', limits);
    }
    if (path === 'lib/apk/db/installed') return readApkInstalled(entry.open(), `/${path}`, limits);
    if (base === 'package.json' && NPM_PACKAGE_JSON.test(path)) {
      if (packageJsonRead >= limits.maxPackageJsonFiles) return Promise.resolve({ kind: 'npm-skipped' });
      packageJsonRead++;
      return readHead(entry, limits.maxPackageJsonBytes + 1).then(({ bytes, truncated }) =>
        parsePackageJson(bytes, truncated),
      );
    }
    if (base === '.npmrc') {
      return readHead(entry, 64 * 1024).then(({ bytes }) =>
        npmrcHasToken(bytes.toString('utf8')) ? { kind: 'secret', secret: 'npmrc-token' } : undefined,
      );
    }
    if (isDotenv(base)) return Promise.resolve({ kind: 'secret', secret: 'dotenv' });
    if (base === 'libc.so.6' || GLIBC_FILE.test(base)) {
      return scanFor(entry.open(), 'GNU C Library', /GNU C Library[^\n\0]{0,120}? version (\d+\.\d+)/, {
        max: 32 * 1024 * 1024,
        window: 160,
      }).then((version) => ({ kind: 'glibc-version', version }));
    }
    if (base === 'node' && (node.mode & 0o111) !== 0) {
      return scanFor(entry.open(), '-headers.tar', /node-v(\d+\.\d+\.\d+)-headers\.tar/, {
        max: 512 * 1024 * 1024,
        window: 40,
      }).then((version) => ({ kind: 'node-version', version }));
    }
    if (node.size >= 27 && node.size <= 64 * 1024) {
      // Nearly every small file comes here: from the bytes the layer reader holds, when it can.
      const head = entry.peek?.(SNIFF_BYTES);
      if (head !== undefined) return isPrivateKey(head) ? Promise.resolve(privateKey()) : undefined;
      return readHead(entry, SNIFF_BYTES).then(({ bytes }) =>
        isPrivateKey(bytes) ? privateKey() : undefined,
      );
    }
    return undefined;
  };

  const onRemove: MergeOptions['onRemove'] = (path, node, byLayer) => {
    const p = probeOf(node);
    if (p?.kind === 'secret' && node.layer < byLayer && removedSecrets.length < MAX_SECRETS) {
      removedSecrets.push({
        kind: p.secret,
        location: path,
        source: 'filesystem',
        layer: node.layer,
        removed: true,
      });
    }
  };

  return {
    merge: { harvest, onRemove },
    facts: (tree, ctx) => buildFacts(tree, ctx, removedSecrets, limits),
  };
}

/** What facts need besides the tree. */
export interface FactContext {
  source: Facts['source'];
  /** The image config; undefined for a root filesystem. */
  config?: ImageConfigJson;
  /** Per layer, in order, what the manifest says (null for a root filesystem). */
  layers: { digest: string | null; diffId: string | null; mediaType: string | null }[];
}

/** Files and directories in a lib directory or one below it: where libc and its loaders are looked for. */
const LIB_FILE = /^\/(usr\/)?(local\/)?lib(32|64)?\/([^/]+\/)?[^/]+$/;
/** The first components of the paths LIB_FILE can match. */
const LIB_TOPS = new Set(['usr', 'local', 'lib', 'lib32', 'lib64']);

const STANDARD_BIN_DIRS = ['/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'];

const SHELLS = ['sh', 'ash', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'fish', 'tcsh', 'csh', 'busybox'];

interface ToolSpec {
  name: string;
  names?: readonly string[];
  pattern?: RegExp;
  /** Entry points off PATH that count too (run through their interpreter): need not be executable. */
  files?: readonly string[];
}

const PACKAGE_MANAGERS: readonly ToolSpec[] = [
  { name: 'apk' },
  { name: 'apt', names: ['apt', 'apt-get'] },
  { name: 'dpkg' },
  { name: 'rpm' },
  { name: 'dnf', names: ['dnf', 'dnf5', 'dnf-3'] },
  { name: 'microdnf' },
  { name: 'yum' },
  { name: 'pip', pattern: /^pip[0-9.]*$/ },
  {
    name: 'npm',
    names: ['npm', 'npx'],
    files: ['/usr/local/lib/node_modules/npm/bin/npm-cli.js', '/usr/lib/node_modules/npm/bin/npm-cli.js'],
  },
  { name: 'yarn', names: ['yarn', 'yarnpkg'] },
  { name: 'pnpm', names: ['pnpm', 'pnpx'] },
  {
    name: 'corepack',
    files: [
      '/usr/local/lib/node_modules/corepack/dist/corepack.js',
      '/usr/lib/node_modules/corepack/dist/corepack.js',
    ],
  },
];

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function byPath<T extends { path: string }>(a: T, b: T): number {
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

function byNameThenPath<T extends { name: string; path: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : byPath(a, b);
}

class ToolFinder {
  private readonly listings = new Map<string, string[]>();
  constructor(
    private readonly tree: Tree,
    readonly dirs: readonly string[],
    private readonly warn: (m: string) => void,
  ) {}

  /** Names in a bin directory (through symlinks), for pattern matches. */
  private list(dir: string): string[] {
    let names = this.listings.get(dir);
    if (!names) {
      const r = resolvePath(this.tree, dir);
      names = r.ok && r.node.children ? [...r.node.children.keys()].sort() : [];
      this.listings.set(dir, names);
    }
    return names;
  }

  /** The first bin directory holding `file` as an executable regular file (through symlinks). */
  executable(report: string, file: string): Executable | undefined {
    for (const dir of this.dirs) {
      const path = `${dir}/${file}`;
      const found = this.at(report, path, true);
      if (found) return found;
    }
    return undefined;
  }

  at(report: string, path: string, needExec: boolean): Executable | undefined {
    const r = resolvePath(this.tree, path);
    if (!r.ok) {
      if (r.reason !== 'loop') return undefined;
      this.warn(
        `${path} is a symlink loop or a chain of more than 40 links; whether ${report} is there is unknown`,
      );
      return { name: report, path, target: null, status: 'unknown' };
    }
    if (r.node.type !== 'file' || (needExec && (r.node.mode & 0o111) === 0)) return undefined;
    return { name: report, path, target: r.path === path ? null : r.path, status: 'present' };
  }

  /** Every file name the spec goes by, each at its first bin directory. */
  find(spec: ToolSpec): Executable[] {
    const names = new Set(spec.names ?? (spec.pattern ? [] : [spec.name]));
    if (spec.pattern)
      for (const d of this.dirs) for (const n of this.list(d)) if (spec.pattern.test(n)) names.add(n);
    const out: Executable[] = [];
    for (const n of names) {
      const e = this.executable(spec.name, n);
      if (e) out.push(e);
    }
    for (const f of spec.files ?? []) {
      const e = this.at(spec.name, f, false);
      if (e) out.push(e);
    }
    return out;
  }
}

function configEnv(config: ImageConfigJson | undefined): string[] {
  const env = config?.config?.Env;
  return Array.isArray(env) ? env.filter((e): e is string => typeof e === 'string') : [];
}

function envValue(env: readonly string[], name: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    const e = env[i]!;
    if (e.startsWith(`${name}=`)) return e.slice(name.length + 1);
  }
  return undefined;
}

function buildFacts(
  tree: Tree,
  ctx: FactContext,
  removedSecrets: readonly SecretFinding[],
  limits: FactLimits,
): Facts {
  const warnings = [...tree.warnings];
  const warn = (m: string) => warnings.push(m);
  const config = ctx.config;
  const env = configEnv(config);

  // ---- one walk over the merged tree ----
  const setuid: SpecialFile[] = [];
  const worldWritable: WritablePath[] = [];
  const packages: Package[] = [];
  const packageDatabases: PackageDatabase[] = [];
  const secrets: SecretFinding[] = [];
  const nodeBinaries: { path: string; version: string | undefined }[] = [];
  const libFiles: { path: string; base: string }[] = [];
  let npmUnreadable = 0;
  let npmSkipped = 0;
  let statusD: { count: number } | undefined;
  const dbProblems = (path: string, probe: DatabaseProbe) => {
    for (const p of probe.problems) warn(p.startsWith(path) ? p : `${path}: ${p}`);
  };

  // One view moves over the whole tree: a path is made only for the few nodes that are reported.
  tree.scan((node) => {
    const type = node.type;
    const mode = node.mode;
    if (type === 'file' && (mode & 0o6000) !== 0) {
      setuid.push({
        path: node.path,
        mode: octal(mode),
        uid: node.uid,
        gid: node.gid,
        setuid: (mode & 0o4000) !== 0,
        setgid: (mode & 0o2000) !== 0,
      });
    }
    // Device nodes (/dev/null, /dev/tty: 0666 by design in a root filesystem) and FIFOs are not
    // places to drop files; only files and directories without the sticky bit count.
    if ((type === 'file' || type === 'dir') && (mode & 0o002) !== 0 && !(type === 'dir' && mode & 0o1000)) {
      worldWritable.push({ path: node.path, type, mode: octal(mode) });
    }
    const depth = node.depth;
    if (depth >= 2 && depth <= 5 && LIB_TOPS.has(node.top)) {
      const path = node.path;
      if (LIB_FILE.test(path)) libFiles.push({ path, base: path.slice(path.lastIndexOf('/') + 1) });
    }
    const probe = probeOf(node);
    if (!probe) return;
    const path = node.path;
    switch (probe.kind) {
      case 'secret':
        secrets.push({
          kind: probe.secret,
          location: path,
          source: 'filesystem',
          layer: node.layer,
          removed: false,
        });
        break;
      case 'npm':
        if (probe.record) {
          packages.push({
            type: 'npm',
            name: probe.record.name,
            version: probe.record.version,
            path: path.slice(0, -'/package.json'.length),
          });
        } else npmUnreadable++;
        break;
      case 'npm-skipped':
        npmSkipped++;
        break;
      case 'node-version':
        nodeBinaries.push({ path, version: probe.version });
        break;
      case 'dpkg':
      case 'apk': {
        const type = probe.kind === 'dpkg' ? 'deb' : 'apk';
        if (path.startsWith(`/${STATUS_D}/`)) {
          statusD ??= { count: 0 };
          statusD.count += probe.packages.length;
        } else packageDatabases.push({ type, path, count: probe.packages.length });
        for (const r of probe.packages) {
          packages.push({
            type,
            name: r.name,
            version: r.version,
            path,
            ...(r.architecture !== undefined && { architecture: r.architecture }),
          });
        }
        dbProblems(path, probe);
        break;
      }
      default:
        break;
    }
  });
  if (statusD) packageDatabases.push({ type: 'deb', path: `/${STATUS_D}`, count: statusD.count });
  // rpm databases are detected, not read: the current format is SQLite (the older one Berkeley DB),
  // and parsing either is out of scope; the count is reported as unknown.
  for (const p of [
    '/var/lib/rpm/rpmdb.sqlite',
    '/var/lib/rpm/Packages',
    '/var/lib/rpm/Packages.db',
    '/usr/lib/sysimage/rpm/rpmdb.sqlite',
  ]) {
    if (tree.lookup(p)?.type === 'file') packageDatabases.push({ type: 'rpm', path: p, count: null });
  }
  if (npmUnreadable > 0) {
    warn(
      `${npmUnreadable} package.json files under node_modules could not be read or have no name; they are left out`,
    );
  }
  if (npmSkipped > 0) {
    warn(
      `more than ${limits.maxPackageJsonFiles} package.json files under node_modules; ${npmSkipped} were not read`,
    );
  }

  // ---- OS ----
  const os: Facts['os'] = { id: null, version: null, codename: null, prettyName: null, path: null };
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    const r = resolvePath(tree, p);
    if (!r.ok) {
      if (r.reason === 'loop') warn(`${p} is a symlink loop; the OS is unknown`);
      continue;
    }
    const probe = probeOf(r.node);
    if (probe?.kind !== 'os-release') continue;
    for (const problem of probe.problems) warn(`${p} ${problem}; the OS may be unknown or partial`);
    os.path = p;
    os.id = probe.fields.ID ?? null;
    os.version = probe.fields.VERSION_ID ?? null;
    os.codename = probe.fields.VERSION_CODENAME ?? null;
    os.prettyName = probe.fields.PRETTY_NAME ?? null;
    if (os.id === null) warn(`${p} has no ID; the OS is unknown`);
    break;
  }

  // ---- packages by name, for libc ----
  const pkg = (type: string, name: string) => packages.find((x) => x.type === type && x.name === name);

  // ---- libc ----
  const libc: Facts['libc'] = { family: 'none', version: null, path: null };
  const isFileAt = (path: string) => {
    const r = resolvePath(tree, path);
    return r.ok && r.node.type === 'file' ? r : undefined;
  };
  const libc6 = libFiles.find((f) => f.base === 'libc.so.6' && isFileAt(f.path));
  const muslLoader = libFiles.find((f) => /^ld-musl-.+\.so\.1$/.test(f.base) && isFileAt(f.path));
  const glibcLoader = libFiles.find((f) => /^ld-linux.*\.so\.\d+$/.test(f.base) && isFileAt(f.path));
  const glibcFile = libFiles.find((f) => GLIBC_FILE.test(f.base));
  if (libc6 || (glibcLoader && !muslLoader)) {
    libc.family = 'glibc';
    libc.path = (libc6 ?? glibcLoader)!.path;
    if (muslLoader)
      warn(`both glibc (${libc.path}) and musl (${muslLoader.path}) are present; libc is reported as glibc`);
    const fromPkg = pkg('deb', 'libc6') ?? pkg('apk', 'glibc');
    const probe = libc6 ? probeOf(isFileAt(libc6.path)?.node) : undefined;
    libc.version =
      /^(?:\d+:)?(\d+\.\d+)/.exec(fromPkg?.version ?? '')?.[1] ??
      (glibcFile ? GLIBC_FILE.exec(glibcFile.base)![1]! : undefined) ??
      (probe?.kind === 'glibc-version' ? probe.version : undefined) ??
      null;
  } else if (muslLoader) {
    libc.family = 'musl';
    libc.path = muslLoader.path;
    libc.version = /^(\d+\.\d+\.\d+)/.exec(pkg('apk', 'musl')?.version ?? '')?.[1] ?? null;
  }

  // ---- executables ----
  const pathDirs = (envValue(env, 'PATH') ?? '').split(':').filter((d) => d.startsWith('/'));
  const dirs = [...new Set([...STANDARD_BIN_DIRS, ...pathDirs.map((d) => d.replace(/\/+$/, ''))])].filter(
    (d) => d !== '',
  );
  const finder = new ToolFinder(tree, dirs, warn);
  const shells = SHELLS.flatMap((name) => finder.find({ name })).sort(byNameThenPath);
  const packageManagers = PACKAGE_MANAGERS.flatMap((s) => finder.find(s)).sort(byNameThenPath);
  const lotl = LOTL_TOOLS.flatMap((t) =>
    finder.find(t).map((e): LotlFinding => ({ ...e, reason: t.reason })),
  ).sort(byNameThenPath);

  // ---- node ----
  let nodeFact: Facts['node'] = null;
  const nodeOnPath = finder.executable('node', 'node');
  const onPathProbe = nodeOnPath ? probeOf(isFileAt(nodeOnPath.path)?.node) : undefined;
  const binary =
    nodeOnPath && onPathProbe?.kind === 'node-version'
      ? { path: nodeOnPath.path, version: onPathProbe.version }
      : (nodeBinaries.find((b) => b.version !== undefined) ?? nodeBinaries[0]);
  const nodeEnv = envValue(env, 'NODE_VERSION');
  if (binary?.version !== undefined)
    nodeFact = { version: binary.version, source: 'binary', path: binary.path };
  else if (nodeEnv)
    nodeFact = { version: nodeEnv.replace(/^v/, ''), source: 'env', path: binary?.path ?? null };
  else if (binary) nodeFact = { version: null, source: 'binary', path: binary.path };

  // ---- user ----
  const cc = config?.config;
  const user = typeof cc?.User === 'string' && cc.User !== '' ? cc.User : null;
  let runsAsRoot: boolean | null = null;
  if (config) {
    const name = (user ?? '').split(':')[0]!;
    if (name === '' || name === 'root') runsAsRoot = true;
    else if (/^\d+$/.test(name)) runsAsRoot = Number(name) === 0;
    else {
      const r = resolvePath(tree, '/etc/passwd');
      const probe = r.ok ? probeOf(r.node) : undefined;
      const uid = probe?.kind === 'passwd' ? probe.users.get(name) : undefined;
      if (uid === undefined)
        warn(`user "${name}" is not in /etc/passwd; whether the image runs as root is unknown`);
      else runsAsRoot = uid === 0;
    }
  }

  // ---- secrets ----
  for (const e of env) {
    const kind = envSecret(e);
    if (kind)
      secrets.push({
        kind,
        location: e.slice(0, e.indexOf('=')),
        source: 'config',
        layer: null,
        removed: false,
      });
  }
  const present = new Set(secrets.map((s) => `${s.kind} ${s.location}`));
  const seenRemoved = new Set<string>();
  for (const s of removedSecrets) {
    const key = `${s.kind} ${s.location}`;
    if (present.has(key) || seenRemoved.has(key)) continue;
    seenRemoved.add(key);
    secrets.push(s);
  }
  secrets.sort(
    (a, b) =>
      (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) ||
      Buffer.compare(Buffer.from(a.location), Buffer.from(b.location)) ||
      (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
      Number(a.removed) - Number(b.removed),
  );
  if (secrets.length > MAX_SECRETS) {
    warn(`${secrets.length} likely secrets were found; only the first ${MAX_SECRETS} are listed`);
    secrets.length = MAX_SECRETS;
  }

  // ---- layers ----
  const history = (config?.history ?? []).filter((h) => !h.empty_layer);
  const useHistory = history.length === ctx.layers.length;
  if (config && !useHistory && history.length > 0) {
    warn(
      `the config's history has ${history.length} entries for ${ctx.layers.length} layers; createdBy is left out`,
    );
  }
  const layers: LayerFact[] = ctx.layers.map((l, i) => {
    const stats = tree.layers[i] ?? { compressed: 0, uncompressed: 0, entries: 0 };
    const createdBy = useHistory ? history[i]?.created_by : undefined;
    return {
      index: i,
      digest: l.digest,
      diffId: l.diffId,
      mediaType: l.mediaType,
      compressed: stats.compressed,
      uncompressed: stats.uncompressed,
      entries: stats.entries,
      createdBy: typeof createdBy === 'string' ? createdBy : null,
    };
  });

  const pkgOrder = (a: Package, b: Package) =>
    (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
    byPath(a, b) ||
    ((a.version ?? '') < (b.version ?? '') ? -1 : (a.version ?? '') > (b.version ?? '') ? 1 : 0);

  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    source: ctx.source,
    os,
    libc,
    shells,
    packageManagers,
    lotl,
    setuid: setuid.sort(byPath),
    worldWritable: worldWritable.sort(byPath),
    user,
    runsAsRoot,
    entrypoint: stringList(cc?.Entrypoint),
    cmd: stringList(cc?.Cmd),
    workingDir: typeof cc?.WorkingDir === 'string' && cc.WorkingDir !== '' ? cc.WorkingDir : null,
    env: redactEnv(env),
    exposedPorts: Object.keys(cc?.ExposedPorts ?? {}).sort(),
    packages: packages.sort(pkgOrder),
    packageDatabases: packageDatabases.sort(byPath),
    node: nodeFact,
    size: {
      compressed: layers.reduce((n, l) => n + l.compressed, 0),
      uncompressed: layers.reduce((n, l) => n + l.uncompressed, 0),
    },
    layers,
    wastedBytes: tree.wastedBytes,
    secrets,
    warnings,
  };
}

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null;
}
