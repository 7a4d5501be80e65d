import type semver from 'semver';
import { DistillError } from '../errors.js';
import { endOfLife } from '../sources/node/lts.js';
import { nodeRange, type PickOptions, pickNodeVersion, sortVersionsDesc } from '../sources/node/versions.js';

/**
 * Which Node release an app gets when several places name one (pure: the caller lists the
 * releases). The rules (docs/decisions/0007-node-versions-and-fast-start.md):
 * - `--node` overrides everything; a stated source it does not satisfy gets a warning.
 * - Otherwise every stated spec is a constraint, and the newest release that satisfies all of them
 *   wins. The source that decided is the most specific one: the spec matching the fewest
 *   releases (`.node-version` 18.14.0 within engines `>=18` gives 18.14.0). When the sources alone
 *   would pick different releases, a warning names each source and what it alone would give.
 * - No release satisfying all of them is NODE_VERSION_CONFLICT naming the sources that disagree.
 *   engines.node is advisory in npm (EBADENGINE is a warning unless engine-strict), but npm
 *   installs into a Node someone already chose; distill chooses the Node, and choosing one the
 *   app declares it does not support, or one its version files do not pin, would ship an image
 *   nobody tested. `--node` is the explicit way past it.
 * - Nothing stated: the active LTS.
 * - A release whose line is past its end of life (the schedule in sources/node/lts.ts) gets a
 *   warning with the date.
 */

/** Where a Node version can be stated, in the order the README lists them. */
export type NodeSpecSource = '--node' | 'engines.node' | '.nvmrc' | '.node-version' | 'volta.node';

/** Each place's spec as written (a whole file for .nvmrc and .node-version); absent or empty when not stated. */
export type NodeSpecs = Partial<Record<NodeSpecSource, string | undefined>>;

const ORDER: readonly NodeSpecSource[] = ['--node', 'engines.node', '.nvmrc', '.node-version', 'volta.node'];

const LABEL: Record<NodeSpecSource, string> = {
  '--node': '--node',
  'engines.node': 'engines.node in package.json',
  '.nvmrc': '.nvmrc',
  '.node-version': '.node-version',
  'volta.node': 'volta.node in package.json',
};

export interface StatedSpec {
  source: NodeSpecSource;
  spec: string;
  /** The release this spec alone picks; undefined when it matches none (possible only beside --node). */
  alone: string | undefined;
}

export interface NodeVersionChoice {
  version: string;
  /** The spec that decided (`lts` when nothing was stated). */
  spec: string;
  /** The source that decided. */
  source: NodeSpecSource | 'default';
  /** The deciding source for a person: `.node-version`, `engines.node in package.json`, ... */
  from: string;
  /** Every stated spec, in ORDER. */
  stated: StatedSpec[];
  warnings: string[];
  /** Set when the chosen release's line is past its end of life. */
  endOfLife?: { line: string; end: string };
}

export type ChooseOptions = Omit<PickOptions, 'from'>;

/**
 * A spec as a file or field states it: the first line that is not empty once `#` comments are
 * cut (nvm reads .nvmrc that way), trimmed; undefined when nothing is left.
 */
export function normalizeNodeSpec(text: string | undefined): string | undefined {
  if (typeof text !== 'string') return undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, '').trim();
    if (line !== '') return line;
  }
  return undefined;
}

interface Resolved extends StatedSpec {
  range: semver.Range;
  /** How many releases the spec matches: fewer is more specific. */
  count: number;
}

function quote(s: { source: NodeSpecSource; spec: string }): string {
  return `${LABEL[s.source]} "${s.spec}"`;
}

/**
 * The Node release for an app: see the module comment. `versions` is the list the release must
 * come from (the npm registry's node-linux-<arch> versions, or a mirror's index.json).
 * Throws VERSION_INVALID (a malformed spec), NODE_VERSION_UNKNOWN (a spec matching no release)
 * and NODE_VERSION_CONFLICT (sources with no release in common), each naming the source.
 */
