/**
 * The secret scanner's rules: the one list of what distill recognises as a likely secret, each
 * rule with the reason it matters. `distill inspect` (the secrets fact, `--deny secrets`) and the
 * build use these same rules. Pure: no I/O, no imports but secret-env.ts.
 *
 * Files: a rule is chosen by the file's path alone (secretCandidate: one Map lookup and a few
 * string tests, cheap for the 99.9% of files that match none), then its content decides (at most
 * `bytes` bytes of the file's start): a credentials file with no credential in it is no secret.
 * Only private keys are looked for in files of any name, by their first bytes.
 *
 * Environment variables of an image config: names that hold credentials by convention with a
 * value that is not a setting (envSecret), and URLs with a password (secret-env.ts).
 *
 * A secret is reported by where it is and what kind it looks like, never by value.
 */

import { envSecret, urlWithCredentials } from './secret-env.js';

export type SecretKind =
  | 'env'
  | 'url-credentials'
  | 'private-key'
  | 'npmrc-token'
  | 'aws-credentials'
  | 'docker-config'
  | 'git-credentials'
  | 'netrc'
  | 'pypirc'
  | 'dotenv'
  | 'gcp-service-account'
  | 'kubeconfig';

/** Every kind, in the order of the schema's enum. */
export const SECRET_KINDS: readonly SecretKind[] = [
  'env',
  'url-credentials',
  'private-key',
  'npmrc-token',
  'aws-credentials',
  'docker-config',
  'git-credentials',
  'netrc',
  'pypirc',
  'dotenv',
  'gcp-service-account',
  'kubeconfig',
];

export interface SecretRule {
  readonly id: SecretKind;
  /** Which files it looks at, for people (docs, tests). */
  readonly files: string;
  /** Why such a file in an image matters. */
  readonly reason: string;
  /** Bytes of the file's start its content check needs (it is given at most these). */
  readonly bytes: number;
  /** Whether the content (the file's first `bytes` bytes, or all of a shorter file) holds a secret. */
  matches(head: Uint8Array): boolean;
}

/** What a file was found to hold. */
export interface SecretMatch {
  id: SecretKind;
  reason: string;
}

// ---- environment variables (secret-env.ts) ----

export { envSecret, REDACTED, redactEnv, secretEnvName, urlWithCredentials } from './secret-env.js';

// ---- file contents ----

/** Bytes read from a credentials file: they are small; a longer one is judged by its start. */
const TEXT_BYTES = 64 * 1024;
/** Bytes of a file's start enough to tell a private key. */
export const SNIFF_BYTES = 64;
/** The shortest private key header, `-----BEGIN PRIVATE KEY-----`. */
const MIN_KEY_FILE = 27;
/**
 * The largest JSON file read for a service account key (they are about 2.4 KB): JSON files are
 * many in a node_modules, and a larger one is more often read through a promise than in place.
 */
const MAX_GCP_FILE = 16 * 1024;

function text(head: Uint8Array): string {
  return Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('utf8');
}

/** Lines that are not comments (`#`, `;`), trimmed. */
function lines(head: Uint8Array): string[] {
  return text(head)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';'));
}

/**
 * A PEM private key (`-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY-----`) or a PuTTY key
 * file (`PuTTY-User-Key-File-2:`), at the very start of the file.
 */
export function isPrivateKey(head: Uint8Array): boolean {
  // Nearly every small file of an image is sniffed: a first byte other than "-" or "P" settles it
  // without copying the bytes into a string (0.5 s of the 14 s of inspecting 950,000 small files).
  const first = head[0];
  if (first !== 0x2d && first !== 0x50) return false;
  const start = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, SNIFF_BYTES));
  return /^(-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----|PuTTY-User-Key-File-\d+: )/.test(
    start.toString('latin1'),
  );
}

/**
 * An `.npmrc` that holds a credential (`//registry/:_authToken=...`, `_auth=`, `_password=`); a
 * value that only names an environment variable (`${NPM_TOKEN}`, expanded by npm) holds none.
 */
export function npmrcHasToken(head: Uint8Array): boolean {
  return lines(head).some((l) => {
    const m = /(?:^|:)(?:_authToken|_auth|_password)\s*=\s*(\S.*)$/.exec(l);
    return m !== null && !/^\$\{[^}]+\}$/.test(m[1]!.trim());
  });
}

/**
 * A yarn (berry) `.yarnrc.yml` that holds an npm registry credential (`npmAuthToken`,
 * `npmAuthIdent`, at the top or under `npmScopes`/`npmRegistries`); a value that only names an
 * environment variable (`${NPM_TOKEN}`, expanded by yarn) holds none.
 */
