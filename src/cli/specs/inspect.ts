import { KNOWN_RULES } from '../../inspect/deny.js';
import { COMMON, type CommandSpec, type OptionSpec } from '../spec.js';

const REPORT = {
  format: {
    ...COMMON.format,
    value: 'text|markdown|json|html',
    description:
      'the report format (json follows the schemas in docs/schemas; default: from -o FILE, else text)',
    complete: ['text', 'markdown', 'json', 'html'],
  },
  output: {
    name: 'output',
    short: 'o',
    type: 'string',
    value: 'FILE',
    description: 'write the report to FILE, in the format its extension names (.json .html .md .txt)',
    group: 'Report',
    complete: 'file',
  },
  deny: {
    name: 'deny',
    type: 'string',
    repeatable: true,
    value: 'RULES',
    description: `exit 3 listing what breaks a rule, comma-separated: ${KNOWN_RULES}`,
    group: 'Report',
  },
  security: {
    name: 'security',
    type: 'boolean',
    description: "ask Debian's security archive which deb packages have newer versions (network)",
    group: 'Report',
  },
  securityMirror: {
    name: 'security-mirror',
    type: 'string',
    value: 'URL',
    description: 'the security archive (default http://deb.debian.org/debian-security)',
    group: 'Report',
  },
  platform: {
    ...COMMON.platform,
    value: 'OS/ARCH[/VARIANT]',
    description: "which image of a multi-platform index (default: the host's)",
    complete: ['linux/amd64', 'linux/arm64'],
  },
} as const satisfies Record<string, OptionSpec>;

export const COMPARE_OPTIONS = [
  REPORT.output,
  REPORT.deny,
  REPORT.security,
  REPORT.securityMirror,
  REPORT.format,
  REPORT.platform,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const INSPECT_OPTIONS = [
  {
    name: 'files',
    type: 'string',
    value: 'PATH',
    description: 'list the merged tree under PATH (/ for all) instead of the facts',
    group: 'Report',
  },
  // Everything compare takes, in the same order.
  ...COMPARE_OPTIONS,
] as const satisfies readonly OptionSpec[];

const REFS =
  'REF is any image reference (see distill --help), or rootfs:DIR or rootfs:FILE.tar[.gz] for a root filesystem. Layers are streamed once, never unpacked to disk.';

export const INSPECT: CommandSpec = {
  name: 'inspect',
  summary: 'what an image holds: size, shell, package managers, libc, tools, packages',
  positionals: { name: 'REF' },
  description: [
    'Reports the facts of one image: size per layer, shell, package managers, libc, attack-surface tools, setuid files, user, packages, secrets. With --files, lists its merged file tree instead.',
    REFS,
  ],
  options: INSPECT_OPTIONS,
  examples: [
    ['distill inspect docker-daemon:my/app:1', 'the facts, as text'],
    [
      'distill inspect oci:.distill/image --deny shell,root -o facts.json',
      'exit 3 if broken; JSON in a file',
    ],
    ['distill inspect rootfs:/srv/chroot --files /usr/bin', 'the merged tree under /usr/bin'],
  ],
  load: () => import('../commands/inspect.js'),
};

export const COMPARE: CommandSpec = {
  name: 'compare',
  summary: 'the same facts side by side, differences marked',
  positionals: { name: 'REF REF...' },
  description: [
    'Puts the facts of two images or more side by side, one row per fact, differences marked.',
    REFS,
  ],
  options: COMPARE_OPTIONS,
  examples: [
    ['distill compare docker://127.0.0.1:5000/alpine-app oci:.distill/image', 'a table on stdout'],
    ['distill compare IMG1 IMG2 IMG3 -o report.html', 'one self-contained HTML file'],
  ],
  load: () => import('../commands/inspect.js'),
};
