import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { open, rm, writeFile } from 'node:fs/promises';
import { DistillError, wrapError } from '../errors.js';
import { decryptKeyBody, encryptKeyBody } from './encrypted.js';

/**
 * Key files as cosign reads and writes them: a private key in PEM (PKCS#8 `PRIVATE KEY`, SEC 1
 * `EC PRIVATE KEY`, or cosign's encrypted `ENCRYPTED SIGSTORE PRIVATE KEY` /
 * `ENCRYPTED COSIGN PRIVATE KEY`), a public key in PEM SPKI (`PUBLIC KEY`, what skopeo's
 * `keyPath` takes). ECDSA P-256 only: the key type cosign makes and the one its signatures'
 * SHA-256 goes with; other keys are refused with a clear message rather than signed with a
 * hash their verifiers would not expect.
 */

/** Where the password of an encrypted key comes from; called only when the key is encrypted. */
export type PasswordSource = () => Promise<string>;

const ENCRYPTED_TYPES = ['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'];
const MAX_KEY_FILE = 64 * 1024;

async function readKeyFile(file: string): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(file, 'r');
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_KEY_FILE) {
      throw new DistillError(
        'KEY_INVALID',
        `${file} is not a key file (not a regular file of at most 64 KiB)`,
      );
    }
    return await fh.readFile('utf8');
  } catch (err) {
    throw wrapError(err, `reading the key file ${file}`);
  } finally {
    await fh?.close();
  }
}

interface PemBlock {
  type: string;
  body: Buffer;
}

/** The first PEM block of a file (Go's pem.Decode, which cosign uses, reads the first one too). */
function firstPem(text: string, file: string): PemBlock {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END \1-----/.exec(text);
  if (!m) throw new DistillError('KEY_INVALID', `${file} holds no PEM block; give a PEM key file`);
  return { type: m[1]!, body: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') };
}

function checkP256(key: KeyObject, file: string): KeyObject {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `an EC key on ${curve}` : `a ${key.asymmetricKeyType} key`;
    throw new DistillError(
      'KEY_INVALID',
      `${file} is ${what}; distill signs with ECDSA P-256 keys (cosign's default): make one with distill sign --generate-key`,
    );
  }
  return key;
}

function parseKey<T>(file: string, what: string, make: () => T): T {
  try {
    return make();
  } catch (err) {
    throw new DistillError('KEY_INVALID', `${file} is not a readable ${what}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Reads a private key file. An encrypted one asks `password` (KEY_PASSWORD_REQUIRED when there
 * is no source) and fails with KEY_DECRYPT_FAILED when it does not open.
 */
export async function readPrivateKey(file: string, password?: PasswordSource): Promise<KeyObject> {
  const text = await readKeyFile(file);
  const block = firstPem(text, file);
  if (ENCRYPTED_TYPES.includes(block.type)) {
    if (password === undefined) {
      throw new DistillError(
        'KEY_PASSWORD_REQUIRED',
        `${file} is encrypted; set COSIGN_PASSWORD to its password (or run in a terminal to be asked)`,
      );
    }
    const der = await decryptKeyBody(block.body, await password(), file);
    return checkP256(
      parseKey(file, 'PKCS#8 key inside the encrypted file', () =>
        createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
      ),
      file,
    );
  }
  if (block.type !== 'PRIVATE KEY' && block.type !== 'EC PRIVATE KEY') {
    throw new DistillError(
      'KEY_INVALID',
      `${file} holds a ${block.type}, not a private key (PRIVATE KEY, EC PRIVATE KEY or a cosign encrypted key)`,
    );
  }
  return checkP256(
    parseKey(file, 'private key', () => createPrivateKey({ key: text, format: 'pem' })),
    file,
  );
}

/** Reads a public key file (PEM SPKI, as cosign.pub and skopeo's keyPath). */
export async function readPublicKey(file: string): Promise<KeyObject> {
  const text = await readKeyFile(file);
  const block = firstPem(text, file);
  if (block.type !== 'PUBLIC KEY') {
    throw new DistillError(
      'KEY_INVALID',
      `${file} holds a ${block.type}, not a PUBLIC KEY; verify with the public half (cosign.pub)`,
    );
  }
  return checkP256(
    parseKey(file, 'public key', () => createPublicKey({ key: block.body, format: 'der', type: 'spki' })),
    file,
  );
}

/** PEM as Go's encoding/pem writes it: 64-column base64 lines. */
export function pem(type: string, body: Uint8Array): string {
  const b64 = Buffer.from(body).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

export interface KeyPairFiles {
  privateKey: string;
  publicKey: string;
}

/**
 * Makes an ECDSA P-256 pair as `cosign generate-key-pair` does: `PREFIX.key`, the PKCS#8 key
 * encrypted under `password` (mode 0600), and `PREFIX.pub`. Existing files are never
 * overwritten (KEY_EXISTS); when the second file cannot be written the first is removed.
 */
export async function generateKeyFiles(prefix: string, password: string): Promise<KeyPairFiles> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const encrypted = pem(ENCRYPTED_TYPES[0]!, await encryptKeyBody(der, password));
  const pub = pem('PUBLIC KEY', publicKey.export({ format: 'der', type: 'spki' }));
  const files = { privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` };
  await writeNew(files.privateKey, encrypted, 0o600);
  try {
    await writeNew(files.publicKey, pub, 0o644);
  } catch (err) {
    await rm(files.privateKey, { force: true });
    throw err;
  }
  return files;
}

async function writeNew(file: string, text: string, mode: number): Promise<void> {
  try {
    await writeFile(file, text, { flag: 'wx', mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new DistillError('KEY_EXISTS', `${file} exists; remove it or give another prefix`);
    }
    throw wrapError(err, `writing ${file}`);
  }
}
