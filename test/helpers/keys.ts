import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';

/** A fresh ECDSA P-256 key pair, the kind `cosign generate-key-pair` and `distill sign --generate-key` make. */
export function ecKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** Writes a public key to `file` as PEM (SPKI), the `--key` file of verification; returns `file`. */
export async function writePublicKey(file: string, key: KeyObject): Promise<string> {
  await writeFile(file, key.export({ format: 'pem', type: 'spki' }) as string);
  return file;
}
