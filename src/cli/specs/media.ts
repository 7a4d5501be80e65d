import { COMMON, type CommandSpec, type OptionSpec } from '../spec.js';

export const COPY_OPTIONS = [
  {
    name: 'manifest-format',
    type: 'string',
    value: 'oci|docker',
    description: 'convert the media types (this changes the manifest digest)',
    complete: ['oci', 'docker'],
  },
  COMMON.platform,
  {
    name: 'referrers',
    type: 'boolean',
    description:
      'carry the attached SBOMs, provenance and signatures along (default where DST can hold them)',
  },
  {
    name: 'no-referrers',
    type: 'boolean',
    description: 'copy the image alone, without what is attached to it',
  },
  {
    name: 'src-creds',
    type: 'string',
    value: 'USER:PASS',
    description: "the source registry's credentials (else --creds)",
    group: 'Common options',
  },
  {
    name: 'dest-creds',
    type: 'string',
    value: 'USER:PASS',
    description: "the destination registry's credentials (else --creds)",
    group: 'Common options',
  },
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const COPY: CommandSpec = {
  name: 'copy',
  summary: 'copy an image or index between any two media',
  positionals: { name: 'SRC DST' },
  description: [
    "Copies an image or a multi-platform index from SRC to DST, any two image references. Blobs are streamed and verified against their digests on the way; a failed copy leaves DST as it was. An index is copied whole unless --platform picks one image; a destination that holds one image (docker-archive:, docker-daemon:) gets the host's platform.",
    'What is attached to the image as OCI 1.1 referrers (SBOMs, provenance, signatures as referrers) goes along when both SRC and DST can hold it (oci:, oci-archive:, registries) and the manifests keep their digests (no --manifest-format).',
  ],
  options: COPY_OPTIONS,
  examples: [
    ['distill copy oci:.distill/image:latest docker-daemon:my/app:1', 'load a layout into Docker'],
    ['distill copy docker-daemon:my/app:1 docker://ghcr.io/acme/app:1', 'push what Docker has'],
    ['distill copy ghcr.io/acme/app:1 oci-archive:app.tar --platform linux/arm64', 'one platform, to a file'],
  ],
  load: () => import('../commands/media.js'),
};

export const ATTESTATIONS_OPTIONS = [
  {
    name: 'key',
    type: 'string',
    value: 'FILE',
    description:
      'check every signed attestation (DSSE, from --attest sbom,provenance --sign-key) with this public key (cosign.pub); fails when one does not verify or none is signed',
    complete: 'file',
  },
  COMMON.platform,
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const ATTESTATIONS: CommandSpec = {
  name: 'attestations',
  summary: 'list what is attached to an image (SBOMs, provenance, signatures)',
  positionals: { name: 'REF' },
  description: [
    'Lists the OCI 1.1 referrers of the image REF names, of each image of an index, and of those referrers: artifact type, digest, size and annotations. A registry answers through its referrers API, or the sha256-<hex> tag of the distribution spec when it has none; an oci: or oci-archive: layout lists them in its index.json. docker-archive: and docker-daemon: hold none.',
  ],
  options: ATTESTATIONS_OPTIONS,
  examples: [
    ['distill attestations ghcr.io/acme/app:1', 'what is attached, per platform'],
    ['distill attestations ghcr.io/acme/app:1 --key cosign.pub', 'and check the signed ones'],
    ['distill attestations oci:.distill/image --format json', 'as JSON'],
  ],
  load: () => import('../commands/attestations.js'),
};

export const DIGEST_OPTIONS = [
  COMMON.platform,
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const;

export const DIGEST: CommandSpec = {
  name: 'digest',
  summary: 'print the manifest digest of an image',
  positionals: { name: 'REF' },
  description: [
    'Prints the digest of the manifest (or index) REF names; with --platform, of that image of an index.',
  ],
  options: DIGEST_OPTIONS,
  examples: [
    ['distill digest docker://ghcr.io/acme/app:1', 'sha256:...'],
    ['distill digest oci:.distill/image --format json', 'digest, media type, size and platforms'],
  ],
  load: () => import('../commands/media.js'),
};

export const CACHE_OPTIONS = [
  {
    name: 'older-than',
    type: 'string',
    value: 'DAYS',
    description: 'prune: remove only what was not used for DAYS days',
  },
  { name: 'all', type: 'boolean', description: 'prune: remove everything the cache holds' },
  {
    name: 'keep-days',
    type: 'string',
    value: 'DAYS',
    description: 'prune REF: remove the entries of a registry cache older than DAYS days',
  },
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const CACHE: CommandSpec = {
  name: 'cache',
  summary: 'show what the cache holds (du), or empty it (prune)',
  positionals: { name: 'du|prune [REF]', complete: ['du', 'prune'] },
  description: [
    'Blobs distill downloaded or built live in a content-addressed cache: $DISTILL_CACHE, else $XDG_CACHE_HOME/distill, else ~/.cache/distill. Everything distill keeps is in it: blobs, records, toolchains, package-manager caches, the full installs of apps with a build script (trees) and temporary files. du shows its size per area (the total is what du -sb prints); prune empties it (--all), or removes what was not used for DAYS days (--older-than).',
    'prune REF --keep-days DAYS removes the entries of a registry build cache (build --cache REF, docs/CI.md) made more than DAYS days ago; the registry frees their blobs in its garbage collection.',
  ],
  options: CACHE_OPTIONS,
  examples: [
    ['distill cache du', 'where the cache is and how big'],
    ['distill cache prune --older-than 30', 'remove what was not used for 30 days'],
    [
      'distill cache prune docker://ghcr.io/acme/cache --keep-days 14',
      'remove the entries of a registry build cache (--cache) older than 14 days',
    ],
  ],
  load: () => import('../commands/media.js'),
};

export const COMPLETION_OPTIONS = [COMMON.help] as const;

export const COMPLETION: CommandSpec = {
  name: 'completion',
  summary: 'print a shell completion script (bash, zsh or fish)',
  positionals: { name: 'bash|zsh|fish', complete: ['bash', 'zsh', 'fish'] },
  description: ["Prints a script that completes distill's commands, options and their values in that shell."],
  options: COMPLETION_OPTIONS,
  examples: [
    ['source <(distill completion bash)', 'in ~/.bashrc'],
    ['distill completion zsh > ~/.zfunc/_distill', 'zsh, with ~/.zfunc on $fpath (before compinit)'],
    ['distill completion fish > ~/.config/fish/completions/distill.fish', 'fish'],
  ],
  load: () => import('../commands/completion.js'),
};
