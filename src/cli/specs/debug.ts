import { COMMON, type CommandSpec, type OptionSpec } from '../spec.js';

export const DEBUG_OPTIONS = [
  {
    name: 'image',
    type: 'string',
    value: 'REF',
    description:
      "another toolbox image, already in the engine (default: distill's, from Debian's busybox-static)",
  },
  {
    name: 'inspect',
    type: 'string',
    value: '[HOST:]PORT',
    description:
      "open the Node inspector of the container's node (SIGUSR1, no restart) and forward it to HOST:PORT (default host 127.0.0.1) until Ctrl-C",
  },
  {
    name: 'copy-image',
    type: 'string',
    value: 'REF',
    description:
      'write REF with the toolbox added at /busybox (entrypoint untouched) to -o DEST, for runtimes distill cannot reach',
  },
  {
    name: 'toolbox',
    type: 'boolean',
    description: "write distill's toolbox image to -o DEST (e.g. a registry the cluster pulls from)",
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    repeatable: true,
    value: 'DEST',
    description: 'where --copy-image or --toolbox writes (any image reference)',
  },
  {
    name: 'container',
    short: 'c',
    type: 'string',
    value: 'NAME',
    description: "pod/NAME: the pod's container to join (kubectl debug --target)",
  },
  {
    name: 'namespace',
    short: 'n',
    type: 'string',
    value: 'NS',
    description: "pod/NAME: the pod's namespace",
  },
  {
    name: 'run',
    type: 'boolean',
    description: 'pod/NAME: run the kubectl commands instead of printing them',
  },
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const DEBUG: CommandSpec = {
  name: 'debug',
  summary: 'a shell, a command or the Node inspector beside a running container',
  positionals: { name: 'CONTAINER' },
  description: [
    "Starts a toolbox container in the Docker engine joined to CONTAINER's PID, network and IPC namespaces, with SYS_PTRACE: the target's processes are its processes (in distill's images PID 1 is tini and node its child), its network is the toolbox's (127.0.0.1 is the app), and its files are at /proc/1/root, where the shell starts. Without a command it is an interactive shell (a TTY when stdin is a terminal); with -- CMD it runs that and exits with its status, stdout and stderr apart. The toolbox is removed when the session ends, on Ctrl-C or a closed terminal, and a toolbox that a killed distill left is removed by the next distill debug.",
    "The toolbox is built by distill from Debian's signed busybox-static (the layer of base --debug), for the engine's architecture, and loaded into the engine as distill-toolbox:<digest>; nothing is pulled from a public registry. See docs/DEBUG.md.",
    "For other runtimes, --copy-image REF -o DEST writes the image with the toolbox at /busybox (a debug variant, labelled and annotated so). For Kubernetes, pod/NAME prints (or with --run runs) the kubectl debug command of an ephemeral container with a toolbox image the cluster can pull (--image; push distill's with --toolbox -o docker://REGISTRY/distill-toolbox).",
  ],
  options: DEBUG_OPTIONS,
  examples: [
    ['distill debug my-app', 'a shell in the toolbox, in the app container'],
    ['distill debug my-app -- wget -qO- 127.0.0.1:8080', 'the app, over its own network'],
    ['distill debug my-app --inspect 9229', 'Chrome DevTools on the running app: open the devtools:// line'],
  ],
  load: () => import('../commands/debug.js'),
};
