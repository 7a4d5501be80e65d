import type { KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { publicKeyHint } from '../../src/sign/index.js';

/**
 * @sigstore/verify, a verifier we did not write, with only this public key as trust material (no
 * CA, log or timestamp): throws unless `bundle` (a Sigstore bundle's JSON) is signed by `key`.
 */
export function sigstoreVerify(bundle: unknown, key: KeyObject): void {
  const trust = toTrustMaterial(
    {
      mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json',
      tlogs: [],
      certificateAuthorities: [],
      ctlogs: [],
      timestampAuthorities: [],
    },
    (hint) => {
      if (hint !== publicKeyHint(key)) throw new Error(`no key for hint ${hint}`);
      return { publicKey: key, validFor: () => true };
    },
  );
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundleFromJSON(JSON.parse(JSON.stringify(bundle)))));
}
