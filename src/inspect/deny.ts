/**
 * `--deny RULES`: what an image must not have, for CI. RULES is a comma-separated list:
 *
 *   shell                 a shell (sh, bash, busybox, ...)
 *   package-manager       a package manager (apt, apk, dpkg, npm, pip, ...)
 *   root                  runs as root, or cannot be told not to
 *   setuid                a setuid or setgid file
 *   world-writable        a file or unsticky directory anyone may write
 *   unsafe-paths          a layer entry extractors mishandle: an absolute or `..` name, a link
 *                         leading outside the tree, an entry written through one (unsafe.ts)
 *   secrets               a likely secret (in the config's env or in the files, deleted ones too)
 *   lotl, lotl:TOOL       a living-off-the-land tool, any or the one named (lotl:curl; lotl:python
 *                         also matches python3.13)
 *   libc:glibc, libc:musl that C library
 *   size>SIZE             uncompressed size above SIZE (200MB; units B, KB, MB, GB, KiB, MiB, GiB)
 *   compressed-size>SIZE  compressed size (the layer blobs) above SIZE; an image whose layers are
 *                         stored uncompressed (docker-daemon:, rootfs:) has none: FACT_UNKNOWN
 *   security-updates      a deb package Debian's security archive has a newer version of
 *                         (security.ts); fails closed: an image whose archive was not checked
 *                         (not Debian, release unknown, archive unreadable) breaks it too
 *
 * A violation names what broke the rule (paths, variable names), never a secret's value.
 */
import { DistillError } from '../errors.js';
import type { Facts } from './facts.js';
import { LOTL_TOOLS, lotlToolOf } from './lotl.js';
import { formatSize, printable, uncompressedLayers } from './rows.js';

export type DenyRule =
  | {
      kind:
        | 'shell'
        | 'package-manager'
        | 'root'
        | 'setuid'
        | 'world-writable'
        | 'unsafe-paths'
        | 'secrets'
        | 'security-updates';
      text: string;
    }
  | { kind: 'lotl'; tool: string | null; text: string }
  | { kind: 'libc'; family: 'glibc' | 'musl'; text: string }
  | { kind: 'size'; compressed: boolean; limit: number; text: string };

export interface Violation {
  /** The rule as written canonically, `lotl:curl`. */
  rule: string;
  /** The image, as the user named it. */
  image: string;
  /** What broke the rule, one item each. */
  what: string[];
}

const SIMPLE = [
  'shell',
  'package-manager',
  'root',
  'setuid',
  'world-writable',
  'unsafe-paths',
  'secrets',
  'security-updates',
] as const;

export const KNOWN_RULES =
  'shell, package-manager, root, setuid, world-writable, unsafe-paths, secrets, security-updates, lotl, lotl:TOOL, libc:glibc, libc:musl, size>SIZE, compressed-size>SIZE (SIZE like 200MB)';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

function usage(message: string): DistillError {
  return new DistillError('USAGE', message);
}

