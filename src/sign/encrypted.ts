import { randomBytes, scrypt } from 'node:crypto';
import nacl from 'tweetnacl';
import { DistillError } from '../errors.js';

/**
 * The body of cosign's encrypted key files (`ENCRYPTED SIGSTORE PRIVATE KEY`, and the older
 * `ENCRYPTED COSIGN PRIVATE KEY`): go-securesystemslib's `encrypted` format, JSON
 *
 *   {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<base64>"},
 *    "cipher":{"name":"nacl/secretbox","nonce":"<base64>"},
 *    "ciphertext":"<base64>"}
 *
 * The key is scrypt(password, salt, N, r, p) of 32 bytes (node:crypto), the ciphertext NaCl's
 * secretbox (XSalsa20-Poly1305) of the PKCS#8 DER key: node:crypto has no XSalsa20, so the
 * secretbox comes from tweetnacl, the audited port of NaCl that sigstore-js uses too.
 * Only the three parameter sets the Go library writes are accepted (as its CheckParams does):
 * a file naming N = 2^30 must not make distill allocate a terabyte.
 */

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** go-securesystemslib's legacy, standard (cosign's default) and OWASP sets. */
const KNOWN_PARAMS: readonly ScryptParams[] = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
];
const STANDARD = KNOWN_PARAMS[1]!;
const KEY_SIZE = 32;
const NONCE_SIZE = 24;
const SALT_SIZE = 32;

function deriveKey(password: string, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // scrypt needs 128 * N * r bytes: 128 MiB for the OWASP set.
    const maxmem = 256 * params.N * params.r;
    scrypt(Buffer.from(password, 'utf8'), salt, KEY_SIZE, { ...params, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Encrypts `plaintext` under `password` with cosign's default parameters (fresh salt and nonce). */
export async function encryptKeyBody(plaintext: Uint8Array, password: string): Promise<Buffer> {
  const salt = randomBytes(SALT_SIZE);
  const nonce = randomBytes(NONCE_SIZE);
  const key = await deriveKey(password, salt, STANDARD);
  const ciphertext = nacl.secretbox(plaintext, nonce, key);
  return Buffer.from(
    JSON.stringify({
      kdf: { name: 'scrypt', params: STANDARD, salt: salt.toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
      ciphertext: Buffer.from(ciphertext).toString('base64'),
    }),
  );
}

function invalid(file: string, problem: string): DistillError {
  return new DistillError(
    'KEY_INVALID',
    `${file} is not a readable cosign encrypted key: ${problem}; make a new pair with distill sign --generate-key or cosign generate-key-pair`,
  );
}

function base64Field(v: unknown, file: string, field: string, size?: number): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v))
    throw invalid(file, `${field} is not base64`);
  const b = Buffer.from(v, 'base64');
  if (size !== undefined && b.length !== size)
    throw invalid(file, `${field} is ${b.length} bytes, not ${size}`);
  return b;
}

interface Parsed {
  params: ScryptParams;
  salt: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
}

function parseBody(body: Uint8Array, file: string): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw invalid(file, 'its body is not JSON');
  }
  const d = doc as {
    kdf?: { name?: unknown; params?: Partial<Record<keyof ScryptParams, unknown>>; salt?: unknown };
    cipher?: { name?: unknown; nonce?: unknown };
    ciphertext?: unknown;
  };
  if (d?.kdf?.name !== 'scrypt') throw invalid(file, 'its key derivation is not scrypt');
  if (d.cipher?.name !== 'nacl/secretbox') throw invalid(file, 'its cipher is not nacl/secretbox');
  const p = d.kdf.params;
  const params = KNOWN_PARAMS.find((k) => k.N === p?.N && k.r === p?.r && k.p === p?.p);
  if (params === undefined) {
    throw invalid(file, `its scrypt parameters ${JSON.stringify(p)} are not one of the sets cosign writes`);
  }
  return {
    params,
    salt: base64Field(d.kdf.salt, file, 'kdf.salt'),
    nonce: base64Field(d.cipher.nonce, file, 'cipher.nonce', NONCE_SIZE),
    ciphertext: base64Field(d.ciphertext, file, 'ciphertext'),
  };
}

/**
 * Decrypts an encrypted key file's body. KEY_INVALID when it is not one; KEY_DECRYPT_FAILED
 * when the password does not open it (secretbox authenticates: a wrong password and a changed
 * ciphertext fail the same way).
 */
export async function decryptKeyBody(body: Uint8Array, password: string, file: string): Promise<Buffer> {
  const parsed = parseBody(body, file);
  const key = await deriveKey(password, parsed.salt, parsed.params);
  const opened = nacl.secretbox.open(parsed.ciphertext, parsed.nonce, key);
  if (opened === null) {
    throw new DistillError(
      'KEY_DECRYPT_FAILED',
      `the password does not open ${file} (or the file was altered); give the password it was made with in COSIGN_PASSWORD`,
    );
  }
  return Buffer.from(opened);
}