export function chooseNodeVersion(
  specs: NodeSpecs,
  versions: Iterable<string>,
  opts: ChooseOptions = {},
): NodeVersionChoice {
  const releases = sortVersionsDesc(versions);
  const resolved: Resolved[] = [];
  for (const source of ORDER) {
    const spec = normalizeNodeSpec(specs[source]);
    if (spec === undefined) continue;
    const range = nodeRange(spec, { ...opts, from: LABEL[source] });
    const matches = releases.filter((v) => range.test(v));
    resolved.push({ source, spec, range, count: matches.length, alone: matches[0] });
  }
  const stated = resolved.map(({ source, spec, alone }) => ({ source, spec, alone }));
  const flag = resolved.find((r) => r.source === '--node');
  // A stated spec that matches nothing is an error naming it (pickNodeVersion's message, with
  // the nearest releases), unless --node overrides it.
  for (const r of resolved) {
    if (r.alone === undefined && (r === flag || !flag)) {
      pickNodeVersion(r.spec, releases, { ...opts, from: LABEL[r.source] });
    }
  }
  let chosen: { version: string; by: Resolved | undefined; warnings: string[] };
  if (resolved.length === 0) {
    const version = pickNodeVersion('lts', releases, { ...opts, from: 'the active LTS' });
    chosen = { version, by: undefined, warnings: [] };
  } else if (flag) {
    chosen = overridden(flag, resolved);
  } else {
    chosen = agreed(resolved, releases);
  }
  const { version, by, warnings } = chosen;
  const eol = endOfLife(version, opts.now ?? new Date());
  if (eol) {
    warnings.push(
      `Node ${version} is past its end of life: the ${eol.line}.x line ended on ${eol.end} and gets no security fixes (${by ? `from ${quote(by)}` : 'the active LTS'}); choose a supported line`,
    );
  }
  return {
    version,
    spec: by?.spec ?? 'lts',
    source: by?.source ?? 'default',
    from: by ? LABEL[by.source] : 'the active LTS (nothing in the app names a version)',
    stated,
    warnings,
    ...(eol && { endOfLife: eol }),
  };
}

/** --node decides; each other stated spec it does not satisfy is a warning. */
function overridden(
  flag: Resolved,
  resolved: Resolved[],
): { version: string; by: Resolved; warnings: string[] } {
  const version = flag.alone!;
  const warnings: string[] = [];
  for (const r of resolved) {
    if (r === flag || r.range.test(version)) continue;
    const why =
      r.source === 'engines.node'
        ? ': the app declares it needs that, and npm would warn EBADENGINE'
        : `, which alone gives ${r.alone ?? 'no release'}`;
    warnings.push(`--node "${flag.spec}" gives Node ${version}, outside ${quote(r)}${why}`);
  }
  return { version, by: flag, warnings };
}

/** The newest release every spec allows, decided by the most specific spec. */
function agreed(
  resolved: Resolved[],
  releases: string[],
): { version: string; by: Resolved; warnings: string[] } {
  const version = releases.find((v) => resolved.every((r) => r.range.test(v)));
  if (version === undefined) throw conflict(resolved, releases);
  // Fewest matches first; a tie keeps ORDER (resolved is in ORDER and sort is stable).
  const by = [...resolved].sort((a, b) => a.count - b.count)[0]!;
  const warnings: string[] = [];
  if (resolved.some((r) => r.alone !== version)) {
    const each = resolved.map((r) => `${quote(r)} alone gives ${r.alone}`).join(', ');
    warnings.push(
      `the Node version sources disagree (${each}); Node ${version} is the newest release all of them allow, decided by ${quote(by)}, the most specific`,
    );
  }
  return { version, by, warnings };
}

function conflict(resolved: Resolved[], releases: string[]): DistillError {
  const pairs: string[] = [];
  for (let i = 0; i < resolved.length; i++) {
    for (let j = i + 1; j < resolved.length; j++) {
      const a = resolved[i]!;
      const b = resolved[j]!;
      if (!releases.some((v) => a.range.test(v) && b.range.test(v))) {
        pairs.push(
          `${quote(a)} (newest ${a.alone}) and ${quote(b)} (newest ${b.alone}) have no release in common`,
        );
      }
    }
  }
  const what =
    pairs.length > 0
      ? pairs.join('; ')
      : `no release satisfies all of ${resolved.map(quote).join(', ')} at once`;
  return new DistillError(
    'NODE_VERSION_CONFLICT',
    `the app's Node version sources disagree: ${what}; change one of them so they agree, or choose with --node`,
  );
}
