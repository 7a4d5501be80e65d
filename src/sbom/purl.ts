/**
 * Package URLs by the purl spec's type definitions, encoded by packageurl-js (the spec's own
 * JavaScript implementation):
 *   deb  `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-13`, VERSION dpkg's whole version,
 *        epoch included (`1:2.36-9`); namespace and name lower-cased as the type says;
 *   apk  `pkg:apk/alpine/NAME@VERSION?arch=ARCH` (the namespace from os-release's ID);
 *   rpm  `pkg:rpm/VENDOR/NAME@VERSION-RELEASE?arch=ARCH&epoch=E`, the epoch a qualifier;
 *   npm  `pkg:npm/%40scope/name@1.2.3`;
 *   Node `pkg:generic/node@24.11.1` (the spec has no type for a language runtime's release).
 */
import { PackageURL } from 'packageurl-js';

type Qualifiers = Record<string, string>;

function purl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string | null,
  q: Qualifiers,
): string {
  const qualifiers = Object.keys(q).length > 0 ? q : undefined;
  return new PackageURL(type, namespace, name, version ?? undefined, qualifiers, undefined).toString();
}

function defined(q: Record<string, string | undefined>): Qualifiers {
  const out: Qualifiers = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/** `distro` qualifier for an os-release ID and VERSION_ID: `debian-13` (the major version only for Debian). */
export function distroQualifier(
  id: string | null | undefined,
  version: string | null | undefined,
): string | undefined {
  if (!id) return undefined;
  if (!version) return undefined;
  return `${id}-${id === 'debian' ? version.split('.')[0] : version}`;
}

export function debPurl(
  name: string,
  version: string | null,
  opts: { arch?: string; distro?: string; vendor?: string } = {},
): string {
  return purl(
    'deb',
    (opts.vendor ?? 'debian').toLowerCase(),
    name.toLowerCase(),
    version,
    defined({ arch: opts.arch, distro: opts.distro }),
  );
}

export function apkPurl(
  name: string,
  version: string | null,
  opts: { arch?: string; vendor?: string } = {},
): string {
  return purl(
    'apk',
    (opts.vendor ?? 'alpine').toLowerCase(),
    name.toLowerCase(),
    version,
    defined({ arch: opts.arch }),
  );
}

/** rpm's version-release, and its epoch as a qualifier ("(none)" and absent epochs are left out). */
export function rpmPurl(
  name: string,
  evr: { epoch?: string; version: string; release?: string },
  opts: { arch?: string; vendor?: string; distro?: string } = {},
): string {
  const version = evr.release ? `${evr.version}-${evr.release}` : evr.version;
  return purl(
    'rpm',
    (opts.vendor ?? 'rpm').toLowerCase(),
    name,
    version,
    defined({ arch: opts.arch, distro: opts.distro, epoch: evr.epoch }),
  );
}

/** `@scope/name` keeps its scope as the namespace (encoded `%40scope`). */
export function npmPurl(name: string, version: string | null): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  return slash > 0
    ? purl('npm', name.slice(0, slash), name.slice(slash + 1), version, {})
    : purl('npm', undefined, name, version, {});
}

export function nodePurl(version: string): string {
  return purl('generic', undefined, 'node', version, {});
}
