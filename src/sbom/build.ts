/**
 * The SBOM of an image distill built, from what the build verified rather than from re-reading
 * the image: the plan (the base lock with every .deb's SHA256, the Node release), the Node
 * tarball's integrity, the installed node_modules (npm's lockfile: integrity, resolved, licence)
 * and the Debian copyright files the build unpacked. Pure: the caller hands over the facts.
 */

import type { AppPlan } from '../plan/app.js';
import type { BasePlan } from '../plan/base-plan.js';
import type { LockedPackage, Lockfile } from '../plan/lockfile.js';
import type { LayerName } from './layers.js';
import { declaredLicense, dep5Licenses } from './license.js';
import { componentId, hashesFromIntegrity, type Sbom, type SbomComponent } from './model.js';
import { type InstalledNpmPackage, npmComponents } from './npm.js';
import { debPurl, distroQualifier, nodePurl, npmPurl } from './purl.js';

export { appLayerDigests, baseLayerDigests, type LayerName } from './layers.js';

/** The Node release as the build verified it (sources/node TarballRecord). */
export interface VerifiedNode {
  version: string;
  /** SRI (`sha512-...`) from the npm registry, or `sha256:<hex>` from a mirror's SHASUMS256.txt. */
  integrity?: string;
  url?: string;
  /** The licence the release's package declares (package.json `license`); NOASSERTION when absent. */
  license?: string;
}

export interface BuildSbomCommon {
  /** The image (one platform's manifest) the SBOM describes. */
  image: { name: string; digest?: string };
  /** Debian architecture of the platform: amd64, arm64. */
  arch: string;
  /** The digest of each layer the build made, by its planned name (appLayerDigests / baseLayerDigests). */
  layers: Partial<Record<LayerName, string>>;
  /** Debian `usr/share/doc/PKG/copyright` texts by package name: DEP-5 ones give licences. */
  copyrights?: ReadonlyMap<string, string>;
  tool: { name: string; version: string };
  /** RFC 3339; SBOMs are timeless unless asked. */
  created?: string;
}

export interface AppSbomInput extends BuildSbomCommon {
  node: VerifiedNode;
  /** What the node_modules layer holds (npmPackagesFromLockfile of the install's lockfile). */
  npm: readonly InstalledNpmPackage[];
  /** The names the app's package.json depends on (production). */
  appDependencies: readonly string[];
}

/** The source package of a .deb: the pool directory it lies in (pool/main/g/glibc/libc6_...). */
export function sourceOfPool(filename: string): string | undefined {
  const m = /(?:^|\/)pool\/[^/]+\/[^/]+\/([^/]+)\/[^/]+\.deb$/.exec(filename);
  return m?.[1];
}

function debLayer(p: LockedPackage, layers: BuildSbomCommon['layers']): string | undefined {
  if (p.role === 'extra') return layers.packages;
  if (p.role === 'debug') return layers.debug;
  return layers.os;
}

/** The Debian packages of a lock, for one architecture, each with its .deb's SHA256 and URL. */
export function debComponents(lock: Lockfile, input: BuildSbomCommon): SbomComponent[] {
  const suites = new Map(lock.suites.map((s) => [s.name, s]));
  return (lock.architectures[input.arch] ?? []).map((p) => {
    const suite = suites.get(p.suite);
    const distro = distroQualifier('debian', suite?.version);
    const source = sourceOfPool(p.filename);
    const copyright = input.copyrights?.get(p.name);
    const layer = debLayer(p, input.layers);
    return {
      id: componentId({ kind: 'deb', name: p.name, version: p.version, architecture: p.architecture }),
      kind: 'deb',
      name: p.name,
      version: p.version,
      architecture: p.architecture,
      purl: debPurl(p.name, p.version, { arch: p.architecture, ...(distro !== undefined && { distro }) }),
      ...(source !== undefined && { sourcePackage: source }),
      hashes: [{ algorithm: 'SHA-256', hex: p.sha256.toLowerCase() }],
      license: copyright === undefined ? null : dep5Licenses(copyright),
      ...(suite !== undefined && { download: `${suite.mirror.replace(/\/$/, '')}/${p.filename}` }),
      ...(layer !== undefined && { layer }),
      dependsOn: [],
    };
  });
}

