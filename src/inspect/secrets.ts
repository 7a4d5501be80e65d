/**
 * Likely secrets, reported by where they are and what kind they look like, never by value:
 * environment variables of the config named like credentials, URLs with a password, private keys
 * (files that start with a PEM `PRIVATE KEY` line), `.npmrc` files with an auth token or password,
 * and `.env` files (`.env`, `.env.production`; `.env.example` and other templates are left out).
 */
export type SecretKind = 'env' | 'url-credentials' | 'private-key' | 'npmrc-token' | 'dotenv';

/** Environment variable names that hold credentials by convention. `*_FILE` names a file, not a secret. */
const SECRET_NAME_PATTERNS: readonly RegExp[] = [
  /PASSWORD|PASSWD|PASSPHRASE/,
  /(^|_)(TOKEN|SECRET)S?($|_)/,
  /(^|_)(API|ACCESS|PRIVATE|SECRET|AUTH|SIGNING|ENCRYPTION|MASTER|CLIENT)_?KEY($|_)/,
  /(^|_)CREDENTIALS?($|_)/,
  /(^|_)AUTH$/,
];

export function secretEnvName(name: string): boolean {
  const n = name.toUpperCase();
  if (n.endsWith('_FILE') || n.endsWith('_PATH')) return false;
  return SECRET_NAME_PATTERNS.some((p) => p.test(n));
}

/** A value holding a URL with a password: `postgres://user:pass@db/app`. */
export function urlWithCredentials(value: string): boolean {
  return /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i.test(value);
}

/** The kind of secret an environment entry (`NAME=value`) looks like, if any. */
export function envSecret(entry: string): SecretKind | undefined {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? entry : entry.slice(0, eq);
  const value = eq < 0 ? '' : entry.slice(eq + 1);
  // Empty, numeric or boolean values are settings (MAX_TOKENS=100, USE_AUTH=false), not secrets.
  if (/^(\d*|true|false|yes|no|on|off)$/i.test(value)) return undefined;
  if (secretEnvName(name)) return 'env';
  if (urlWithCredentials(value)) return 'url-credentials';
  return undefined;
}

/** The environment as the facts show it: values of secret-looking entries replaced. */
export const REDACTED = '<redacted>';

export function redactEnv(env: readonly string[]): string[] {
  return env.map((e) => {
    if (envSecret(e) === undefined) return e;
    const eq = e.indexOf('=');
    return `${e.slice(0, eq)}=${REDACTED}`;
  });
}

/** Bytes of a file's start enough to sniff a PEM private key line. */
export const SNIFF_BYTES = 64;

export function isPrivateKey(head: Uint8Array): boolean {
  // Nearly every small file of an image is sniffed: a first byte other than "-" settles it without
  // copying the bytes into a string (0.5 s of the 14 s of inspecting 950,000 small files).
  if (head[0] !== 0x2d) return false;
  return /^-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY-----/.test(Buffer.from(head).toString('latin1'));
}

/** An `.npmrc` that holds a credential (`//registry/:_authToken=...`, `_auth=`, `_password=`). */
export function npmrcHasToken(text: string): boolean {
  return text
    .split('\n')
    .map((l) => l.trim())
    .some(
      (l) => !l.startsWith('#') && !l.startsWith(';') && /(^|:)(_authToken|_auth|_password)\s*=\s*\S/.test(l),
    );
}

export function isDotenv(base: string): boolean {
  if (base !== '.env' && !base.startsWith('.env.')) return false;
  return !/\.(example|sample|template|dist|defaults?)$/i.test(base);
}
