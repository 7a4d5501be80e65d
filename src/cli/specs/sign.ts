import { COMMON, type CommandSpec, type OptionSpec } from '../spec.js';

const KEY_FILES =
  'Keys are cosign\'s: PEM PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or cosign\'s encrypted "ENCRYPTED SIGSTORE PRIVATE KEY" files, whose password comes from COSIGN_PASSWORD or is asked on the terminal; public keys are PEM "PUBLIC KEY" (what skopeo\'s keyPath takes). ECDSA P-256.';

/** `--sign-key FILE` of `build` and `base` (src/cli/sign-outputs.ts). */
export const SIGN_KEY_OPTION = {
  name: 'sign-key',
  type: 'string',
  value: 'FILE',
  description:
    "sign each registry and oci:DIR:TAG output with this key, as distill sign does (cosign's format); with --attest, the provenance and each SBOM too (in-toto statements in DSSE envelopes, attached beside them)",
  group: 'Output',
  complete: 'file',
} as const satisfies OptionSpec;

export const SIGN_OPTIONS = [
  {
    name: 'key',
    type: 'string',
    value: 'FILE',
    description: 'the private key to sign with (cosign.key, or a PEM key)',
    complete: 'file',
  },
  {
    name: 'generate-key',
    type: 'boolean',
    description: 'write a new key pair PREFIX.key (encrypted) and PREFIX.pub instead (PREFIX default cosign)',
  },
  {
    name: 'identity',
    type: 'string',
    value: 'NAME',
    description: 'the docker-reference the signature claims (default REF without its digest)',
  },
  {
    name: 'annotation',
    short: 'a',
    type: 'string',
    repeatable: true,
    value: 'KEY=VALUE',
    description: "an annotation in the signed payload's optional part (cosign -a)",
  },
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const SIGN: CommandSpec = {
  name: 'sign',
  summary: "sign an image with a key, in cosign's format",
  positionals: { name: 'REF' },
  description: [
    "Signs the image or index REF names, in a registry or an OCI layout (oci:DIR:TAG), the way cosign sign --key does: a simple-signing payload naming REF's digest, signed with ECDSA P-256 and SHA-256, stored as a layer of the sha256-<hex>.sig tag beside the image. skopeo and podman with a sigstoreSigned policy (keyPath, use-sigstore-attachments: true) accept it, and it is the format cosign verify --key reads. Signing again with the same key adds nothing; another key appends its signature. distill sign --generate-key [PREFIX] writes a key pair instead.",
    KEY_FILES,
  ],
  options: SIGN_OPTIONS,
  examples: [
    ['distill sign --generate-key', 'write cosign.key (encrypted) and cosign.pub'],
    ['COSIGN_PASSWORD=... distill sign ghcr.io/acme/app:1 --key cosign.key', 'sign what the tag names'],
    ['distill sign oci:out:app --key ec.pem', 'sign an image in an OCI layout'],
  ],
  load: () => import('../commands/sign.js'),
};

export const VERIFY_OPTIONS = [
  {
    name: 'key',
    type: 'string',
    value: 'FILE',
    description: 'the public key signatures must verify with (cosign.pub)',
    complete: 'file',
  },
  COMMON.format,
  COMMON.creds,
  COMMON.insecure,
  COMMON.quiet,
  COMMON.help,
] as const satisfies readonly OptionSpec[];

export const VERIFY: CommandSpec = {
  name: 'verify',
  summary: 'check that an image is signed with a key',
  positionals: { name: 'REF' },
  description: [
    "Exits 0 when a signature in REF's sha256-<hex>.sig attachment verifies with the public key and names REF's digest, printing what it claims. Otherwise exits 1 with the reason's code: SIGNATURE_MISSING (not signed), SIGNATURE_KEY_MISMATCH (signed with another key), SIGNATURE_TAMPERED (a payload altered where it is stored), SIGNATURE_DIGEST_MISMATCH (a signature of another image copied here), KEY_INVALID (not a usable key file). --format json prints {verified, digest, signatures} or {verified: false, code, message}.",
    KEY_FILES,
  ],
  options: VERIFY_OPTIONS,
  examples: [
    ['distill verify ghcr.io/acme/app:1 --key cosign.pub', 'exit 0 when signed with that key'],
    ['distill verify oci:out:app --key cosign.pub --format json', 'for scripts'],
  ],
  load: () => import('../commands/sign.js'),
};
