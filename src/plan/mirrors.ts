import { DistillError } from '../errors.js';

/**
 * Which archive root serves each suite of a base. A base may mix mirrors (Debian's archive,
 * Debian's security archive, a company mirror, a local repository), so the choice is per suite:
 * `--mirror URL` serves every suite, `--mirror SUITE=URL` one suite, `mirror:` in base.yaml is a
 * URL or a map of suite to URL, and a lockfile records the mirror each of its suites was read
 * from. Suites nobody chose a mirror for get Debian's own (the apt source knows those). Pure.
 */
export interface MirrorChoice {
  /** Serves every suite not named in `suites`. */
  all?: string;
  /** Suite -> archive root. */
  suites: Record<string, string>;
}

/** One source of mirror choices, in the order they win (command line, config file, lockfile). */
export interface MirrorLayer {
  choice: MirrorChoice;
  /** Where the choice comes from, for messages: `--mirror`, a file name. */
  from: string;
  /** The code of the error when it names a suite the build does not have. */
  code: 'USAGE' | 'CONFIG_FILE_INVALID' | 'LOCKFILE_INVALID';
}

const SUITE_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
/** A URL scheme at the start: `trixie-security=http://...` has none (`=` is not a scheme character). */
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** What is wrong with `url` as the root of an apt archive, or undefined when nothing is. */
export function mirrorUrlProblem(url: string): string | undefined {
  if (!SCHEME_RE.test(url)) return 'is not a URL (give http://HOST/PATH or https://HOST/PATH)';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `uses ${u.protocol} (use http: or https:)`;
  // fetch() refuses URLs with credentials, and paths are appended to the root.
  if (u.username !== '' || u.password !== '') return 'holds credentials, which distill does not send';
  if (u.search !== '' || u.hash !== '') return 'has a query or fragment (give the archive root only)';
  return undefined;
}

/** The archive root without trailing slashes, as it is recorded and URLs are joined to it. */
export function normalizeMirrorUrl(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Checks one URL given as `what` (e.g. `--mirror trixie=...`); returns it normalized. */
function checkedUrl(url: string, what: string, code: MirrorLayer['code']): string {
  const problem = mirrorUrlProblem(url);
  if (problem !== undefined) throw new DistillError(code, `${what}: "${url}" ${problem}`);
  return normalizeMirrorUrl(url);
}

/**
 * `--mirror` values, each `URL` (every suite) or `SUITE=URL` (one suite), as a choice. A bad
 * URL, a bad suite name, two plain URLs or one suite given twice are USAGE errors.
 */
export function parseMirrorArgs(values: readonly string[], flag = '--mirror'): MirrorChoice {
  const choice: MirrorChoice = { suites: {} };
  for (const value of values) {
    const eq = value.indexOf('=');
    if (SCHEME_RE.test(value) || eq < 0) {
      const url = checkedUrl(value, flag, 'USAGE');
      if (choice.all !== undefined) {
        throw new DistillError(
          'USAGE',
          `${flag} gives two mirrors for every suite (${choice.all} and ${url}); give one URL, and SUITE=URL for the others`,
        );
      }
      choice.all = url;
      continue;
    }
    const suite = value.slice(0, eq);
    if (!SUITE_RE.test(suite) || suite.split('/').some((s) => s === '.' || s === '..' || s === '')) {
      throw new DistillError('USAGE', `${flag} ${value}: "${suite}" is not a suite name (SUITE=URL)`);
    }
    const url = checkedUrl(value.slice(eq + 1), `${flag} ${suite}=URL`, 'USAGE');
    if (choice.suites[suite] !== undefined) {
      throw new DistillError('USAGE', `${flag} gives two mirrors for ${suite}; give one`);
    }
    choice.suites[suite] = url;
  }
  return choice;
}

/**
 * The mirror of every suite someone chose one for, the first layer that names the suite or
 * gives a URL for all winning; suites left out get Debian's defaults from the apt source. A
 * layer naming a suite that is not in `suites` is an error of the layer's code naming both.
 */
export function chooseMirrors(
  suites: readonly string[],
  layers: readonly MirrorLayer[],
): Record<string, string> {
  for (const layer of layers) {
    for (const named of Object.keys(layer.choice.suites)) {
      if (suites.includes(named)) continue;
      throw new DistillError(
        layer.code,
        `${layer.from} names the suite ${named}, which this build does not use (its suites: ${suites.join(', ')}); ` +
          `give a mirror for one of those${layer.code === 'USAGE' ? ' (--mirror SUITE=URL) or one URL for all' : ''}`,
      );
    }
  }
  const out: Record<string, string> = {};
  for (const suite of suites) {
    for (const { choice } of layers) {
      const url = choice.suites[suite] ?? choice.all;
      if (url !== undefined) {
        out[suite] = url;
        break;
      }
    }
  }
  return out;
}
