/**
 * InRelease: the clearsigned Release file of an apt suite. Verified with openpgp.js against the
 * trusted archive keys, then parsed (only the signed text: nothing outside the signature is
 * ever read).
 */
// openpgp.js is large (a tenth of a second to load): it is loaded when a signature is checked.
import { createHash } from 'node:crypto';
import type * as openpgp from 'openpgp';
import { parseDeb822 } from '../../debian/deb822.js';
import { DistillError } from '../../errors.js';

export interface ReleaseInfo {
  suite: string;
  codename: string;
  version?: string;
  /** The Date field, verbatim. */
  date: string;
  validUntil?: string;
  architectures: string[];
  components: string[];
  /** Path relative to `dists/<suite>/` -> SHA256 and size, from the SHA256 field. */
  files: Map<string, { sha256: string; size: number }>;
  /** The mirror (archive root URL) the release was read from. */
  mirror: string;
  acquireByHash: boolean;
  /**
   * SHA-256 (hex) of the InRelease file whose signature was verified (its text as UTF-8, which
   * is the file's bytes for any UTF-8 file): set by the source that fetched and verified it.
   */
  inReleaseSha256?: string;
}

export interface SignatureReport {
  /** Key IDs (16 hex) of signatures that verified with a trusted key. */
  good: string[];
  /** Key IDs of signatures by keys not among the trusted ones (ignored). */
  unknown: string[];
  /** Key IDs of signatures by trusted keys that are expired or revoked now (ignored). */
  unusable: string[];
}

const BEGIN_SIGNED = '-----BEGIN PGP SIGNED MESSAGE-----';
const BEGIN_SIG = '-----BEGIN PGP SIGNATURE-----';
const END_SIG = '-----END PGP SIGNATURE-----';

function signatureError(url: string, detail: string, cause?: unknown): DistillError {
  return new DistillError(
    'APT_SIGNATURE_INVALID',
    `the signature of ${url} does not verify (${detail}); check that --mirror points at a genuine ` +
      'Debian mirror, refresh the archive keys (scripts/update-debian-keys.ts), or pass the ' +
      "repository's key with --keyring",
    cause === undefined ? {} : { cause },
  );
}

