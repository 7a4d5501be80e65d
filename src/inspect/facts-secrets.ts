/**
 * The secrets fact: likely secrets in the config's environment, in files the container sees, and
 * in files a later layer deleted or replaced (hidden, still in the image), reported by where they
 * are and what kind they look like, never by value.
 */
import type { SecretFinding } from './facts.js';
import { probeOf } from './facts-probes.js';
import type { MergeOptions } from './merge.js';
import { envSecret } from './secret-rules.js';

/** Most secrets listed (the rest are counted in a warning). */
export const MAX_SECRETS = 1000;

/** A merge hook that remembers the secrets of files a later layer removes, into `removed`. */
export function removedSecretsHook(removed: SecretFinding[]): NonNullable<MergeOptions['onRemove']> {
  return (path, node, byLayer) => {
    const p = probeOf(node);
    if (p?.kind === 'secret' && node.layer < byLayer && removed.length < MAX_SECRETS) {
      removed.push({
        kind: p.secret,
        location: path,
        source: 'filesystem',
        layer: node.layer,
        removed: true,
      });
    }
  };
}

/**
 * Secrets of the config's environment, of the files (`inFiles`, from the tree) and of removed files
 * not also present under the same path and kind; sorted, at most MAX_SECRETS.
 */
export function secretFacts(
  env: readonly string[],
  inFiles: readonly SecretFinding[],
  removed: readonly SecretFinding[],
  warn: (m: string) => void,
): SecretFinding[] {
  const secrets = [...inFiles];
  for (const e of env) {
    const kind = envSecret(e);
    if (kind)
      secrets.push({
        kind,
        location: e.slice(0, e.indexOf('=')),
        source: 'config',
        layer: null,
        removed: false,
      });
  }
  const present = new Set(secrets.map((s) => `${s.kind} ${s.location}`));
  const seenRemoved = new Set<string>();
  for (const s of removed) {
    const key = `${s.kind} ${s.location}`;
    if (present.has(key) || seenRemoved.has(key)) continue;
    seenRemoved.add(key);
    secrets.push(s);
  }
  secrets.sort(
    (a, b) =>
      (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) ||
      Buffer.compare(Buffer.from(a.location), Buffer.from(b.location)) ||
      (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
      Number(a.removed) - Number(b.removed),
  );
  if (secrets.length > MAX_SECRETS) {
    warn(`${secrets.length} likely secrets were found; only the first ${MAX_SECRETS} are listed`);
    secrets.length = MAX_SECRETS;
  }
  return secrets;
}