export function yarnrcHasToken(head: Uint8Array): boolean {
  return lines(head).some((l) => {
    const m = /^["']?(?:npmAuthToken|npmAuthIdent)["']?\s*:\s*(.*)$/.exec(l);
    if (m === null) return false;
    const v = m[1]!.trim().replace(/^(["'])(.*)\1$/, '$2');
    return present(v) && !/^\$\{[^}]+\}$/.test(v);
  });
}

/** A value in `key = value` or `key: value` that is really there (not empty, "", '', null or ~). */
function present(value: string): boolean {
  const v = value.trim();
  return v !== '' && v !== '""' && v !== "''" && v !== 'null' && v !== '~';
}

/** Lines `KEY = value` / `KEY: value` of a text file with one of `keys` set. */
function hasKey(head: Uint8Array, keys: RegExp, sep = /^\s*[=:]/): boolean {
  for (const l of lines(head)) {
    const m = keys.exec(l);
    if (m?.index !== 0) continue;
    const rest = l.slice(m[0].length);
    const s = sep.exec(rest);
    if (s && present(rest.slice(s[0].length))) return true;
  }
  return false;
}

/** `.env` files by name: templates (`.env.example`, `.env.sample`, ...) left out. */
export function isDotenv(base: string): boolean {
  if (base !== '.env' && !base.startsWith('.env.')) return false;
  return !/\.(example|sample|template|dist|defaults?)$/i.test(base);
}

/** A `.env` line (`[export ]NAME=value`, value optionally quoted) that envSecret finds a secret in. */
function dotenvHasSecret(head: Uint8Array): boolean {
  return lines(head).some((l) => {
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(l);
    if (!m) return false;
    let value = m[2]!.trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1);
    return value !== '' && envSecret(`${m[1]}=${value}`) !== undefined;
  });
}

/** A Docker config.json with a registry credential: `auths.*.auth` or `auths.*.identitytoken`. */
function dockerConfigHasAuth(head: Uint8Array): boolean {
  let config: unknown;
  try {
    config = JSON.parse(text(head));
  } catch {
    // Cut at `bytes` or not JSON: the credential's own shape is enough to tell.
    return /"(auth|identitytoken)"\s*:\s*"[^"]+"/.test(text(head));
  }
  const auths = (config as { auths?: unknown } | null)?.auths;
  if (auths === null || typeof auths !== 'object') return false;
  return Object.values(auths).some((a: unknown) => {
    const e = a as { auth?: unknown; identitytoken?: unknown } | null;
    return (
      (typeof e?.auth === 'string' && e.auth !== '') ||
      (typeof e?.identitytoken === 'string' && e.identitytoken !== '')
    );
  });
}

/** A Google Cloud service account key: `"type": "service_account"` and a `"private_key"`. */
function gcpServiceAccount(head: Uint8Array): boolean {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.indexOf('service_account') < 0) return false;
  const t = b.toString('utf8');
  return /"type"\s*:\s*"service_account"/.test(t) && /"private_key"\s*:\s*"-----BEGIN/.test(t);
}

function rule(
  id: SecretKind,
  files: string,
  reason: string,
  matches: (head: Uint8Array) => boolean,
  bytes = TEXT_BYTES,
): SecretRule {
  return { id, files, reason, bytes, matches };
}

const PRIVATE_KEY = rule(
  'private-key',
  `any file of ${MIN_KEY_FILE} B to 64 KiB but source code (.js, .ts, .css, ...) that starts with a PEM private key or a PuTTY key`,
  'a private key: whoever pulls the image can impersonate its owner (TLS, SSH, signing)',
  isPrivateKey,
  SNIFF_BYTES,
);
const NPMRC = rule(
  'npmrc-token',
  '.npmrc, npmrc with _authToken, _auth or _password',
  'an npm registry credential: publish or read private packages as its owner',
  npmrcHasToken,
);
const YARNRC = rule(
  'npmrc-token',
  '.yarnrc.yml with npmAuthToken or npmAuthIdent',
  NPMRC.reason,
  yarnrcHasToken,
);
const AWS = rule(
  'aws-credentials',
  '.aws/credentials, .aws/config with aws_secret_access_key or aws_session_token',
  'AWS access keys: the cloud account they belong to, as far as their policy reaches',
  (h) => hasKey(h, /aws_secret_access_key|aws_session_token/i),
);
const DOCKER = rule(
  'docker-config',
  '.docker/config.json with auths.*.auth or identitytoken',
  'a container registry login: pull and push images as its owner',
  dockerConfigHasAuth,
);
const GIT = rule(
  'git-credentials',
  '.git-credentials, .config/git/credentials with a URL holding a password',
  'a git host password or token: read and push the repositories it reaches',
  (h) => lines(h).some(urlWithCredentials),
);
const NETRC = rule(
  'netrc',
  '.netrc, _netrc with a password',
  'passwords for the hosts it lists (curl, ftp, git over HTTP use it)',
  (h) => lines(h).some((l) => /(^|\s)password\s+\S/.test(l)),
);
const PYPIRC = rule(
  'pypirc',
  '.pypirc with a password',
  'a Python package index login or token: publish packages as its owner',
  (h) => hasKey(h, /password/i),
);
const DOTENV = rule(
  'dotenv',
  '.env, .env.* (not .env.example and other templates) with a credential-like name set',
  'application secrets meant for the environment, baked into the image',
  dotenvHasSecret,
);
const GCP = rule(
  'gcp-service-account',
  '*.json of up to 16 KiB with "type": "service_account" and a private_key',
  'a Google Cloud service account key: the project, as far as its roles reach',
  gcpServiceAccount,
  MAX_GCP_FILE,
);
const KUBE = rule(
  'kubeconfig',
  '.kube/config, kubeconfig, *.kubeconfig with a token, client key or password',
  'a Kubernetes login: the cluster, as far as its role reaches',
  (h) => hasKey(h, /(token|client-key-data|password|id-token|refresh-token|access-token)/, /^\s*:/),
);

