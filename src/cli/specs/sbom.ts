import { COMMON, type CommandSpec, type OptionSpec } from '../spec.js';

export const SBOM_OPTIONS = [
  {
    ...COMMON.format,
    value: 'spdx-json|cyclonedx-json',
    description: 'the SBOM format: SPDX 2.3 JSON (default) or CycloneDX 1.6 JSON',
    complete: ['spdx-json', 'cyclonedx-json'],
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    value: 'FILE',
    description: 'write the SBOM to FILE (whole or not at all) instead of stdout',
    complete: 'file',
  },
  {
    ...COMMON.platform,
    value: 'OS/ARCH[/VARIANT]',
    description: "which image of a multi-platform index (default: the host's)",
    complete: ['linux/amd64', 'linux/arm64'],
  },
  {
    name: 'attached',
    type: 'boolean',
    description: 'the SBOM attached to the image (distill build --attest sbom), as it was attached',
  },
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const SBOM: CommandSpec = {
  name: 'sbom',
  summary: 'an SPDX or CycloneDX SBOM of what an image holds',
  positionals: { name: 'REF' },
  description: [
    "Writes the SBOM of any image from its merged filesystem, as a container sees it: Debian packages (dpkg status and status.d, with licences from machine-readable copyright files), Alpine and Wolfi packages (apk installed), every package under node_modules (with integrity and resolved from npm's hidden lockfile), rpm packages (the SQLite rpmdb of Fedora, RHEL and UBI 9; the older Berkeley DB and ndb ones are not read), and the Node binary; each tied to the layer that holds it.",
    'The same image gives the same bytes: no timestamp, and the document namespace (SPDX) or serial number (CycloneDX) is made of the content. REF is any image reference (see distill --help), or rootfs:DIR or rootfs:FILE.tar[.gz].',
  ],
  options: SBOM_OPTIONS,
  examples: [
    ['distill sbom oci:.distill/image -o sbom.spdx.json', 'SPDX 2.3 JSON in a file'],
    ['distill sbom docker://127.0.0.1:5000/app:1 --format cyclonedx-json', 'CycloneDX 1.6 on stdout'],
    ['distill sbom ghcr.io/acme/api:1 --attached', 'the SBOM its build attached'],
  ],
  load: () => import('../commands/sbom.js'),
};
