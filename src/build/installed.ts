import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../errors.js';
import { readLayer } from '../layers/read.js';
import type { Image } from '../oci/image.js';
import type { AppPlan } from '../plan/app.js';
import { APP_DIR } from '../plan/layout.js';
import { lockResolutions } from '../sbom/lockfiles.js';
import type { InstalledNpmPackage } from '../sbom/npm.js';
import { isPackageManifest, packagesOfTree, type TreeEntry } from '../sbom/tree.js';

/**
 * The npm packages of a pnpm or yarn app's image, for its SBOM: what its node_modules layer holds
 * (read from the layer the build made, so nothing the install left out is listed), with the
 * integrity and download location the app's lockfile gives for each (sbom/lockfiles.ts).
 */
export interface InstalledTree {
  packages: InstalledNpmPackage[];
  /** The app's production dependencies (its package.json's dependencies and optionalDependencies). */
  rootDependencies: string[];
  /** For sbomForApp: paths are under APP_DIR, the app at `rootDir`, pnpm's links. */
  tree: { prefix: string; rootDir: string; links: Map<string, string> };
}

/** The lockfiles whose own entries list an app's npm packages (sbom/npm.ts reads them). */
export const NPM_LOCKFILES: ReadonlySet<string> = new Set(['package-lock.json', 'npm-shrinkwrap.json']);
/** The lockfiles of apps whose packages are read from the image's node_modules tree. */
export const TREE_LOCKFILES: ReadonlySet<string> = new Set(['pnpm-lock.yaml', 'yarn.lock']);

/** A package.json bigger than this is not a package's (the inspect library's cap on manifests). */
const MAX_MANIFEST = 1 << 20;
const ROOT = `${APP_DIR.replace(/^\//, '')}/`;

async function text(body: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The node_modules entries of a layer, with paths from the app directory. */
async function treeEntries(image: Image, layerDigest: string): Promise<TreeEntry[]> {
  const layer = image.layers.find((l) => l.descriptor.digest === layerDigest);
  if (!layer)
    throw new DistillError('INTERNAL', `no layer ${layerDigest} in the image`, { userError: false });
  const out: TreeEntry[] = [];
  for await (const entry of readLayer(await layer.open())) {
    const h = entry.header;
    const full = h.name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
    if (!full.startsWith(ROOT)) continue;
    const path = full.slice(ROOT.length);
    if (h.type === 'symlink') out.push({ path, type: 'symlink', target: h.linkname ?? '' });
    else if (
      (h.type === 'file' || h.type === 'contiguous-file') &&
      isPackageManifest(path) &&
      h.size <= MAX_MANIFEST
    ) {
      out.push({ path, type: 'file', text: await text(entry.body) });
    }
  }
  return out;
}

function productionDeps(pkg: Record<string, unknown>): string[] {
  const names = new Set<string>();
  for (const f of [pkg.dependencies, pkg.optionalDependencies]) {
    if (f && typeof f === 'object') for (const n of Object.keys(f)) names.add(n);
  }
  return [...names].sort();
}

/** The npm packages in the node_modules layer (`layerDigest`) of one platform's image of a pnpm or yarn app. */
export async function installedTree(
  plan: AppPlan,
  image: Image,
  layerDigest: string | undefined,
): Promise<InstalledTree> {
  const lockfile = plan.install.lockfile;
  const lockText = await readFile(join(plan.app.dir, lockfile), 'utf8');
  const resolutions = await lockResolutions(lockfile, lockText);
  if (resolutions === undefined) {
    throw new DistillError('INTERNAL', `${lockfile} is not a pnpm or yarn lockfile`, { userError: false });
  }
  const rootDir = plan.workdir === APP_DIR ? '' : plan.workdir.slice(ROOT.length + 1);
  const manifest = JSON.parse(await readFile(join(plan.app.dir, rootDir, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const { packages, links } = packagesOfTree(
    layerDigest === undefined ? [] : await treeEntries(image, layerDigest),
    resolutions,
  );
  return {
    packages,
    rootDependencies: productionDeps(manifest),
    tree: { prefix: `${APP_DIR}/`, rootDir, links },
  };
}
