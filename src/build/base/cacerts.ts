import type { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';
import type { StoredEntry } from './debfiles.js';

/**
 * What `update-ca-certificates` (the ca-certificates postinst) would produce for a default
 * configuration: every certificate the package ships under /usr/share/ca-certificates, in byte
 * order of their paths (the order of the generated /etc/ca-certificates.conf), concatenated into
 * CA_BUNDLE_PATH (plan/layout.ts), each ending with a newline. Only the bundle is written,
 * as in the reference images; the per-certificate hash links are not.
 */
const CERT_DIR = 'usr/share/ca-certificates/';

export async function caBundle(
  entries: readonly StoredEntry[],
  open: (e: StoredEntry) => Promise<Readable>,
): Promise<Buffer> {
  const certs = entries
    .filter((e) => e.type === 'file' && e.path.startsWith(CERT_DIR) && e.path.endsWith('.crt'))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (certs.length === 0) {
    throw new DistillError(
      'DEB_INVALID',
      'the ca-certificates package holds no certificates under /usr/share/ca-certificates; cannot make the CA bundle',
    );
  }
  const parts: Buffer[] = [];
  for (const c of certs) {
    const chunks: Buffer[] = [];
    for await (const chunk of await open(c)) chunks.push(chunk as Buffer);
    let pem = Buffer.concat(chunks);
    if (!pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      throw new DistillError('DEB_INVALID', `ca-certificates: ${c.path} is not a PEM certificate`);
    }
    if (pem.length > 0 && pem[pem.length - 1] !== 0x0a) pem = Buffer.concat([pem, Buffer.from('\n')]);
    parts.push(pem);
  }
  return Buffer.concat(parts);
}
