import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sign, verify } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { generateKeyFiles, readPrivateKey, readPublicKey } from '../../src/sign/index.js';
import { requireComponents, tempDir } from '../helpers/components.js';

const PASSWORD = 'correct horse';
const pw = (p: string) => async () => p;

/** The JSON body of an encrypted key file, to alter it the way a corrupted file would be. */
function body(pem: string): Record<string, unknown> {
  const b64 = pem
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('');
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
}

function encryptedPem(doc: unknown): string {
  const b64 = Buffer.from(JSON.stringify(doc)).toString('base64');
  return `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${b64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
}

describe('key files', () => {
  let dir = '';
  let keyFile = '';
  let pubFile = '';
  before(async () => {
    dir = await tempDir('distill-keys-');
    ({ privateKey: keyFile, publicKey: pubFile } = await generateKeyFiles(join(dir, 'cosign'), PASSWORD));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a generated pair: encrypted private key (0600) and SPKI public key that match', async () => {
    const text = await readFile(keyFile, 'utf8');
    assert.match(text, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
    assert.doesNotMatch(text, /BEGIN PRIVATE KEY/);
    const doc = body(text) as {
      kdf: { name: string; params: unknown; salt: string };
      cipher: { name: string; nonce: string };
    };
    assert.equal(doc.kdf.name, 'scrypt');
    assert.deepEqual(doc.kdf.params, { N: 65536, r: 8, p: 1 });
    assert.equal(doc.cipher.name, 'nacl/secretbox');
    assert.equal(Buffer.from(doc.cipher.nonce, 'base64').length, 24);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.match(await readFile(pubFile, 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);

    const priv = await readPrivateKey(keyFile, pw(PASSWORD));
    const pub = await readPublicKey(pubFile);
    const sig = sign('sha256', Buffer.from('x'), { key: priv, dsaEncoding: 'der' });
    assert.ok(verify('sha256', Buffer.from('x'), { key: pub, dsaEncoding: 'der' }, sig));
    assert.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  test('the two files are never overwritten: KEY_EXISTS, and the first file is left alone', async () => {
    const before = await readFile(keyFile, 'utf8');
    await assert.rejects(generateKeyFiles(join(dir, 'cosign'), 'other'), (e) =>
      isDistillError(e, 'KEY_EXISTS'),
    );
    assert.equal(await readFile(keyFile, 'utf8'), before);
    // Only the public half exists: the private key written first is removed again.
    await writeFile(join(dir, 'half.pub'), 'x');
    await assert.rejects(generateKeyFiles(join(dir, 'half'), 'p'), (e) => isDistillError(e, 'KEY_EXISTS'));
    await assert.rejects(stat(join(dir, 'half.key')), { code: 'ENOENT' });
  });

  test('a wrong password, no password, an altered ciphertext', async () => {
    await assert.rejects(readPrivateKey(keyFile, pw('wrong')), (e) =>
      isDistillError(e, 'KEY_DECRYPT_FAILED'),
    );
    await assert.rejects(readPrivateKey(keyFile), (e) => isDistillError(e, 'KEY_PASSWORD_REQUIRED'));
    const doc = body(await readFile(keyFile, 'utf8')) as { ciphertext: string };
    const ct = Buffer.from(doc.ciphertext, 'base64');
    ct[10] = (ct[10] ?? 0) ^ 1;
    const altered = join(dir, 'altered.key');
    await writeFile(altered, encryptedPem({ ...doc, ciphertext: ct.toString('base64') }));
    await assert.rejects(readPrivateKey(altered, pw(PASSWORD)), (e) =>
      isDistillError(e, 'KEY_DECRYPT_FAILED'),
    );
  });

  test('corrupt key files are KEY_INVALID, naming the file', async () => {
    const doc = body(await readFile(keyFile, 'utf8')) as { kdf: Record<string, unknown> };
    const cases: Record<string, string> = {
      'empty.key': '',
      'not-pem.key': 'hello\n',
      'not-json.key': encryptedPem('x').replace(/\n(.*)\n-----END/, '\nbm90IGpzb24=\n-----END'),
      'huge-scrypt.key': encryptedPem({ ...doc, kdf: { ...doc.kdf, params: { N: 2 ** 30, r: 8, p: 1 } } }),
      'other-cipher.key': encryptedPem({ ...doc, cipher: { name: 'aes', nonce: '' } }),
      'bad-base64.key': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      'certificate.key': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    };
    for (const [name, text] of Object.entries(cases)) {
      const file = join(dir, name);
      await writeFile(file, text);
      await assert.rejects(
        readPrivateKey(file, pw(PASSWORD)),
        (e) => isDistillError(e, 'KEY_INVALID') && e.message.includes(file),
        name,
      );
    }
    await assert.rejects(readPublicKey(keyFile), (e) => isDistillError(e, 'KEY_INVALID'));
    await assert.rejects(readPrivateKey(join(dir, 'missing.key')), (e) => isDistillError(e, 'NOT_FOUND'));
  });

  test('keys made by openssl: PKCS#8, SEC 1, SPKI; other curves and RSA refused', async (t) => {
    if (!requireComponents(t, 'openssl')) return;
    const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    o('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'p8.pem');
    o('ec', '-in', 'p8.pem', '-out', 'sec1.pem');
    o('ec', '-in', 'p8.pem', '-pubout', '-out', 'p8.pub');
    o('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', 'p384.pem');
    o('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.pem');
    assert.match(await readFile(join(dir, 'sec1.pem'), 'utf8'), /BEGIN EC PRIVATE KEY/);
    const pub = await readPublicKey(join(dir, 'p8.pub'));
    for (const f of ['p8.pem', 'sec1.pem']) {
      const priv = await readPrivateKey(join(dir, f));
      const sig = sign('sha256', Buffer.from('y'), { key: priv, dsaEncoding: 'der' });
      assert.ok(verify('sha256', Buffer.from('y'), { key: pub, dsaEncoding: 'der' }, sig), f);
    }
    for (const f of ['p384.pem', 'rsa.pem']) {
      await assert.rejects(
        readPrivateKey(join(dir, f)),
        (e) => isDistillError(e, 'KEY_INVALID') && /P-256/.test(e.message),
        f,
      );
    }
  });
});
