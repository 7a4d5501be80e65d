/**
 * Security updates of a Debian image: the deb packages whose installed version is older than the
 * version Debian's security archive (`<codename>-security`, main) has of a binary package of the
 * same name and architecture. The measured stand-in for "fewer CVEs": a package listed here has a
 * published fix the image does not carry.
 *
 * The archive is read through AptSource like any suite: InRelease verified against the Debian
 * archive keys (or the keys given), the Packages index against its signed SHA256, and only the
 * stanzas of the installed names kept (packagesNamed). It is opt-in (inspection itself never
 * touches the network) and never fails an inspection: an image that is not Debian, a release that
 * cannot be told, or an archive that cannot be read or verified gives `checked: false` with the
 * reason, and `--deny security-updates` then fails closed.
 *
 *   checkSecurity(facts, source)   what the archive has newer, with the status of the check
 *   withSecurity(facts, source)    the facts with `security` and `securityUpdates` added
 *   securitySource(opts)           an AptSource for the security archive (mirror configurable)
 */

import type { BinaryPackage, PackageIndex } from '../debian/resolver.js';
import { compareVersions, isValidVersion } from '../debian/version.js';
import { isDistillError } from '../errors.js';
import type { AptOptions, AptSource } from '../sources/apt/source.js';
import type { Facts, SecurityStatus, SecurityUpdate } from './facts.js';

/** What checkSecurity reads from an apt source: AptSource.packagesNamed. */
export interface SecurityIndex {
  packagesNamed(suite: string, arch: string, names: ReadonlySet<string>): Promise<PackageIndex>;
}

export interface SecurityOptions extends Omit<AptOptions, 'mirror' | 'securityMirror'> {
  /** Root of the security archive; default http://deb.debian.org/debian-security. */
  mirror?: string;
}

export interface SecurityCheck {
  security: SecurityStatus;
  securityUpdates: SecurityUpdate[];
  /** Packages left out of the comparison (no valid version), for the facts' warnings. */
  warnings: string[];
}

/** Debian releases before bullseye: their security suite was `<codename>/updates`, now archived. */
const OLD_CODENAMES = new Set(['buster', 'stretch', 'jessie', 'wheezy', 'squeeze', 'lenny', 'etch']);

/** VERSION_ID -> codename, for an os-release without VERSION_CODENAME. */
const CODENAMES: Record<string, string> = {
  '10': 'buster',
  '11': 'bullseye',
  '12': 'bookworm',
  '13': 'trixie',
  '14': 'forky',
  '15': 'duke',
};

/** OCI architecture (and variant) -> Debian architecture. */
function debianArch(platform: string | null): string | undefined {
  if (platform === null) return undefined;
  const [, arch, variant] = platform.split('/');
  switch (arch) {
    case 'amd64':
    case 'arm64':
    case 's390x':
    case 'riscv64':
    case 'loong64':
      return arch;
    case 'arm':
      return variant === 'v5' || variant === 'v6' ? 'armel' : 'armhf';
    case '386':
      return 'i386';
    case 'ppc64le':
      return 'ppc64el';
    case 'mips64le':
      return 'mips64el';
    default:
      return undefined;
  }
}

function notChecked(reason: string, suite?: string): SecurityCheck {
  return {
    security: { checked: false, ...(suite !== undefined && { suite }), reason },
    securityUpdates: [],
    warnings: [],
  };
}

/** The image's Debian codename, or why it cannot be told. */
function codenameOf(facts: Facts): { codename: string } | { reason: string } {
  const { os } = facts;
  if (os.id !== 'debian') {
    return {
      reason:
        os.id === null
          ? 'the OS is unknown (no os-release ID); the security archive is checked for Debian images only'
          : `the image is not Debian (os-release ID ${JSON.stringify(os.id)}); the security archive is checked for Debian images only`,
    };
  }
  const major = os.version === null ? undefined : /^(\d+)/.exec(os.version)?.[1];
  const codename = os.codename ?? (major !== undefined ? CODENAMES[major] : undefined);
  if (codename === undefined) {
    return {
      reason: `the Debian release is unknown (os-release has no VERSION_CODENAME${os.version === null ? ' nor VERSION_ID' : ` and VERSION_ID ${JSON.stringify(os.version)} is not one distill knows`}); add VERSION_CODENAME to the image's os-release`,
    };
  }
  if (!/^[a-z][a-z0-9]*$/.test(codename)) {
    return {
      reason: `${JSON.stringify(codename)} is not a Debian codename; fix VERSION_CODENAME in os-release`,
    };
  }
  if (codename === 'sid') return { reason: 'Debian unstable (sid) has no security archive' };
  if (OLD_CODENAMES.has(codename)) {
    return {
      reason: `Debian ${codename} is end-of-life and its security archive (${codename}/updates) is no longer served; distill checks bullseye and later`,
    };
  }
  return { codename };
}

