import { COMMON, type CommandSpec, type OptionSpec } from '../spec.js';
import { REMOTE_CACHE_OPTIONS } from './cache.js';
import { SOURCES } from './shared.js';
import { SIGN_KEY_OPTION } from './sign.js';

export const BUILD_OPTIONS = [
  {
    ...SOURCES.node,
    description:
      'the Node version (else engines.node, .nvmrc, .node-version, volta.node, else the active LTS)',
    group: 'App',
  },
  {
    name: 'cmd',
    type: 'string',
    value: '"FILE ARGS"',
    description: 'what node runs (else distill.cmd in package.json, scripts.start, main, index.js)',
    group: 'App',
  },
  {
    name: 'build-script',
    type: 'string',
    value: 'NAME',
    description:
      'the package.json script run before pruning (default: "build" when there is one; \'\': none)',
    group: 'App',
  },
  {
    name: 'no-build',
    type: 'boolean',
    description: "run no build script (the command's file must then be in the source tree)",
    group: 'App',
  },
  {
    name: 'no-prune',
    type: 'boolean',
    description:
      'keep every installed file in node_modules (default: leave out docs, tests, type declarations, source maps; see docs/IMAGE-SIZE.md)',
    group: 'App',
  },
  {
    name: 'trace',
    type: 'boolean',
    description:
      "keep in node_modules only the files the app can reach from its command's file (traced with @vercel/nft), their package.json, licences and native libraries",
    group: 'App',
  },
  {
    name: 'trace-entry',
    type: 'string',
    repeatable: true,
    value: 'FILE',
    description:
      'trace from this file of the app too (a worker, a dynamically imported module); implies --trace',
    group: 'App',
    complete: 'file',
  },
  {
    name: 'trace-include',
    type: 'string',
    repeatable: true,
    value: 'GLOB',
    description:
      'keep the files this glob matches as well, relative to the app (node_modules/PKG/**: a package reached by require(variable)); implies --trace',
    group: 'App',
  },
  {
    name: 'workspace',
    short: 'w',
    type: 'string',
    value: 'NAME',
    description: 'build one package of an npm, pnpm or yarn workspace (and the workspace packages it needs)',
    group: 'App',
  },
  {
    name: 'include-secret',
    type: 'string',
    repeatable: true,
    value: 'PATH',
    description:
      'keep a file (or a directory) of the app that looks like a secret in the image; others are left out with a warning',
    group: 'App',
    complete: 'file',
  },
  {
    name: 'base',
    type: 'string',
    value: 'REF',
    description: "the OS base image (default: Debian's packages for Node, assembled by distill, nonroot)",
    group: 'Image',
  },
  {
    name: 'package',
    type: 'string',
    repeatable: true,
    value: 'NAME',
    description: 'add a Debian package (and its dependencies) to the base',
    group: 'Image',
  },
  {
    name: 'init',
    type: 'boolean',
    description: "tini as PID 1 (signals, zombie reaping): the default on distill's base",
    group: 'Image',
  },
  {
    name: 'no-init',
    type: 'boolean',
    description: 'node as PID 1, without tini (an app that ignores SIGTERM then waits out docker stop)',
    group: 'Image',
  },
  {
    name: 'healthcheck',
    type: 'string',
    value: 'PATH|URL',
    description: "a HEALTHCHECK that asks the app over HTTP with the image's own node (no curl needed)",
    group: 'Image',
  },
  { name: 'debug', type: 'boolean', description: 'add the busybox toolbox at /busybox', group: 'Image' },
  {
    name: 'user',
    type: 'string',
    value: 'USER[:GROUP]',
    description: 'who the app runs as (default 65532:65532)',
    group: 'Image',
  },
  {
    name: 'env',
    short: 'e',
    type: 'string',
    repeatable: true,
    value: 'NAME=VALUE',
    description: 'an environment variable of the image',
    group: 'Image',
  },
  {
    name: 'port',
    short: 'p',
    type: 'string',
    repeatable: true,
    value: 'PORT[/udp]',
    description: 'a port the app listens on (the image exposes it; "Run it" publishes it)',
    group: 'Image',
  },
  {
    name: 'writable',
    type: 'string',
    repeatable: true,
    value: 'DIR',
    description: 'an empty directory the app user owns and may write (relative: under the working directory)',
    group: 'Image',
  },
  {
    name: 'volume',
    type: 'string',
    repeatable: true,
    value: 'DIR',
    description:
      "a writable directory declared as a VOLUME (a named volume mounted there is the app user's too)",
    group: 'Image',
  },
  {
    ...COMMON.platform,
    value: 'linux/amd64,linux/arm64',
    description: "the image's platforms, comma-separated; two make an index (default: this machine's)",
    group: 'Image',
    complete: ['linux/amd64', 'linux/arm64', 'linux/amd64,linux/arm64'],
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    repeatable: true,
    value: 'REF',
    description: 'where the image goes: any image reference (see distill --help)',
    group: 'Output',
  },
  {
    name: 'tag',
    short: 't',
    type: 'string',
    repeatable: true,
    value: 'NAME[:TAG]',
    description:
      "the image's name, as docker build -t: tags the default layout, names what --load and --push write",
    group: 'Output',
  },
  {
    name: 'load',
    type: 'boolean',
    description: "load the image into the Docker engine as each -t NAME (without -t: package.json's name)",
    group: 'Output',
  },
  {
    name: 'push',
    type: 'boolean',
    description: 'push the image to the registry each -t REGISTRY/NAME[:TAG] names',
    group: 'Output',
  },
  {
    name: 'iidfile',
    type: 'string',
    value: 'FILE',
    description: "write the image ID (its config's digest; an index's own digest) as buildx does",
    group: 'Output',
    complete: 'file',
  },
  {
    name: 'metadata-file',
    type: 'string',
    value: 'FILE',
    description: 'write the result as JSON, with the keys buildx writes (containerimage.digest, ...)',
    group: 'Output',
    complete: 'file',
  },
  SIGN_KEY_OPTION,
  {
    name: 'plan',
    type: 'boolean',
    description: 'print the resolved plan as JSON and stop; builds nothing',
    group: 'Output',
  },
  {
    name: 'pull',
    type: 'boolean',
    description: 'resolve Node and the base packages again (else what was resolved is kept a day)',
    group: 'Sources',
  },
  SOURCES.nodeMirror,
  SOURCES.suite,
  SOURCES.mirror,
  SOURCES.keyring,
  ...REMOTE_CACHE_OPTIONS,
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const BUILD: CommandSpec = {
  name: 'build',
  summary: 'build a Node.js app into a distroless image, without a Docker daemon',
  positionals: { name: '[DIR]', complete: 'dir' },
  description: [
    'Builds the app in DIR (default: the current directory) as a multi-stage Dockerfile would: installs and builds it in a scratch copy with the package manager its lockfile names, then puts its production dependencies, its files and the official Node binary on a distroless Debian base. Same inputs, same digest.',
    'Without -o, --load or --push the image goes to an OCI layout in DIR/.distill/image (only the last build is kept there).',
  ],
  options: BUILD_OPTIONS,
  examples: [
    ['distill build examples/hello', 'an OCI layout in examples/hello/.distill/image'],
    ['distill build . -t my/app:1 --load', 'into the Docker engine: docker run --rm my/app:1'],
    [
      'distill build . -t ghcr.io/acme/app:1 --push --platform linux/amd64,linux/arm64',
      'both platforms, pushed as one index',
    ],
  ],
  load: () => import('../commands/build.js'),
};