/** Reads armored or binary OpenPGP public keys (each item may hold several keys). */
export async function readTrustedKeys(keys: readonly (string | Uint8Array)[]): Promise<openpgp.PublicKey[]> {
  const out: openpgp.PublicKey[] = [];
  for (const [i, k] of keys.entries()) {
    let text: string | undefined;
    if (typeof k === 'string') text = k;
    else if (startsWithArmor(k)) text = new TextDecoder().decode(k);
    try {
      const read =
        text !== undefined
          ? await (await import('openpgp')).readKeys({ armoredKeys: text })
          : await (await import('openpgp')).readKeys({ binaryKeys: k as Uint8Array });
      for (const key of read) out.push(key.isPrivate() ? key.toPublic() : (key as openpgp.PublicKey));
    } catch (err) {
      throw new DistillError(
        'APT_KEY_INVALID',
        `key ${i + 1} of ${keys.length} is not an OpenPGP public key: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  if (out.length === 0) {
    throw new DistillError('APT_KEY_INVALID', 'no trusted keys were given to verify apt repositories');
  }
  return out;
}

function startsWithArmor(b: Uint8Array): boolean {
  const head = new TextDecoder().decode(b.subarray(0, 64)).trimStart();
  return head.startsWith('-----BEGIN PGP');
}

/**
 * Verifies a clearsigned InRelease and returns its signed text. Accepted when at least one
 * signature verifies with a trusted key and no signature made by a trusted, currently usable key
 * fails (one changed byte fails them all). Signatures by unknown keys are ignored, as are those
 * by trusted keys that are expired or revoked. Anything before the signed-message header or after
 * the signature is refused (apt does the same), so no unsigned text can slip into the parse.
 */
export async function verifyInRelease(
  text: string,
  keys: readonly openpgp.PublicKey[],
  url: string,
): Promise<{ signedText: string; report: SignatureReport }> {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[0] !== BEGIN_SIGNED) {
    throw signatureError(url, `it does not start with "${BEGIN_SIGNED}"`);
  }
  const count = (marker: string) => lines.filter((l) => l === marker).length;
  if (count(BEGIN_SIGNED) !== 1 || count(BEGIN_SIG) !== 1 || count(END_SIG) !== 1) {
    throw signatureError(url, 'it is not exactly one clearsigned message with one signature block');
  }
  const end = lines.indexOf(END_SIG);
  if (lines.slice(end + 1).some((l) => l.trim() !== '')) {
    throw signatureError(url, 'there is text after the signature');
  }
  let message: openpgp.CleartextMessage;
  try {
    message = await (await import('openpgp')).readCleartextMessage({ cleartextMessage: text });
  } catch (err) {
    throw signatureError(url, `not a valid clearsigned message: ${(err as Error).message}`, err);
  }
  let result: Awaited<ReturnType<typeof openpgp.verify>>;
  try {
    result = await (await import('openpgp')).verify({ message, verificationKeys: [...keys] });
  } catch (err) {
    throw signatureError(url, (err as Error).message, err);
  }
  const report: SignatureReport = { good: [], unknown: [], unusable: [] };
  const bad: string[] = [];
  const now = new Date();
  for (const sig of result.signatures) {
    const id = sig.keyID.toHex();
    const key = keys.find((k) => k.getKeys(sig.keyID).length > 0);
    try {
      await sig.verified;
      if (key) report.good.push(id);
      else report.unknown.push(id);
    } catch (err) {
      if (!key) {
        report.unknown.push(id);
        continue;
      }
      let usable = true;
      try {
        await key.getSigningKey(sig.keyID, now);
      } catch {
        usable = false;
      }
      if (usable) bad.push(`${id}: ${(err as Error).message}`);
      else report.unusable.push(id);
    }
  }
  if (bad.length > 0) throw signatureError(url, `bad signature by trusted key ${bad.join('; ')}`);
  if (report.good.length === 0) {
    const seen = [...report.unknown, ...report.unusable];
    throw signatureError(
      url,
      seen.length > 0
        ? `no signature by a trusted key; signed by ${seen.join(', ')}`
        : 'it carries no signature',
    );
  }
  return { signedText: message.getText(), report };
}

/** The digest a lock and a provenance give of an InRelease file: the SHA-256 of its verified text. */
export function inReleaseDigest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Parses the (verified) text of a Release file. */
export function parseRelease(text: string, mirror: string, url: string): ReleaseInfo {
  const invalid = (what: string, cause?: unknown) =>
    new DistillError('APT_RELEASE_INVALID', `${url}: ${what}`, cause === undefined ? {} : { cause });
  let paragraphs: ReturnType<typeof parseDeb822>;
  try {
    paragraphs = parseDeb822(text, { source: url });
  } catch (err) {
    throw invalid((err as Error).message, err);
  }
  const p = paragraphs[0];
  if (!p) throw invalid('the Release file is empty');
  const suite = p.get('Suite') ?? '';
  const codename = p.get('Codename') ?? '';
  if (suite === '' && codename === '') throw invalid('the Release file has neither Suite nor Codename');
  const date = p.get('Date');
  if (date === undefined) throw invalid('the Release file has no Date');
  const files = new Map<string, { sha256: string; size: number }>();
  for (const line of p.lines('SHA256')) {
    const m = /^([0-9a-fA-F]{64})\s+([0-9]+)\s+(\S+)$/.exec(line);
    if (!m) throw invalid(`malformed SHA256 line "${line.slice(0, 120)}"`);
    files.set(m[3]!, { sha256: m[1]!.toLowerCase(), size: Number(m[2]) });
  }
  if (files.size === 0) throw invalid('the Release file lists no SHA256 checksums');
  const words = (name: string) => (p.get(name) ?? '').split(/\s+/).filter((w) => w !== '');
  const version = p.get('Version');
  const validUntil = p.get('Valid-Until');
  return {
    suite,
    codename,
    ...(version !== undefined && { version }),
    date,
    ...(validUntil !== undefined && { validUntil }),
    architectures: words('Architectures'),
    components: words('Components'),
    files,
    mirror,
    acquireByHash: (p.get('Acquire-By-Hash') ?? '').toLowerCase() === 'yes',
  };
}

/** Throws APT_RELEASE_EXPIRED when Valid-Until lies before `now`. */
export function checkValidUntil(info: ReleaseInfo, url: string, now: Date): void {
  if (info.validUntil === undefined) return;
  const t = Date.parse(info.validUntil);
  if (Number.isNaN(t)) {
    throw new DistillError('APT_RELEASE_INVALID', `${url}: Valid-Until "${info.validUntil}" is not a date`);
  }
  if (t < now.getTime()) {
    throw new DistillError(
      'APT_RELEASE_EXPIRED',
      `${url} expired on ${info.validUntil} (Valid-Until): the mirror serves stale metadata or this ` +
        "machine's clock is wrong; use an up-to-date --mirror, or ignore Valid-Until only to rebuild " +
        'from a locked, old release',
    );
  }
}
