/**
 * The secret rules of environment variables (of an image config, of a `.env` file): names that
 * hold credentials by convention with a value that is not a setting, and URLs with a password.
 * Part of the secret scanner's rules (secret-rules.ts, which re-exports these). Pure: no I/O.
 */

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

/**
 * The kind of secret an environment entry (`NAME=value`) looks like, if any: `env` for a name
 * that holds credentials by convention (API_TOKEN, DB_PASSWORD), `url-credentials` for a URL with
 * a password in any variable. Empty, numeric and boolean values are settings (MAX_TOKENS=100).
 */
export function envSecret(entry: string): 'env' | 'url-credentials' | undefined {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? entry : entry.slice(0, eq);
  const value = eq < 0 ? '' : entry.slice(eq + 1);
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
