/**
 * The SBOM of any image, from the inspect library's facts of its merged filesystem read with
 * `packageDetails` (what a container would see: a package a later layer deleted is not listed):
 * dpkg `status` and `status.d`, apk `installed`, every node_modules package.json with npm's
 * hidden lockfile for integrity and resolved, Debian copyright files for licences, rpm's SQLite
 * database, and the Node binary. rpm's Berkeley DB and ndb databases are detected, not read.
 */
import type { Facts, Package } from '../inspect/facts.js';
import { declaredLicense, dep5Licenses, type SbomLicense } from './license.js';
import { componentId, type Sbom, type SbomComponent } from './model.js';
import { type InstalledNpmPackage, npmComponents } from './npm.js';
import { apkPurl, debPurl, distroQualifier, nodePurl, rpmPurl } from './purl.js';

export interface ImageSbomOptions {
  /** The reference the image was read from: the document's name. */
  name: string;
  tool: { name: string; version: string };
  created?: string;
}

type Layers = Facts['layers'];

function layerOf(p: Package, layers: Layers): string | undefined {
  return p.layer === undefined ? undefined : (layers[p.layer]?.digest ?? undefined);
}

/**
 * An OS package (deb, apk, rpm) as a component: the fields the three share, in one order (the
 * order is part of the document's digest), with the purl and licence its database gives.
 */
function osComponent(
  kind: 'deb' | 'apk' | 'rpm',
  p: Package,
  facts: Facts,
  arch: string | undefined,
  purl: string | undefined,
  license: SbomLicense | null,
): SbomComponent {
  const layer = layerOf(p, facts.layers);
  return {
    id: componentId({ kind, name: p.name, version: p.version, architecture: arch, path: p.path }),
    kind,
    name: p.name,
    version: p.version,
    ...(arch !== undefined && { architecture: arch }),
    ...(purl !== undefined && { purl }),
    ...(p.details?.source !== undefined && { sourcePackage: p.details.source }),
    hashes: [],
    license,
    ...(layer !== undefined && { layer }),
    path: p.path,
    dependsOn: [],
  };
}

function debComponent(p: Package, facts: Facts): SbomComponent {
  const arch = p.architecture;
  const distro = facts.os.id === 'debian' ? distroQualifier('debian', facts.os.version) : undefined;
  const vendor = facts.os.id !== null && facts.os.id !== 'debian' ? facts.os.id : 'debian';
  const copyright = facts.packageFiles?.copyrights[p.name];
  const purl = debPurl(p.name, p.version, {
    vendor,
    ...(arch !== undefined && { arch }),
    ...(distro !== undefined && { distro }),
  });
  return osComponent('deb', p, facts, arch, purl, copyright === undefined ? null : dep5Licenses(copyright));
}

function apkComponent(p: Package, facts: Facts): SbomComponent {
  const arch = p.details?.architecture;
  const purl = apkPurl(p.name, p.version, {
    vendor: facts.os.id ?? 'alpine',
    ...(arch !== undefined && { arch }),
  });
  return osComponent('apk', p, facts, arch, purl, declaredLicense(p.details?.license));
}

/** rpm's `[EPOCH:]VERSION-RELEASE` as the database gives it, in the parts its purl takes. */
function rpmEvr(evr: string): { epoch?: string; version: string; release?: string } {
  const colon = evr.indexOf(':');
  const epoch = colon > 0 && /^\d+$/.test(evr.slice(0, colon)) ? evr.slice(0, colon) : undefined;
  const rest = epoch === undefined ? evr : evr.slice(colon + 1);
  const dash = rest.lastIndexOf('-');
  return {
    ...(epoch !== undefined && { epoch }),
    version: dash > 0 ? rest.slice(0, dash) : rest,
    ...(dash > 0 && { release: rest.slice(dash + 1) }),
  };
}

function rpmComponent(p: Package, facts: Facts): SbomComponent {
  const arch = p.architecture;
  const distro = distroQualifier(facts.os.id, facts.os.version);
  const purl =
    p.version === null
      ? undefined
      : rpmPurl(p.name, rpmEvr(p.version), {
          vendor: facts.os.id ?? 'rpm',
          ...(arch !== undefined && { arch }),
          ...(distro !== undefined && { distro }),
        });
  return osComponent('rpm', p, facts, arch, purl, declaredLicense(p.details?.license));
}

/** The hidden lockfile's entry of an npm package directory: the lock of the nearest directory above it. */
function lockEntry(facts: Facts, dir: string): { integrity?: string; resolved?: string } | undefined {
  const locks = facts.packageFiles?.npmLocks ?? {};
  let i = dir.indexOf('/node_modules/');
  while (i >= 0) {
    const e = locks[dir.slice(0, i)]?.[dir.slice(i + 1)];
    if (e !== undefined) return e;
    i = dir.indexOf('/node_modules/', i + 1);
  }
  return undefined;
}

function npmOfImage(facts: Facts, npm: readonly Package[]): SbomComponent[] {
  const installed: InstalledNpmPackage[] = npm.map((p) => {
    const lock = lockEntry(facts, p.path);
    return {
      path: p.path,
      name: p.name,
      version: p.version,
      ...(p.details?.license !== undefined && { license: p.details.license }),
      ...(lock?.integrity !== undefined && { integrity: lock.integrity }),
      ...(lock?.resolved !== undefined && { resolved: lock.resolved }),
      dependencies: p.details?.dependencies ?? [],
    };
  });
  const { components } = npmComponents(installed);
  // Each package is in the layer that wrote its package.json.
  components.forEach((c, i) => {
    const layer = layerOf(npm[i]!, facts.layers);
    if (layer !== undefined) c.layer = layer;
  });
  return components;
}

/** The SBOM of an image from its facts (inspect with `packageDetails: true`). */
export function sbomFromFacts(facts: Facts, opts: ImageSbomOptions): Sbom {
  const digest = facts.source.manifestDigest ?? undefined;
  const root: SbomComponent = {
    id: componentId({ kind: 'image', name: opts.name, version: digest ?? null }),
    kind: 'image',
    name: opts.name,
    version: digest ?? null,
    hashes: digest?.startsWith('sha256:') ? [{ algorithm: 'SHA-256', hex: digest.slice(7) }] : [],
    license: null,
    dependsOn: [],
  };
  const components: SbomComponent[] = [root];
  for (const p of facts.packages) {
    if (p.type === 'deb') components.push(debComponent(p, facts));
    else if (p.type === 'apk') components.push(apkComponent(p, facts));
    else if (p.type === 'rpm') components.push(rpmComponent(p, facts));
  }
  components.push(
    ...npmOfImage(
      facts,
      facts.packages.filter((p) => p.type === 'npm'),
    ),
  );
  const node = facts.node;
  if (node?.version != null && node.source === 'binary') {
    components.push({
      id: componentId({ kind: 'node', name: 'node', version: node.version, path: node.path ?? undefined }),
      kind: 'node',
      name: 'node',
      version: node.version,
      purl: nodePurl(node.version),
      hashes: [],
      license: null,
      ...(node.path !== null && { path: node.path }),
      dependsOn: [],
    });
  }
  return {
    subject: { name: opts.name, ...(digest !== undefined && { digest }) },
    root: root.id,
    components,
    tool: opts.tool,
    ...(opts.created !== undefined && { created: opts.created }),
  };
}
