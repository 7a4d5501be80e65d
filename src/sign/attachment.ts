import { Readable } from 'node:stream';
import { DistillError, isDistillError } from '../errors.js';
import { type Digest, digestHex, digestOf } from '../oci/digest.js';
import { descriptorOf, type Image, type Layer, rawJsonFromValue } from '../oci/image.js';
import { MediaType } from '../oci/mediatypes.js';
import type { Annotations, Descriptor, ImageConfigJson, ManifestJson } from '../oci/types.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from './payload.js';
import type { SignatureParts } from './signer.js';

/**
 * cosign's signature attachment: for an image (or index) with digest `sha256:HEX`, the tag
 * `sha256-HEX.sig` in the same repository (or OCI layout) names an OCI image manifest whose
 * layers are the signed payloads (media type `application/vnd.dev.cosign.simplesigning.v1+json`),
 * each with its base64 signature in the annotation `dev.cosignproject.cosign/signature`. More
 * signatures append layers; the config is an empty image config whose diff_ids are the
 * payloads' digests (they are not compressed). This is what cosign writes (go-containerregistry's
 * empty image plus appended layers) and what containers/image reads with
 * `use-sigstore-attachments: true`.
 */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

/**
 * The largest payload read: a simple-signing document is a few hundred bytes (more with
 * annotations). With the cap on signatures, a hostile attachment costs at most 128 MiB.
 */
const MAX_PAYLOAD = 128 * 1024;
/** The most signatures read from one attachment (cosign caps the layers it reads at 1000 too). */
export const MAX_SIGNATURES = 1000;
/** The time go-containerregistry's empty image gives, so the config is cosign's byte for byte. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export function signatureTag(digest: Digest): string {
  return `${digest.slice(0, digest.indexOf(':'))}-${digestHex(digest)}.sig`;
}

/** A simple-signing layer of an attachment, read. */
export interface AttachedSignature {
  descriptor: Descriptor;
  /** The payload's bytes, checked against the layer's digest; undefined when they were not. */
  payload?: Buffer;
  /** Why the payload could not be read: SIGNATURE_TAMPERED when its bytes are not the layer's. */
  problem?: DistillError;
  /** The annotation's base64 signature, as found. */
  signature?: string;
}

async function readPayload(layer: Layer, where: string): Promise<Buffer> {
  const d = layer.descriptor;
  if (d.size > MAX_PAYLOAD) {
    throw new DistillError(
      'SIGNATURE_TAMPERED',
      `${where}: a signature payload of ${d.size} bytes is not one`,
    );
  }
  const chunks: Buffer[] = [];
  try {
    for await (const c of await layer.open()) chunks.push(c as Buffer);
  } catch (err) {
    if (isDistillError(err, 'DIGEST_MISMATCH') || isDistillError(err, 'SIZE_MISMATCH')) {
      throw new DistillError(
        'SIGNATURE_TAMPERED',
        `${where}: the payload ${d.digest} was altered where it is stored (${err.message})`,
        { cause: err },
      );
    }
    throw err;
  }
  return Buffer.concat(chunks);
}

/** The simple-signing layers of an attachment, their payloads read and verified against their digests. */
export async function readSignatures(attachment: Image, where: string): Promise<AttachedSignature[]> {
  if (attachment.layers.length > MAX_SIGNATURES) {
    throw new DistillError(
      'MANIFEST_INVALID',
      `${where} has ${attachment.layers.length} layers; a signature attachment of more than ${MAX_SIGNATURES} is not read (remove the tag and sign again)`,
    );
  }
  const out: AttachedSignature[] = [];
  for (const layer of attachment.layers) {
    const d = layer.descriptor;
    if (d.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) continue;
    const sig: AttachedSignature = { descriptor: d };
    const annotation = d.annotations?.[SIGNATURE_ANNOTATION];
    if (annotation !== undefined) sig.signature = annotation;
    try {
      sig.payload = await readPayload(layer, where);
    } catch (err) {
      if (!isDistillError(err, 'SIGNATURE_TAMPERED')) throw err;
      sig.problem = err;
    }
    out.push(sig);
  }
  return out;
}

function memoryLayer(descriptor: Descriptor, bytes: Buffer): Layer {
  return { descriptor, diffId: descriptor.digest, open: async () => Readable.from([bytes]) };
}

function emptyConfig(): ImageConfigJson {
  return {
    architecture: '',
    created: ZERO_TIME,
    history: [],
    os: '',
    rootfs: { type: 'layers', diff_ids: [] },
    config: {},
  };
}

/**
 * The attachment with one more signature: `existing` (another tool's, or an earlier run's)
 * keeps its layers, in order, and its config fields; the new payload is appended with its
 * signature and the signer's annotations.
 */
export function appendSignature(existing: Image | undefined, payload: Buffer, parts: SignatureParts): Image {
  const annotations: Annotations = {
    ...parts.annotations,
    [SIGNATURE_ANNOTATION]: parts.signature.toString('base64'),
  };
  const layer = memoryLayer(
    { mediaType: SIMPLE_SIGNING_MEDIA_TYPE, size: payload.length, digest: digestOf(payload), annotations },
    payload,
  );
  const base = existing?.config.value ?? emptyConfig();
  const config: ImageConfigJson = {
    ...base,
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, layer.diffId] },
    ...(base.history !== undefined && { history: [...base.history, { created: ZERO_TIME }] }),
  };
  const configRaw = rawJsonFromValue(config, MediaType.OciConfig);
  const layers = [...(existing?.layers ?? []), layer];
  const previous = existing?.manifest.value;
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: descriptorOf(configRaw),
    layers: layers.map((l) => l.descriptor),
    ...(previous?.annotations !== undefined && { annotations: previous.annotations }),
  };
  return {
    kind: 'image',
    manifest: rawJsonFromValue(manifest, MediaType.OciManifest),
    config: configRaw,
    layers,
  };
}
