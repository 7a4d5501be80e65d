import type { OptionSpec } from '../spec.js';

/** Options `build`, `base` and `lock` share: where Node and the Debian packages come from. */
export const SOURCES = {
  node: {
    name: 'node',
    type: 'string',
    value: 'SPEC',
    description: 'the Node version: 24, 24.11, lts, a semver range',
  },
  nodeMirror: {
    name: 'node-mirror',
    type: 'string',
    value: 'URL',
    description:
      "a Node.js dist mirror (index.json and tarballs) instead of the npm registry's node-linux-* packages",
    group: 'Sources',
  },
  suite: {
    name: 'suite',
    type: 'string',
    repeatable: true,
    value: 'SUITE',
    description: 'a Debian suite to take packages from (default trixie, trixie-updates, trixie-security)',
    group: 'Sources',
  },
  mirror: {
    name: 'mirror',
    type: 'string',
    repeatable: true,
    value: 'URL|SUITE=URL',
    description: "another Debian mirror, for every suite or for one (default deb.debian.org's)",
    group: 'Sources',
  },
  keyring: {
    name: 'keyring',
    type: 'string',
    repeatable: true,
    value: 'FILE',
    description: "OpenPGP keys the mirror's InRelease is signed with, besides Debian's own",
    group: 'Sources',
    complete: 'file',
  },
} as const satisfies Record<string, OptionSpec>;

/** `build` and `base`: attestations attached to the image (decision 0018). */
export const ATTEST = {
  attest: {
    name: 'attest',
    type: 'string',
    value: 'KIND,...',
    description:
      'attach attestations as OCI 1.1 referrers: provenance (SLSA v1), sbom (SPDX 2.3); to oci:, oci-archive: and registries',
    group: 'Output',
    complete: ['provenance', 'sbom', 'sbom,provenance'],
  },
  sbom: {
    name: 'sbom',
    type: 'boolean',
    description: 'the same as --attest sbom (with --attest provenance: both)',
    group: 'Output',
  },
  attestTimestamps: {
    name: 'attest-timestamps',
    type: 'boolean',
    description: 'record when the build ran in the provenance (then it differs from build to build)',
    group: 'Output',
  },
} as const satisfies Record<string, OptionSpec>;

/** `build` and `base`: how the layers they write are compressed. */
export const COMPRESSION = {
  name: 'compression',
  type: 'string',
  value: 'gzip|zstd[:LEVEL]',
  description:
    'how layers are compressed: gzip (default, level 6) or zstd (level 3; 1-19; zstd:19 is the smallest, docs/IMAGE-SIZE.md), which Docker 20.10 cannot pull',
  group: 'Output',
  complete: ['gzip', 'zstd', 'zstd:19'],
} as const satisfies OptionSpec;