/** Every file rule. */
export const SECRET_RULES: readonly SecretRule[] = [
  NPMRC,
  YARNRC,
  AWS,
  DOCKER,
  GIT,
  NETRC,
  PYPIRC,
  KUBE,
  DOTENV,
  GCP,
  PRIVATE_KEY,
];

/** Rules by file name; `under` is what the path must end with (`.aws/credentials`), if anything. */
const BY_NAME = new Map<string, readonly { under?: string; rule: SecretRule }[]>([
  ['.npmrc', [{ rule: NPMRC }]],
  ['npmrc', [{ rule: NPMRC }]],
  ['.yarnrc.yml', [{ rule: YARNRC }]],
  [
    'credentials',
    [
      { under: '.aws/credentials', rule: AWS },
      { under: '.config/git/credentials', rule: GIT },
    ],
  ],
  [
    'config',
    [
      { under: '.aws/config', rule: AWS },
      { under: '.kube/config', rule: KUBE },
    ],
  ],
  ['config.json', [{ under: '.docker/config.json', rule: DOCKER }]],
  ['.git-credentials', [{ rule: GIT }]],
  ['.netrc', [{ rule: NETRC }]],
  ['_netrc', [{ rule: NETRC }]],
  ['.pypirc', [{ rule: PYPIRC }]],
  ['kubeconfig', [{ rule: KUBE }]],
]);

/**
 * First characters of the names BY_NAME holds and of `.env` files: a name starting with none of
 * them needs no lookup (hashing a fresh string, for each of a million files, showed in a profile).
 */
const NAMED_FIRST = new Uint8Array(128);
for (const name of [...BY_NAME.keys(), '.env']) NAMED_FIRST[name.charCodeAt(0)] = 1;

/**
 * Source code and style sheets by name: such a file that started with a PEM header would not be
 * code, so it is not read for a key. Most of an app's own files are these, and the build checks
 * every file of the app on the warm path (reading a file's first bytes costs about 15 us).
 */
const CODE_FILE = /\.(?:[cm]?[jt]s|[jt]sx|map|css|scss|sass|less|vue|svelte|astro)$/;

/** `path` is `suffix` or ends with `/suffix`. */
function endsWithPath(path: string, suffix: string): boolean {
  return (
    path.endsWith(suffix) && (path.length === suffix.length || path[path.length - suffix.length - 1] === '/')
  );
}

/**
 * The rule whose content check a file must pass, by its path (`/root/.aws/credentials` or
 * relative), last component and size; undefined for a file no rule looks at.
 */
export function secretCandidate(path: string, base: string, size: number): SecretRule | undefined {
  const first = base.charCodeAt(0);
  if (first < 128 && NAMED_FIRST[first] === 1) {
    const named = BY_NAME.get(base);
    if (named !== undefined) {
      for (const n of named) if (n.under === undefined || endsWithPath(path, n.under)) return n.rule;
    }
    if (first === 0x2e && isDotenv(base)) return DOTENV;
  }
  if (base.endsWith('.kubeconfig')) return KUBE;
  if (size > TEXT_BYTES || size < MIN_KEY_FILE) return undefined;
  if (!base.endsWith('.json')) return CODE_FILE.test(base) ? undefined : PRIVATE_KEY;
  return size <= MAX_GCP_FILE ? GCP : undefined;
}

/**
 * Whether a file holds a likely secret, for a caller that has the file at hand (the build): the
 * rule by its path, then `read(max)`, the first `max` bytes of the file (all of a shorter one).
 */
export function secretRuleFor(
  path: string,
  size: number,
  read: (max: number) => Uint8Array,
): SecretMatch | undefined {
  const rule = secretCandidate(path, path.slice(path.lastIndexOf('/') + 1), size);
  return rule?.matches(read(rule.bytes)) ? { id: rule.id, reason: rule.reason } : undefined;
}

/** The reason of a kind of secret (the environment's included). */
export function secretReason(kind: SecretKind): string {
  if (kind === 'env')
    return 'a credential-like environment variable: every container and image reader sees it';
  if (kind === 'url-credentials') return 'a URL with a password in an environment variable';
  return SECRET_RULES.find((r) => r.id === kind)!.reason;
}
