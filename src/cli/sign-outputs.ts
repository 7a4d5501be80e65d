import type { MediaOptions } from '../media/index.js';
import type { Published } from '../media/publish.js';
import { formatDockerReference } from '../ref/docker.js';
import { type ImageRef, parseImageRef } from '../ref/transport.js';
import {
  keySigner,
  readPrivateKey,
  type Signer,
  type SignResult,
  signImage,
  statementSigner,
} from '../sign/index.js';
import { passwordSource } from './password.js';

/**
 * `--sign-key FILE` of `build` and `base`: the outputs that can hold a signature (a registry, a
 * tagged OCI layout) are signed as `distill sign` signs them, right after they are written.
 * The signer is read before anything is built: a bad key or password fails first.
 */
export async function signerFromFlag(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream,
): Promise<Signer | undefined> {
  if (file === undefined) return undefined;
  return keySigner(await readPrivateKey(file, passwordSource(env, stderr)));
}

/** How `--attest provenance --sign-key` signs the statement: a DSSE envelope in a Sigstore bundle. */
export function attestationSigner(signer: Signer): ReturnType<typeof statementSigner> {
  return statementSigner(signer);
}

/** Where a signature of `out` goes, signed by its digest; undefined for media that hold none. */
function signable(out: Published): { ref: ImageRef; identity: string } | undefined {
  const ref = parseImageRef(out.ref);
  if (ref.transport === 'docker') {
    // By the digest written, not the tag: what this run pushed, even if the tag moves meanwhile.
    const named = { ...ref.ref, digest: undefined };
    return {
      ref: { transport: 'docker', ref: { ...named, tag: undefined, digest: out.descriptor.digest } },
      identity: formatDockerReference(named),
    };
  }
  if (ref.transport === 'oci' && ref.tag !== undefined) return { ref, identity: ref.tag };
  return undefined;
}

/** Signs every output that can hold a signature; warns about the others. */
export async function signOutputs(
  published: readonly Published[],
  signer: Signer,
  media: MediaOptions,
  warn: (message: string) => void,
): Promise<SignResult[]> {
  const results: SignResult[] = [];
  for (const out of published) {
    const target = signable(out);
    if (target === undefined) {
      warn(
        `${out.ref} is not signed: signatures live beside an image in a registry or a tagged OCI layout (oci:DIR:TAG)`,
      );
      continue;
    }
    results.push(await signImage(target.ref, signer, { ...media, identity: target.identity }));
  }
  return results;
}
