/**
 * Facts about the system an image holds: its OS (os-release), its C library, its Node.js, the user
 * it runs as, and its layers.
 */
import type { ImageConfigJson } from '../oci/types.js';
import type { FactContext, Facts, LayerFact } from './facts.js';
import { GLIBC_FILE, probeOf } from './facts-probes.js';
import type { Scanned } from './facts-scan.js';
import { envValue, type ToolFinder } from './facts-tools.js';
import { resolvePath } from './resolve.js';
import type { Tree } from './tree.js';

type Warn = (m: string) => void;

/** From /etc/os-release, else /usr/lib/os-release. */
export function osFact(tree: Tree, warn: Warn): Facts['os'] {
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
  return os;
}

function fileAt(tree: Tree, path: string) {
  const r = resolvePath(tree, path);
  return r.ok && r.node.type === 'file' ? r : undefined;
}

/**
 * glibc when libc.so.6 is there (or a glibc loader without a musl one), else musl when its loader
 * is; the version from the package database, else the file name, else the library's own banner.
 */
export function libcFact(tree: Tree, scanned: Scanned, warn: Warn): Facts['libc'] {
  const { libFiles, packages } = scanned;
  const pkg = (type: string, name: string) => packages.find((x) => x.type === type && x.name === name);
  const libc: Facts['libc'] = { family: 'none', version: null, path: null };
  const libc6 = libFiles.find((f) => f.base === 'libc.so.6' && fileAt(tree, f.path));
  const muslLoader = libFiles.find((f) => /^ld-musl-.+\.so\.1$/.test(f.base) && fileAt(tree, f.path));
  const glibcLoader = libFiles.find((f) => /^ld-linux.*\.so\.\d+$/.test(f.base) && fileAt(tree, f.path));
  const glibcFile = libFiles.find((f) => GLIBC_FILE.test(f.base));
  if (libc6 || (glibcLoader && !muslLoader)) {
    libc.family = 'glibc';
    libc.path = (libc6 ?? glibcLoader)!.path;
    if (muslLoader)
      warn(`both glibc (${libc.path}) and musl (${muslLoader.path}) are present; libc is reported as glibc`);
    const fromPkg = pkg('deb', 'libc6') ?? pkg('apk', 'glibc');
    const probe = libc6 ? probeOf(fileAt(tree, libc6.path)?.node) : undefined;
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
  return libc;
}

/** The node on PATH (its version from the binary), else another node binary, else NODE_VERSION. */
export function nodeFact(
  tree: Tree,
  finder: ToolFinder,
  scanned: Scanned,
  env: readonly string[],
): Facts['node'] {
  const { nodeBinaries } = scanned;
  const nodeOnPath = finder.executable('node', 'node');
  const onPathProbe = nodeOnPath ? probeOf(fileAt(tree, nodeOnPath.path)?.node) : undefined;
  const binary =
    nodeOnPath && onPathProbe?.kind === 'node-version'
      ? { path: nodeOnPath.path, version: onPathProbe.version }
      : (nodeBinaries.find((b) => b.version !== undefined) ?? nodeBinaries[0]);
  const nodeEnv = envValue(env, 'NODE_VERSION');
  if (binary?.version !== undefined) return { version: binary.version, source: 'binary', path: binary.path };
  if (nodeEnv) return { version: nodeEnv.replace(/^v/, ''), source: 'env', path: binary?.path ?? null };
  if (binary) return { version: null, source: 'binary', path: binary.path };
  return null;
}

/** The config's User, and whether it is root (null when it cannot be told). */
export function userFact(
  tree: Tree,
  config: ImageConfigJson | undefined,
  warn: Warn,
): { user: string | null; runsAsRoot: boolean | null } {
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
  return { user, runsAsRoot };
}

/** Per layer: what the manifest says, what the merge counted, and the history's createdBy. */
export function layerFacts(tree: Tree, ctx: FactContext, warn: Warn): LayerFact[] {
  const config = ctx.config;
  const history = (config?.history ?? []).filter((h) => !h.empty_layer);
  const useHistory = history.length === ctx.layers.length;
  if (config && !useHistory && history.length > 0) {
    warn(
      `the config's history has ${history.length} entries for ${ctx.layers.length} layers; createdBy is left out`,
    );
  }
  return ctx.layers.map((l, i) => {
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
}

/** Total sizes of the layers; the compressed one is unknown (null) when any layer's is. */
export function sizeFact(layers: readonly LayerFact[]): Facts['size'] {
  let compressed: number | null = 0;
  let uncompressed = 0;
  for (const l of layers) {
    compressed = compressed === null || l.compressed === null ? null : compressed + l.compressed;
    uncompressed += l.uncompressed;
  }
  return { compressed, uncompressed };
}
