import type { OptionSpec } from '../spec.js';

/** The remote build cache's options, as buildx names them (`build` and `base`; docs/CI.md). */
export const REMOTE_CACHE_OPTIONS = [
  {
    name: 'cache',
    type: 'string',
    value: 'REF',
    description:
      'a registry repository (docker://HOST/REPO) or OCI layout (oci:DIR) read and written as the build cache (docs/CI.md)',
    group: 'Cache',
  },
  {
    name: 'cache-from',
    type: 'string',
    repeatable: true,
    value: 'REF',
    description: 'a build cache (as --cache) read from, never written: what is safe for untrusted branches',
    group: 'Cache',
  },
  {
    name: 'cache-to',
    type: 'string',
    repeatable: true,
    value: 'REF',
    description: 'a build cache (as --cache) written to, not read',
    group: 'Cache',
  },
] as const satisfies readonly OptionSpec[];
