/**
 * The JSON Schemas (draft 2020-12) of what `distill inspect` and `distill compare` print with
 * `--format json`: facts and comparisons at FACTS_SCHEMA_VERSION, file listings at
 * FILES_SCHEMA_VERSION. Kept beside the Facts type of facts.ts; tests check real output against
 * them. A change that removes or retypes a field bumps the version; adding an optional field does not.
 */
import { FACTS_SCHEMA_VERSION } from './facts.js';
import { FILES_SCHEMA_VERSION } from './render-files.js';
import { SECRET_KINDS } from './secret-rules.js';
import { UNSAFE_KINDS } from './unsafe.js';

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const count = { type: 'integer', minimum: 0 } as const;
const nullableCount = { type: ['integer', 'null'], minimum: 0 } as const;
const octalMode = { type: 'string', pattern: '^[0-7]{4}$' } as const;
const absPath = { type: 'string', pattern: '^/' } as const;

const OPTIONAL = Symbol('optional');

/** A property that may be absent: object() leaves it out of `required`. */
function optional(schema: Record<string, unknown>): Record<string, unknown> {
  return { ...schema, [OPTIONAL]: true };
}

function object(properties: Record<string, unknown>, description?: string): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [k, v] of Object.entries(properties)) {
    if (v !== null && typeof v === 'object' && OPTIONAL in v) {
      const { [OPTIONAL]: _, ...schema } = v as Record<string | symbol, unknown>;
      props[k] = schema;
    } else {
      props[k] = v;
      required.push(k);
    }
  }
  return {
    type: 'object',
    ...(description && { description }),
    properties: props,
    required,
    additionalProperties: false,
  };
}

const executable = {
  name: { ...str, description: 'shell name (sh, bash), or the tool a file belongs to (pip for pip3)' },
  path: { ...absPath, description: 'where it was found, e.g. /bin/sh' },
  target: {
    type: ['string', 'null'],
    description: 'the file the path resolves to through symlinks inside the image, when another path',
  },
  status: {
    enum: ['present', 'unknown'],
    description: 'unknown: the path is a symlink loop (or a chain of more than 40 links)',
  },
};

