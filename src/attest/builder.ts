import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { integrityDigestSet, type ResourceDescriptor } from './statement.js';

/**
 * distill's own package as the provenance names it (SLSA v1 `runDetails.builder
 * .builderDependencies`): the package and a digest of what runs. An installed package does not
 * know its tarball's integrity, but npm's hidden lockfile beside it does
 * (`<node_modules>/.package-lock.json`, entry `node_modules/<name>`: `integrity`, `resolved`),
 * for a local install and for `npm install -g` (PREFIX/lib/node_modules) alike. Where there is
 * none (a source checkout, npx's cache without one, another package manager), the SHA-256 of the
 * file that started the program is given instead, and the descriptor says which it is.
 */

/** How the digest of distill's own package was found (the descriptor's `annotations.integritySource`). */
export type BuilderIntegritySource = 'npm-hidden-lockfile' | 'running-file';

export interface BuilderPackage {
  name: string;
  version: string;
  /** The package's directory (package.json). */
  root: string;
}

interface HiddenLockEntry {
  version?: unknown;
  integrity?: unknown;
  resolved?: unknown;
}

/** The node_modules directory holding the package (`@scope/name` sits one level deeper), if any. */
function nodeModulesOf(root: string, name: string): string | undefined {
  const up = name.startsWith('@') ? dirname(dirname(root)) : dirname(root);
  return basename(up) === 'node_modules' ? up : undefined;
}

/** The hidden lockfile's entry for the package, when it is there and names this version. */
async function hiddenLockEntry(pkg: BuilderPackage): Promise<HiddenLockEntry | undefined> {
  const nodeModules = nodeModulesOf(pkg.root, pkg.name);
  if (nodeModules === undefined) return undefined;
  let lock: { packages?: Record<string, HiddenLockEntry> };
  try {
    lock = JSON.parse(await readFile(join(nodeModules, '.package-lock.json'), 'utf8')) as typeof lock;
  } catch {
    return undefined;
  }
  const entry = lock?.packages?.[`node_modules/${pkg.name}`];
  // An entry of another version is stale (the package was replaced without npm): not ours.
  if (entry?.version !== pkg.version || typeof entry.integrity !== 'string') return undefined;
  return entry;
}

/**
 * The file that started the program: the ESM bundle's entry (`dist/bundle/main.js`, whose bytes
 * name every chunk it loads by its content hash), the classic-script bundle (`distill.cjs`, the
 * whole program in one file), or, from sources or tsc's output, the module running this code.
 */
function runningFile(root: string, self: string): string {
  const bundleDir = join(root, 'dist', 'bundle');
  if (self === join(bundleDir, 'distill.cjs')) return self;
  if (self.startsWith(`${bundleDir}${sep}`)) return join(bundleDir, 'main.js');
  return self;
}

/** The hex SHA-256 of a file's bytes. */
export async function sha256OfFile(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/**
 * distill's package as a resource descriptor: `pkg:npm/NAME@VERSION` with the digest found, and
 * where from. `fileDigest` gives the running file's hex SHA-256 (the build remembers it by the
 * file's stat, build/attest-builder.ts: the classic-script bundle is 3.3 MB to hash on every build).
 */
export async function builderDependency(
  pkg: BuilderPackage,
  self: string = fileURLToPath(import.meta.url),
  fileDigest: (file: string) => Promise<string> = sha256OfFile,
): Promise<ResourceDescriptor> {
  const uri = `pkg:npm/${pkg.name.replace('@', '%40')}@${pkg.version}`;
  const entry = await hiddenLockEntry(pkg).catch(() => undefined);
  if (entry !== undefined) {
    try {
      return {
        uri,
        digest: integrityDigestSet(entry.integrity as string),
        annotations: {
          integritySource: 'npm-hidden-lockfile' satisfies BuilderIntegritySource,
          ...(typeof entry.resolved === 'string' && { resolved: entry.resolved }),
        },
      };
    } catch {
      // An integrity of a kind distill does not read: fall back to the running file.
    }
  }
  const file = runningFile(pkg.root, self);
  return {
    uri,
    name: relative(pkg.root, file).split(sep).join('/'),
    digest: { sha256: await fileDigest(file) },
    annotations: { integritySource: 'running-file' satisfies BuilderIntegritySource },
  };
}
