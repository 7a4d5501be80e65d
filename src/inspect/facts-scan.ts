/**
 * The one walk of facts over the merged tree: setuid and world-writable files, the packages and
 * databases the harvester read, the files it found secrets in, node binaries and the files of the
 * lib directories (for libc). A single view moves over the tree: a path is made only for the few
 * nodes that are reported.
 */
import type {
  FactLimits,
  Package,
  PackageDatabase,
  PackageFiles,
  SecretFinding,
  SpecialFile,
  WritablePath,
} from './facts.js';
import { probeOf, STATUS_D } from './facts-probes.js';
import type { DatabaseProbe, PackageRecord } from './packages.js';
import type { ScanNode, Tree } from './tree.js';

export interface Scanned {
  setuid: SpecialFile[];
  worldWritable: WritablePath[];
  packages: Package[];
  packageDatabases: PackageDatabase[];
  /** Secrets in files the container sees. */
  secrets: SecretFinding[];
  nodeBinaries: { path: string; version: string | undefined }[];
  /** Files and directories in a lib directory or one below it (LIB_FILE). */
  libFiles: { path: string; base: string }[];
  packageFiles: PackageFiles;
}

/** Files and directories in a lib directory or one below it: where libc and its loaders are looked for. */
const LIB_FILE = /^\/(usr\/)?(local\/)?lib(32|64)?\/([^/]+\/)?[^/]+$/;
/** The first components of the paths LIB_FILE can match. */
const LIB_TOPS = new Set(['usr', 'local', 'lib', 'lib32', 'lib64']);

/** rpm databases: the SQLite one is read (rpm.ts), Berkeley DB and ndb only detected (see scanTree). */
const RPM_DATABASES = [
  '/var/lib/rpm/rpmdb.sqlite',
  '/var/lib/rpm/Packages',
  '/var/lib/rpm/Packages.db',
  '/usr/lib/sysimage/rpm/rpmdb.sqlite',
];

export function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

export function byPath<T extends { path: string }>(a: T, b: T): number {
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

/** Walks the tree once; problems of the package databases and npm files go to `warn`. */
export function scanTree(tree: Tree, limits: FactLimits, warn: (m: string) => void): Scanned {
  const s: Scanned = {
    setuid: [],
    worldWritable: [],
    packages: [],
    packageDatabases: [],
    secrets: [],
    nodeBinaries: [],
    libFiles: [],
    packageFiles: { copyrights: {}, npmLocks: {} },
  };
  const counts = { npmUnreadable: 0, npmSkipped: 0, statusD: undefined as { count: number } | undefined };
  tree.scan((node) => {
    modes(node, s);
    const depth = node.depth;
    if (depth >= 2 && depth <= 5 && LIB_TOPS.has(node.top)) {
      const path = node.path;
      if (LIB_FILE.test(path)) s.libFiles.push({ path, base: path.slice(path.lastIndexOf('/') + 1) });
    }
    probed(node, s, counts, warn);
  });
  if (counts.statusD)
    s.packageDatabases.push({ type: 'deb', path: `/${STATUS_D}`, count: counts.statusD.count });
  // rpm's SQLite database is read by the harvester (rpm.ts); the Berkeley DB (`Packages`) and ndb
  // (`Packages.db`) ones are only detected, their count unknown.
  for (const p of RPM_DATABASES) {
    if (tree.lookup(p)?.type === 'file' && !s.packageDatabases.some((d) => d.path === p)) {
      s.packageDatabases.push({ type: 'rpm', path: p, count: null });
    }
  }
  if (counts.npmUnreadable > 0) {
    warn(
      `${counts.npmUnreadable} package.json files under node_modules could not be read or have no name; they are left out`,
    );
  }
  if (counts.npmSkipped > 0) {
    warn(
      `more than ${limits.maxPackageJsonFiles} package.json files under node_modules; ${counts.npmSkipped} were not read`,
    );
  }
  return s;
}

/** Setuid/setgid files, and world-writable files and directories. */
function modes(node: ScanNode, s: Scanned): void {
  const type = node.type;
  const mode = node.mode;
  if (type === 'file' && (mode & 0o6000) !== 0) {
    s.setuid.push({
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
    s.worldWritable.push({ path: node.path, type, mode: octal(mode) });
  }
}

/** What the harvester attached to a node. */
function probed(
  node: ScanNode,
  s: Scanned,
  counts: { npmUnreadable: number; npmSkipped: number; statusD: { count: number } | undefined },
  warn: (m: string) => void,
): void {
  const probe = probeOf(node);
  if (!probe) return;
  const path = node.path;
  switch (probe.kind) {
    case 'secret':
      s.secrets.push({
        kind: probe.secret,
        location: path,
        source: 'filesystem',
        layer: node.layer,
        removed: false,
      });
      break;
    case 'npm':
      if (probe.record) {
        s.packages.push({
          type: 'npm',
          name: probe.record.name,
          version: probe.record.version,
          path: path.slice(0, -'/package.json'.length),
          ...detailsOf(probe.record, node),
        });
      } else counts.npmUnreadable++;
      break;
    case 'copyright':
      if (probe.text !== undefined) s.packageFiles.copyrights[path.split('/')[4]!] = probe.text;
      break;
    case 'npm-lock':
      s.packageFiles.npmLocks[path.slice(0, -'/node_modules/.package-lock.json'.length)] = probe.packages;
      break;
    case 'npm-skipped':
      counts.npmSkipped++;
      break;
    case 'node-version':
      s.nodeBinaries.push({ path, version: probe.version });
      break;
    case 'dpkg':
    case 'apk':
    case 'rpm': {
      const type = probe.kind === 'dpkg' ? 'deb' : probe.kind;
      // An rpm database nothing could be read from counts as not read (null), not as empty.
      const unread = probe.kind === 'rpm' && probe.packages.length === 0 && probe.problems.length > 0;
      if (path.startsWith(`/${STATUS_D}/`)) {
        counts.statusD ??= { count: 0 };
        counts.statusD.count += probe.packages.length;
      } else s.packageDatabases.push({ type, path, count: unread ? null : probe.packages.length });
      for (const r of probe.packages) {
        s.packages.push({
          type,
          name: r.name,
          version: r.version,
          path,
          ...(r.architecture !== undefined && { architecture: r.architecture }),
          ...detailsOf(r, node),
        });
      }
      dbProblems(path, probe, warn);
      break;
    }
    default:
      break;
  }
}

function dbProblems(path: string, probe: DatabaseProbe, warn: (m: string) => void): void {
  for (const p of probe.problems) warn(p.startsWith(path) ? p : `${path}: ${p}`);
}

/** With packageDetails: the record's details and the layer its entry came from. */
function detailsOf(r: PackageRecord, node: ScanNode): Pick<Package, 'layer' | 'details'> {
  return r.details === undefined ? {} : { layer: node.layer, details: r.details };
}