export const FACTS_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: `https://distill.dev/schemas/facts-v${FACTS_SCHEMA_VERSION}.json`,
  title: 'distill inspect facts',
  description:
    'What distill found in a container image, read as the merged filesystem a container sees. Lists are sorted; paths are absolute image paths; secrets are reported by name or path, never by value.',
  ...object({
    schemaVersion: { const: FACTS_SCHEMA_VERSION },
    source: object({
      kind: { enum: ['image', 'rootfs'] },
      manifestDigest: nullableStr,
      configDigest: nullableStr,
      platform: { ...nullableStr, description: 'os/architecture[/variant] from the config' },
    }),
    os: object(
      {
        id: { ...nullableStr, description: 'ID of os-release, e.g. debian, alpine' },
        version: { ...nullableStr, description: 'VERSION_ID of os-release' },
        codename: optional({ ...nullableStr, description: 'VERSION_CODENAME of os-release, e.g. trixie' }),
        prettyName: nullableStr,
        path: { type: ['string', 'null'], description: 'the os-release file read' },
      },
      'from /etc/os-release, else /usr/lib/os-release; nulls when absent or unreadable (see warnings)',
    ),
    libc: object({
      family: { enum: ['glibc', 'musl', 'none'] },
      version: { ...nullableStr, description: 'e.g. 2.41 for glibc, 1.2.5 for musl' },
      path: { type: ['string', 'null'], description: 'libc.so.6 or the dynamic loader found' },
    }),
    shells: { type: 'array', items: object(executable) },
    packageManagers: { type: 'array', items: object(executable) },
    lotl: {
      type: 'array',
      description: 'living-off-the-land tools (src/inspect/lotl.ts)',
      items: object({ ...executable, reason: str }),
    },
    setuid: {
      type: 'array',
      description: 'regular files with the setuid or setgid bit',
      items: object({
        path: absPath,
        mode: octalMode,
        uid: count,
        gid: count,
        setuid: { type: 'boolean' },
        setgid: { type: 'boolean' },
      }),
    },
    worldWritable: {
      type: 'array',
      description: 'files writable by anyone, and such directories without the sticky bit',
      items: object({ path: absPath, type: { enum: ['file', 'dir', 'other'] }, mode: octalMode }),
    },
    unsafePaths: {
      type: 'array',
      description:
        'layer entries that extractors mishandle (absolute or ".." names, hardlinks and symlinks leading outside the tree, entries written through such a symlink), in layer order; at most 1000 (src/inspect/unsafe.ts)',
      items: object({
        layer: count,
        path: { ...str, description: 'the entry name as written in the layer' },
        kind: { enum: [...UNSAFE_KINDS] },
        target: {
          ...nullableStr,
          description: 'the link target as written, or the path of the symlink written through',
        },
        why: str,
      }),
    },
    user: { ...nullableStr, description: "the config's User; null when unset (root)" },
    runsAsRoot: { type: ['boolean', 'null'], description: 'null when it cannot be told' },
    entrypoint: { type: ['array', 'null'], items: str },
    cmd: { type: ['array', 'null'], items: str },
    workingDir: nullableStr,
    env: { type: 'array', items: str, description: 'NAME=value; values of likely secrets are <redacted>' },
    exposedPorts: { type: 'array', items: str },
    packages: {
      type: 'array',
      items: object({
        type: { enum: ['deb', 'apk', 'rpm', 'npm'] },
        name: str,
        version: nullableStr,
        path: { ...absPath, description: 'the database listing it, or the package directory for npm' },
        architecture: optional({
          ...str,
          description: 'deb and rpm: the architecture its database lists (amd64, all; x86_64, noarch)',
        }),
        layer: optional({
          type: 'integer',
          minimum: 0,
          description:
            'with packageDetails (the library option distill sbom uses): the layer that wrote its entry',
        }),
        details: optional({
          type: 'object',
          description:
            'with packageDetails: source (dpkg Source, apk origin), architecture (apk), license (as declared), dependencies (npm names)',
        }),
      }),
    },
    packageFiles: optional({
      type: 'object',
      description:
        'with packageDetails: copyrights (Debian copyright files by package) and npmLocks (integrity and resolved of npm hidden lockfiles)',
    }),
    packageDatabases: {
      type: 'array',
      items: object({
        type: { enum: ['deb', 'apk', 'rpm'] },
        path: absPath,
        count: {
          type: ['integer', 'null'],
          minimum: 0,
          description: 'null when not read (rpm Berkeley DB or ndb, or a database that could not be read)',
        },
      }),
    },
    node: {
      oneOf: [
        { type: 'null' },
        object({
          version: nullableStr,
          source: { enum: ['binary', 'env'] },
          path: { type: ['string', 'null'] },
        }),
      ],
    },
    size: object({
      compressed: {
        ...nullableCount,
        description:
          'bytes of the compressed layer blobs; null (unknown) when a layer is stored uncompressed (docker-daemon:, rootfs:, uncompressed OCI layers)',
      },
      uncompressed: { ...count, description: 'bytes of the layer tars' },
    }),
    layers: {
      type: 'array',
      items: object({
        index: count,
        digest: nullableStr,
        diffId: nullableStr,
        mediaType: nullableStr,
        compressed: {
          ...nullableCount,
          description: 'bytes of the compressed blob; null (unknown) when the blob is an uncompressed tar',
        },
        uncompressed: count,
        entries: count,
        createdBy: { ...nullableStr, description: 'from the config history, empty_layer entries skipped' },
      }),
    },
    wastedBytes: { ...count, description: 'bytes of files replaced or deleted by later layers' },
    secrets: {
      type: 'array',
      items: object({
        kind: { enum: [...SECRET_KINDS], description: 'what it looks like: src/inspect/secret-rules.ts' },
        location: { ...str, description: 'an environment variable name or a file path' },
        source: { enum: ['config', 'filesystem'] },
        layer: { type: ['integer', 'null'], minimum: 0 },
        removed: { type: 'boolean', description: 'deleted by a later layer: hidden, but still in the image' },
      }),
    },
    security: optional(
      object(
        {
          checked: { type: 'boolean', description: 'false: not checked, reason says why' },
          suite: optional({ ...str, description: 'the suite asked, e.g. trixie-security' }),
          reason: optional({ ...str, description: 'why it was not checked' }),
        },
        "present when Debian's security archive was asked (--security)",
      ),
    ),
    securityUpdates: optional({
      type: 'array',
      description:
        'with security: deb packages older than the version the security archive has of the same name and architecture; empty when not checked',
      items: object({
        name: str,
        architecture: { ...str, description: 'amd64, all, ...' },
        installed: str,
        available: { ...str, description: 'the newest version in the suite' },
        suite: str,
      }),
    }),
    warnings: { type: 'array', items: str },
  }),
} as const;

