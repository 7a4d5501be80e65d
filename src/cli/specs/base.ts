import { VARIANTS } from '../../plan/variants.js';
import { COMMON, type CommandSpec, type OptionSpec } from '../spec.js';
import { REMOTE_CACHE_OPTIONS } from './cache.js';
import { ATTEST, SOURCES } from './shared.js';
import { SIGN_KEY_OPTION } from './sign.js';

/** What the variant is made of: the options `base` and `lock` share. */
const CONTENT = [
  {
    name: 'file',
    short: 'f',
    type: 'string',
    value: 'base.yaml',
    description:
      'the same fields in a file, plus env, entrypoint, cmd, user, workdir and extra files (see docs/BASE-IMAGES.md)',
    group: 'Image',
    complete: 'file',
  },
  { name: 'nonroot', type: 'boolean', description: 'run as user 65532', group: 'Image' },
  {
    name: 'debug',
    type: 'boolean',
    description: 'add busybox at /busybox (entrypoint /busybox/sh)',
    group: 'Image',
  },
  {
    name: 'package',
    type: 'string',
    repeatable: true,
    value: 'NAME[=VERSION]',
    description: 'add a Debian package and its dependencies',
    group: 'Image',
  },
  {
    name: 'arch',
    type: 'string',
    value: 'amd64,arm64',
    description: "one image per Debian architecture, in an index (default: this machine's)",
    group: 'Image',
    complete: ['amd64', 'arm64', 'amd64,arm64'],
  },
  {
    ...SOURCES.node,
    description: 'the Node version of a nodejs variant (default: its major)',
    group: 'Image',
  },
  {
    name: 'lock',
    type: 'string',
    value: 'FILE',
    description: 'build only from this lockfile (no package index is read)',
    group: 'Sources',
    complete: 'file',
  },
  SOURCES.suite,
  SOURCES.mirror,
  SOURCES.keyring,
  SOURCES.nodeMirror,
] as const satisfies readonly OptionSpec[];

export const BASE_OPTIONS = [
  ...CONTENT,
  {
    name: 'output',
    short: 'o',
    type: 'string',
    repeatable: true,
    value: 'REF',
    description: 'where the image goes: any image reference (default oci:distill-VARIANT:latest)',
    group: 'Output',
  },
  ...REMOTE_CACHE_OPTIONS,
  ATTEST.attest,
  ATTEST.sbom,
  ATTEST.attestTimestamps,
  SIGN_KEY_OPTION,
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const LOCK_OPTIONS = [
  ...CONTENT.filter((o) => o.name !== 'lock'),
  {
    name: 'lock',
    type: 'string',
    value: 'FILE',
    description: 'the lockfile to check with --check (default distill.lock.json)',
    group: 'Sources',
    complete: 'file',
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    value: 'FILE',
    description: 'where the lockfile goes (default distill.lock.json)',
    group: 'Output',
    complete: 'file',
  },
  {
    name: 'check',
    type: 'boolean',
    description: 'exit 1 listing the locked packages Debian has newer versions of',
    group: 'Output',
  },
  COMMON.format,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const BASE: CommandSpec = {
  name: 'base',
  summary: `build a distroless base image from signed Debian packages (${VARIANTS.join(', ')})`,
  positionals: { name: 'VARIANT', complete: VARIANTS },
  description: [
    "Assembles a distroless base image from Debian's packages: InRelease verified against Debian's archive keys, every Packages index and .deb against the hashes it signs; no maintainer script runs. The variants hold the package sets of the reference distroless images (docs/BASE-IMAGES.md).",
  ],
  options: BASE_OPTIONS,
  examples: [
    ['distill base nodejs24 --nonroot -o docker-daemon:my/node:24', 'into the Docker engine'],
    [
      'distill base cc --package libcurl4t64 --arch amd64,arm64 -o ghcr.io/acme/cc:1',
      'two architectures, pushed as one index',
    ],
    ['distill base nodejs24 --lock distill.lock.json', 'exactly the packages a lockfile pins'],
  ],
  load: () => import('../commands/base.js'),
};

export const LOCK: CommandSpec = {
  name: 'lock',
  summary: "pin a base's packages in distill.lock.json; lock --check finds updates",
  positionals: { name: 'VARIANT', complete: VARIANTS },
  description: [
    'Resolves a variant (with the same options as distill base) and writes every package, version and SHA256 to a lockfile, so that distill base --lock builds the same image anywhere. With --check, reads the lockfile and exits 1 listing the packages Debian has shipped newer versions of.',
  ],
  options: LOCK_OPTIONS,
  examples: [
    ['distill lock nodejs24', 'write distill.lock.json'],
    ['distill lock --check', 'exit 1 and a list when Debian has a newer version'],
  ],
  load: () => import('../commands/base.js'),
};
