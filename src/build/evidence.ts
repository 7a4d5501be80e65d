import type { DebLicenses } from './base/licenses.js';

/**
 * What a build verified on its way and hands to its attestations beyond the plan: facts that
 * cannot be read again from the plan or the image once the build is done (or, on a cache hit,
 * were read when the cache was filled).
 */
export interface BuildEvidence {
  /** The Debian packages' declared licences per Debian arch (build/base/licenses.ts). */
  debLicenses?: ReadonlyMap<string, DebLicenses>;
}

/** One architecture's licences as the SBOM library takes them: package name -> synopses. */
export function licensesOf(
  evidence: BuildEvidence,
  arch: string,
): { debLicenses?: ReadonlyMap<string, readonly string[] | null> } {
  const list = evidence.debLicenses?.get(arch);
  return list === undefined ? {} : { debLicenses: new Map(list) };
}