/** The versions of a package name in an image, sorted; null for an unknown version. */
const versionList = { type: 'array', items: { type: ['string', 'null'] } } as const;
const versionsOf = object({ name: str, versions: versionList });

/**
 * `distill compare --format json`: the facts of each image (FACTS_JSON_SCHEMA) in the order given,
 * the references as the user wrote them, the comparison rows (src/inspect/rows.ts) and the package
 * difference of each image against the first.
 */
export const COMPARE_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: `https://distill.dev/schemas/compare-v${FACTS_SCHEMA_VERSION}.json`,
  title: 'distill compare',
  ...object({
    schemaVersion: { const: FACTS_SCHEMA_VERSION },
    references: { type: 'array', items: str, description: 'the images as named on the command line' },
    images: { type: 'array', items: FACTS_JSON_SCHEMA },
    rows: {
      type: 'array',
      description: 'one row per fact, values in the order of images; human-friendly, not for parsing',
      items: object({
        key: str,
        label: str,
        values: { type: 'array', items: str },
        differs: { type: 'boolean', description: 'the values are not all the same' },
      }),
    },
    packageDiff: {
      type: 'array',
      description:
        'per image after the first, its packages against those of the first, by type and name (src/inspect/package-diff.ts)',
      items: object({
        image: { type: 'integer', minimum: 1, description: 'the index of the image in images' },
        types: {
          type: 'array',
          description: 'package types either image has: deb, apk, rpm, npm, then others by name',
          items: object({
            type: str,
            added: { type: 'array', items: versionsOf, description: 'names only this image has' },
            removed: { type: 'array', items: versionsOf, description: 'names only the first image has' },
            changed: {
              type: 'array',
              description: 'names both have, at other versions',
              items: object({ name: str, from: versionList, to: versionList }),
            },
            unchanged: { ...count, description: 'names both have at the same versions' },
          }),
        },
      }),
    },
  }),
} as const;

/** `distill inspect --files PATH --format json`: the merged tree's entries under PATH, sorted. */
export const FILES_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: `https://distill.dev/schemas/files-v${FILES_SCHEMA_VERSION}.json`,
  title: 'distill inspect --files',
  ...object({
    schemaVersion: { const: FILES_SCHEMA_VERSION },
    files: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          path: absPath,
          type: { enum: ['file', 'dir', 'symlink', 'other'] },
          size: count,
          mode: octalMode,
          uid: count,
          gid: count,
          layer: { ...count, description: 'the layer that last wrote the entry (0: the base layer)' },
          linkTarget: { ...str, description: "a symlink's target, verbatim" },
          hardlinkTo: { ...absPath, description: 'the path a hardlink was made to' },
        },
        required: ['path', 'type', 'size', 'mode', 'uid', 'gid', 'layer'],
        additionalProperties: false,
      },
    },
  }),
} as const;