/** The image's own architecture: its platform's, else the one most of its deb packages have. */
function primaryArch(facts: Facts): string | undefined {
  const fromPlatform = debianArch(facts.source.platform);
  if (fromPlatform !== undefined) return fromPlatform;
  const counts = new Map<string, number>();
  for (const p of facts.packages) {
    if (p.type === 'deb' && p.architecture !== undefined && p.architecture !== 'all')
      counts.set(p.architecture, (counts.get(p.architecture) ?? 0) + 1);
  }
  let best: [string, number] | undefined;
  for (const [a, n] of [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    if (best === undefined || n > best[1]) best = [a, n];
  return best?.[0];
}

/**
 * What Debian's security archive has newer than the image's deb packages. Never throws for an
 * image or an archive it cannot use (see the module comment); only a bug escapes.
 */
export async function checkSecurity(facts: Facts, source: SecurityIndex): Promise<SecurityCheck> {
  const release = codenameOf(facts);
  if ('reason' in release) return notChecked(release.reason);
  const suite = `${release.codename}-security`;
  const debs = facts.packages.filter((p) => p.type === 'deb');
  if (debs.length === 0) {
    return notChecked('the image has no deb packages (no dpkg status or status.d) to compare', suite);
  }
  const primary = primaryArch(facts);
  if (primary === undefined) {
    return notChecked(
      "the image's architecture is unknown (no platform, and its dpkg database lists none)",
      suite,
    );
  }
  const invalid: string[] = [];
  const wanted = debs.flatMap((p) => {
    if (p.version === null || !isValidVersion(p.version)) {
      invalid.push(p.name);
      return [];
    }
    // An arch:all package is in every binary-<arch> index: look it up in the image's own. One
    // whose database names no architecture matches the image's or all.
    const arch = p.architecture ?? primary;
    const archs = p.architecture === undefined ? [primary, 'all'] : [arch];
    return [{ name: p.name, version: p.version, archs, index: arch === 'all' ? primary : arch }];
  });
  const names = new Set(wanted.map((p) => p.name));
  const indexArchs = [...new Set([primary, ...wanted.map((p) => p.index)])].sort();
  let indexes: Map<string, PackageIndex>;
  try {
    const got = await Promise.all(indexArchs.map((a) => source.packagesNamed(suite, a, names)));
    indexes = new Map(indexArchs.map((a, i) => [a, got[i]!]));
  } catch (err) {
    if (!isDistillError(err)) throw err;
    return notChecked(`${suite} could not be read: ${err.message}`, suite);
  }
  const updates: SecurityUpdate[] = [];
  const seen = new Set<string>();
  for (const p of wanted) {
    let newest: BinaryPackage | undefined;
    for (const b of indexes.get(p.index)?.packages ?? []) {
      if (b.name !== p.name || !p.archs.includes(b.architecture)) continue;
      if (newest === undefined || compareVersions(b.version, newest.version) > 0) newest = b;
    }
    if (newest === undefined || compareVersions(p.version, newest.version) >= 0) continue;
    const key = `${p.name}\0${newest.architecture}\0${p.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    updates.push({
      name: p.name,
      architecture: newest.architecture,
      installed: p.version,
      available: newest.version,
      suite,
    });
  }
  updates.sort(
    (a, b) =>
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
      (a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0) ||
      compareVersions(a.installed, b.installed),
  );
  const warnings =
    invalid.length === 0
      ? []
      : [
          `${invalid.length} deb packages have no valid version (${[...new Set(invalid)].sort().slice(0, 5).join(', ')}${invalid.length > 5 ? ', ...' : ''}); they were not compared with ${suite}`,
        ];
  return { security: { checked: true, suite }, securityUpdates: updates, warnings };
}

/** The facts with `security` and `securityUpdates` added (before `warnings`, which gains the check's). */
export async function withSecurity(facts: Facts, source: SecurityIndex): Promise<Facts> {
  const check = await checkSecurity(facts, source);
  const { warnings, security: _s, securityUpdates: _u, ...rest } = facts;
  return {
    ...rest,
    security: check.security,
    securityUpdates: check.securityUpdates,
    warnings: [...warnings, ...check.warnings],
  };
}

/**
 * An AptSource for Debian's security archive: `opts.mirror` (default
 * http://deb.debian.org/debian-security) serves the `-security` suites, verified against
 * `opts.keys` (default: the Debian archive keys shipped in keys/).
 */
export async function securitySource(opts: SecurityOptions): Promise<AptSource> {
  const { AptSource: Source, DEFAULT_SECURITY_MIRROR } = await import('../sources/apt/source.js');
  const { mirror, ...rest } = opts;
  const root = mirror ?? DEFAULT_SECURITY_MIRROR;
  return new Source({ ...rest, mirror: root, securityMirror: root });
}