export function nodeComponent(node: VerifiedNode, layer: string | undefined, path?: string): SbomComponent {
  return {
    id: componentId({ kind: 'node', name: 'node', version: node.version }),
    kind: 'node',
    name: 'node',
    version: node.version,
    purl: nodePurl(node.version),
    hashes: node.integrity?.startsWith('sha256:')
      ? [{ algorithm: 'SHA-256', hex: node.integrity.slice('sha256:'.length) }]
      : hashesFromIntegrity(node.integrity),
    license: declaredLicense(node.license),
    ...(node.url !== undefined && { download: node.url }),
    ...(layer !== undefined && { layer }),
    ...(path !== undefined && { path }),
    dependsOn: [],
  };
}

/** The SBOM of one platform's image of an app build. */
export function sbomForApp(plan: AppPlan, input: AppSbomInput): Sbom {
  const name = plan.app.name ?? plan.image.name;
  const version = plan.app.version ?? null;
  const app: SbomComponent = {
    id: componentId({ kind: 'app', name, version, path: plan.workdir }),
    kind: 'app',
    name,
    version,
    purl: npmPurl(name, version),
    hashes: [],
    license: null,
    ...(input.layers.app !== undefined && { layer: input.layers.app }),
    path: plan.workdir,
    dependsOn: [],
  };
  const node = nodeComponent(input.node, input.layers.node);
  const npm = npmComponents(input.npm, {
    ...(input.layers.node_modules !== undefined && { layer: input.layers.node_modules }),
    pathPrefix: `${plan.workdir.replace(/\/$/, '')}/`,
    rootDeps: input.appDependencies,
  });
  app.dependsOn.push(node.id, ...npm.rootDependsOn);
  const components = [app, node, ...npm.components];
  if (plan.base.kind === 'debian') components.push(...debComponents(plan.base.lock, input));
  else components.push(baseImageComponent(plan.base.ref, plan.base.manifests[input.arch]));
  return sbomOf(input, app.id, components);
}

/** A `--base` image is one component: `distill sbom` of it lists what it holds. */
function baseImageComponent(ref: string, digest: string | undefined): SbomComponent {
  return {
    id: componentId({ kind: 'image', name: ref, version: digest ?? null }),
    kind: 'image',
    name: ref,
    version: digest ?? null,
    hashes: digest?.startsWith('sha256:') ? [{ algorithm: 'SHA-256', hex: digest.slice(7) }] : [],
    license: null,
    dependsOn: [],
  };
}

export interface BaseSbomInput extends BuildSbomCommon {
  /** The Node release of a nodejs variant, as verified. */
  node?: VerifiedNode;
}

/** The SBOM of one architecture's image of a base build. */
export function sbomForBase(plan: BasePlan, input: BaseSbomInput): Sbom {
  const root: SbomComponent = {
    id: componentId({ kind: 'image', name: input.image.name, version: input.image.digest ?? null }),
    kind: 'image',
    name: input.image.name,
    version: input.image.digest ?? null,
    hashes: [],
    license: null,
    dependsOn: [],
  };
  const debs = debComponents(plan.lock, input);
  // The image CONTAINS each of them (the writers say so for every component); the lock does not
  // keep the packages' Depends, so there are no dependency relationships between them.
  const components = [root, ...debs];
  if (input.node !== undefined) components.push(nodeComponent(input.node, input.layers.node));
  return sbomOf(input, root.id, components);
}

function sbomOf(input: BuildSbomCommon, root: string, components: SbomComponent[]): Sbom {
  return {
    subject: {
      name: input.image.name,
      ...(input.image.digest !== undefined && { digest: input.image.digest }),
    },
    root,
    components,
    tool: input.tool,
    ...(input.created !== undefined && { created: input.created }),
  };
}
