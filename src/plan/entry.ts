import { DistillError } from '../errors.js';
import type { PackageJson } from '../sources/app/read.js';
import { shellWords } from './words.js';

/**
 * The file an image's command runs, and what to say when there is none: the candidates an app
 * has (scripts that are `node FILE`, `main`, the usual build outputs and server files), so that
 * a tree with no entry point fails before anything installs, with a choice to make.
 */

/** Node options followed by a value in the next argument. */
const TAKES_VALUE = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '--env-file',
  '--env-file-if-exists',
  '--title',
  '--input-type',
  '-C',
  '--conditions',
  '--inspect-port',
  '--redirect-warnings',
  '--openssl-config',
]);
/** Options after which node runs no file. */
const NO_FILE = new Set([
  '-e',
  '--eval',
  '-p',
  '--print',
  '-i',
  '--interactive',
  '-v',
  '--version',
  '-h',
  '--help',
]);

/** The script file in node's arguments (the first that is not an option or an option's value), if any. */
export function entryOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (NO_FILE.has(a)) return undefined;
    if (TAKES_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

/**
 * The paths node tries for an entry `file` (its CommonJS resolution of the main module, which
 * ES modules go through too): the file, with .js, .json or .node, or a directory's index.
 */
export function entryVariants(file: string): string[] {
  const f = file.replace(/^\.\//, '').replace(/\/+$/, '');
  return [f, `${f}.js`, `${f}.json`, `${f}.node`, `${f}/index.js`, `${f}/index.json`, `${f}/index.node`];
}

/** The build outputs and server files an app's entry usually is, in the order they are suggested. */
export const USUAL_ENTRIES = ['dist/main.js', 'dist/index.js', 'build/index.js', 'server.js', 'index.js'];

/** The real candidates of an app: `--cmd` lines with why each is one. */
export function entryCandidates(pkg: PackageJson, exists: (rel: string) => boolean): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const add = (args: string[], why: string) => {
    const key = args.join(' ');
    if (seen.has(key)) return;
    seen.add(key);
    found.push(`--cmd ${key}  (${why})`);
  };
  for (const [name, script] of Object.entries(pkg.scripts ?? {})) {
    if (typeof script !== 'string') continue;
    const words = shellWords(script.trim());
    if (words && words.length > 1 && (words[0] === 'node' || words[0] === 'nodejs')) {
      add(words.slice(1), `scripts["${name}"]: ${script.trim()}`);
    }
  }
  if (typeof pkg.main === 'string' && pkg.main.trim() !== '') add([pkg.main.trim()], 'main in package.json');
  for (const f of USUAL_ENTRIES) if (exists(f)) add([f], `${f} is in the app`);
  return found;
}

/** How to choose, after what went wrong; `buildable` names what could make files (a build script). */
export function chooseAdvice(pkg: PackageJson, exists: (rel: string) => boolean, buildable?: string): string {
  const candidates = entryCandidates(pkg, exists);
  const choose = 'choose one with --cmd FILE [ARGS...] or "distill": {"cmd": ["FILE", ...]} in package.json';
  if (candidates.length > 0) return `candidates found:\n  ${candidates.join('\n  ')}\n${choose}`;
  return [
    `no candidate found (no script runs "node FILE", no main, none of ${USUAL_ENTRIES.join(', ')}${buildable ? ` before ${buildable} runs` : ''})`,
    `add a start script ("start": "node src/server.js"), set "main", or pass --cmd FILE`,
  ].join('; ');
}

/** The error for a command whose entry file is not in the tree, with the candidates. */
export function entryMissing(
  what: string,
  file: string,
  dir: string,
  pkg: PackageJson,
  exists: (rel: string) => boolean,
): DistillError {
  return new DistillError(
    'APP_ENTRY_MISSING',
    `${what} runs ${file}, which is not in ${dir} (nor ${file}.js or ${file}/index.js), and no build script could make it; the image would fail at start with "Cannot find module"; ${chooseAdvice(pkg, exists)}`,
  );
}