/** `200MB`, `1.5GiB`, `4096` (bytes): bytes, or undefined when it is no size. */
export function parseSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s.trim());
  if (!m) return undefined;
  const unit = UNITS[(m[2] || 'b').toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

function parseRule(raw: string): DenyRule {
  const text = raw.trim().toLowerCase();
  if ((SIMPLE as readonly string[]).includes(text)) return { kind: text as (typeof SIMPLE)[number], text };
  if (text === 'lotl') return { kind: 'lotl', tool: null, text };
  if (text.startsWith('lotl:')) {
    const tool = text.slice(5);
    if (!LOTL_TOOLS.some((t) => t.name === tool)) {
      throw usage(
        `"${raw}" names no tool distill knows; use lotl alone for any, or lotl: with one of ${LOTL_TOOLS.map((t) => t.name).join(', ')}`,
      );
    }
    return { kind: 'lotl', tool, text };
  }
  if (text === 'libc:glibc' || text === 'libc:musl')
    return { kind: 'libc', family: text.slice(5) as 'glibc' | 'musl', text };
  const size = /^(size|compressed-size)\s*>\s*(.*)$/i.exec(raw.trim());
  if (size) {
    const limit = parseSize(size[2]!);
    if (limit === undefined) {
      throw usage(
        `"${raw}" has no size distill can read; write it like size>200MB (B, KB, MB, GB, KiB, MiB, GiB)`,
      );
    }
    const kind = size[1]!.toLowerCase();
    return {
      kind: 'size',
      compressed: kind === 'compressed-size',
      limit,
      text: `${kind}>${size[2]!.replace(/\s+/g, '')}`,
    };
  }
  throw usage(`"${raw}" is not a --deny rule; use one or more of ${KNOWN_RULES}, comma-separated`);
}

/** Rules from `--deny` values (each comma-separated); unknown ones are a USAGE error. */
export function parseDenyRules(text: string | readonly string[]): DenyRule[] {
  const parts = (typeof text === 'string' ? [text] : text)
    .flatMap((t) => t.split(','))
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw usage(`--deny needs at least one rule: ${KNOWN_RULES}`);
  const rules: DenyRule[] = [];
  for (const p of parts) {
    const r = parseRule(p);
    if (!rules.some((x) => x.text === r.text)) rules.push(r);
  }
  return rules;
}

function where(e: { path: string; target: string | null; status: string }): string {
  if (e.status === 'unknown') return `${e.path} (a symlink loop: may be there)`;
  return e.target === null ? e.path : `${e.path} -> ${e.target}`;
}

function rootReason(f: Facts): string | undefined {
  if (f.runsAsRoot === true)
    return f.user === null ? 'runs as root (user unset)' : `runs as root (user ${f.user})`;
  if (f.runsAsRoot === false) return undefined;
  if (f.source.kind === 'rootfs')
    return 'a root filesystem has no config: whether it runs as root is unknown';
  return `user ${f.user ?? ''} is not in /etc/passwd: whether it runs as root is unknown`;
}

/**
 * `compressed-size>` on an image whose layers are stored uncompressed (docker-daemon:, rootfs:,
 * uncompressed OCI layers) can neither pass nor fail: an error naming the input and why.
 */
function unknownCompressedSize(f: Facts, rule: DenyRule, image: string): DistillError {
  const layers = uncompressedLayers(f);
  const which = layers.length === f.layers.length ? 'its layers are' : `its layers ${layers.join(', ')} are`;
  return new DistillError(
    'FACT_UNKNOWN',
    `--deny ${rule.text} cannot be checked on ${printable(image)}: ${which} stored uncompressed (as docker-daemon: and rootfs: inputs are), so its compressed size is unknown; check the image where its layers are compressed (a registry or an OCI layout), or use size>SIZE`,
  );
}

function broken(f: Facts, rule: DenyRule, image: string): string[] {
  switch (rule.kind) {
    case 'shell':
      return f.shells.map(where);
    case 'package-manager':
      return f.packageManagers.map((p) => `${p.name}: ${where(p)}`);
    case 'root': {
      const r = rootReason(f);
      return r === undefined ? [] : [r];
    }
    case 'setuid':
      return f.setuid.map(
        (s) =>
          `${s.path} (${s.mode}, ${[s.setuid && 'setuid', s.setgid && 'setgid'].filter(Boolean).join(', ')})`,
      );
    case 'world-writable':
      return f.worldWritable.map((w) => `${w.path} (${w.type}, ${w.mode})`);
    case 'unsafe-paths':
      return f.unsafePaths.map(
        (u) =>
          `layer ${u.layer} ${JSON.stringify(u.path)}: ${u.kind}${u.target === null ? '' : ` (${JSON.stringify(u.target)})`}`,
      );
    case 'secrets':
      return f.secrets.map((s) => {
        const what = s.source === 'config' ? `env ${s.location}` : `${s.kind} ${s.location}`;
        return s.removed ? `${what} (deleted by a later layer, still in layer ${s.layer})` : what;
      });
    case 'security-updates':
      if (f.security === undefined)
        return ['the security archive was not checked; run with --security to check it'];
      if (!f.security.checked)
        return [`the security archive was not checked: ${f.security.reason ?? 'unknown reason'}`];
      return (f.securityUpdates ?? []).map(
        (u) => `${u.name}:${u.architecture} ${u.installed} < ${u.available} (${u.suite})`,
      );
    case 'lotl':
      return f.lotl
        .filter((t) => rule.tool === null || lotlToolOf(t.name)?.name === rule.tool)
        .map((t) => `${t.name}: ${where(t)}`);
    case 'libc':
      return f.libc.family === rule.family ? [`${rule.family} at ${f.libc.path ?? 'an unknown path'}`] : [];
    case 'size': {
      const size = rule.compressed ? f.size.compressed : f.size.uncompressed;
      if (size === null) throw unknownCompressedSize(f, rule, image);
      return size > rule.limit
        ? [
            `${formatSize(size)} ${rule.compressed ? 'compressed' : 'uncompressed'} (${size} bytes) > ${formatSize(rule.limit)}`,
          ]
        : [];
    }
  }
}

/**
 * What in the image breaks each rule; empty when it is clean. A rule the image cannot be checked
 * against (compressed-size> without a compressed size) throws FACT_UNKNOWN.
 */
export function checkDeny(facts: Facts, rules: readonly DenyRule[], image: string): Violation[] {
  return rules.flatMap((rule) => {
    const what = broken(facts, rule, image);
    return what.length === 0 ? [] : [{ rule: rule.text, image, what }];
  });
}

/** Violations as text for a person (or a CI log); control characters escaped. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations
    .map((v) =>
      [`${printable(v.image)} breaks --deny ${v.rule}:`, ...v.what.map((w) => `  ${printable(w)}`)].join(
        '\n',
      ),
    )
    .join('\n');
}
