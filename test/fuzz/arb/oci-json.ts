import fc from 'fast-check';
import { mutated } from './mutate.js';

/**
 * OCI documents (image manifests, indexes, configs) as JSON: the right shape most of the time,
 * with fields of the wrong type, sizes that are negative, fractional or past 2^53, digests that
 * are almost right, deep nesting, huge arrays; then damage to the JSON text itself.
 */

const HEX = '0123456789abcdef';

/** The good values mostly: a document with one bad field in a dozen still reaches the later checks. */
function mostly<T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 24, arbitrary: good }, { weight: 1, arbitrary: bad });
}
export const sha256Arb = fc
  .string({ unit: fc.constantFrom(...HEX), minLength: 64, maxLength: 64 })
  .map((h) => `sha256:${h}`);

const digestArb = mostly(
  sha256Arb,
  fc.oneof(
    fc.constantFrom(
      'sha256:',
      `sha256:${'A'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}`,
      `sha512:${'a'.repeat(128)}`,
      `md5:${'a'.repeat(32)}`,
      `sha256:../../${'a'.repeat(56)}`,
      'sha256',
      '',
    ),
    fc.anything({ maxDepth: 1 }),
  ),
);

const sizeArb = mostly(
  fc.nat({ max: 100_000 }),
  fc.constantFrom(
    -1,
    0.5,
    1e300,
    2 ** 53,
    2 ** 53 + 2,
    Number.MAX_SAFE_INTEGER,
    -0,
    '12',
    null,
    true,
    [] as unknown[],
  ),
);

const MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'text/plain',
  '',
];
const mediaTypeArb = mostly(fc.constantFrom(...MEDIA_TYPES), fc.anything({ maxDepth: 1 }));

const annotationsArb = fc.option(
  fc.dictionary(
    fc.string({ maxLength: 30 }),
    mostly(fc.string({ maxLength: 30 }), fc.anything({ maxDepth: 1 })),
    { maxKeys: 4 },
  ),
  {
    nil: undefined,
  },
);

const platformArb = fc.option(
  fc.record(
    {
      os: mostly(fc.constantFrom('linux', 'windows', ''), fc.anything({ maxDepth: 1 })),
      architecture: mostly(fc.constantFrom('amd64', 'arm64', 'arm', 's390x'), fc.anything({ maxDepth: 1 })),
      variant: fc.constantFrom('v8', 'v7', ''),
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);

export const descriptorArb = fc.record(
  {
    mediaType: mediaTypeArb,
    digest: digestArb,
    size: sizeArb,
    annotations: annotationsArb,
    platform: platformArb,
  },
  { requiredKeys: ['mediaType', 'digest', 'size'] },
);

const schemaVersionArb = mostly(fc.constant(2), fc.constantFrom(1, 3, '2', null));

export const manifestArb = fc.record(
  {
    schemaVersion: schemaVersionArb,
    mediaType: mediaTypeArb,
    config: mostly(descriptorArb, fc.anything({ maxDepth: 2 })),
    layers: mostly(fc.array(descriptorArb, { maxLength: 5 }), fc.anything({ maxDepth: 2 })),
    annotations: annotationsArb,
    subject: descriptorArb,
  },
  { requiredKeys: ['schemaVersion', 'config', 'layers'] },
);

export const indexArb = fc.record(
  {
    schemaVersion: schemaVersionArb,
    mediaType: mediaTypeArb,
    manifests: mostly(fc.array(descriptorArb, { maxLength: 5 }), fc.anything({ maxDepth: 2 })),
    annotations: annotationsArb,
  },
  { requiredKeys: ['schemaVersion', 'manifests'] },
);

const stringListArb = mostly(
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
  fc.anything({ maxDepth: 1 }),
);

export const configArb = fc.record(
  {
    architecture: mostly(fc.constantFrom('amd64', 'arm64'), fc.anything({ maxDepth: 1 })),
    os: mostly(fc.constant('linux'), fc.anything({ maxDepth: 1 })),
    rootfs: mostly(
      fc.record({
        type: mostly(fc.constant('layers'), fc.constant('other')),
        diff_ids: mostly(
          fc.array(digestArb, { minLength: 2, maxLength: 2 }),
          fc.array(digestArb, { maxLength: 5 }),
        ),
      }),
      fc.anything({ maxDepth: 2 }),
    ),
    config: fc.record(
      {
        User: mostly(fc.string({ maxLength: 10 }), fc.anything({ maxDepth: 1 })),
        Env: stringListArb,
        Cmd: stringListArb,
        Entrypoint: stringListArb,
        WorkingDir: fc.string({ maxLength: 10 }),
        ExposedPorts: fc.anything({ maxDepth: 2 }),
        Labels: annotationsArb,
      },
      { requiredKeys: [] },
    ),
    history: fc.array(
      fc.record(
        {
          created_by: fc.string({ maxLength: 20 }),
          empty_layer: mostly(fc.boolean(), fc.anything({ maxDepth: 0 })),
        },
        { requiredKeys: [] },
      ),
      { maxLength: 4 },
    ),
    created: fc.oneof(fc.constant('2024-01-01T00:00:00Z'), fc.string({ maxLength: 10 })),
  },
  { requiredKeys: ['architecture', 'os', 'rootfs'] },
);

/** JSON text of a value, sometimes wrapped in deep nesting or given a huge array. */
const textOf = (v: unknown, wrap: 'none' | 'deep' | 'wide' | 'number'): string => {
  const text = JSON.stringify(v) ?? 'null';
  if (wrap === 'deep') return `${'['.repeat(5000)}${text}${']'.repeat(5000)}`;
  if (wrap === 'wide') return text.replace(/^\{/, `{"x":[${'0,'.repeat(20_000)}0],`);
  if (wrap === 'number') return text.replace(/"size":\d+/, '"size":1e99999');
  return text;
};
const wrapArb = fc.constantFrom(
  'none' as const,
  'none' as const,
  'none' as const,
  'none' as const,
  'deep' as const,
  'wide' as const,
  'number' as const,
);

/** A document: one byte saying which kind (0 manifest, 1 index, 2 config), then its JSON text. */
export const ociJsonArb: fc.Arbitrary<Uint8Array> = mutated(
  fc.oneof(
    fc.tuple(fc.constant(0), manifestArb, wrapArb),
    fc.tuple(fc.constant(1), indexArb, wrapArb),
    fc.tuple(fc.constant(2), configArb, wrapArb),
  ),
  ([kind, v, wrap]) => Buffer.concat([Buffer.from([kind]), Buffer.from(textOf(v, wrap))]),
  1,
);
