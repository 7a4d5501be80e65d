import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import { join, posix } from 'node:path';
import { DistillError, wrapError } from '../../errors.js';
import { type SecretKind, secretRuleFor } from '../../inspect/secret-rules.js';
import { entriesFromDirectory } from '../../layers/directory.js';
import type { PlannedSecrets } from '../../plan/secrets.js';
import type { AppContext } from './context.js';

/**
 * Secrets stay out of the app layer (decision 0014): every file of the app's own tree and of a
 * build script's output is checked with the secret rules inspect uses (src/inspect/secret-rules.ts:
 * a rule chosen by the file's name and size, then the file's first bytes); a match is left out of
 * the layer, unless `--include-secret` names it (or a directory above it). The scratch copy the
 * install runs in still has every file `.dockerignore` lets through, so the install reads
 * `.npmrc` and `.yarnrc.yml` as before. node_modules is not checked: what the registry's packages
 * ship is public already, and their test keys and certificates would drown the warning.
 */

/** A file the rules match, by its path relative to the app directory. */
export interface SecretFile {
  path: string;
  kind: SecretKind;
  reason: string;
}

/** The first `max` bytes of a file, or all of a shorter one. */
function readHead(file: string, max: number): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(max);
    let n = 0;
    while (n < max) {
      const got = readSync(fd, buf, n, max - n, n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } catch (err) {
    throw wrapError(err, `reading ${file} to check it for secrets`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * `--include-secret PATH` as a path relative to the app directory (`./.env` -> `.env`); an
 * absolute path or one leaving the app directory is a usage error.
 */
export function includePath(p: string): string {
  const norm = posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (p === '' || norm.startsWith('/') || norm === '..' || norm.startsWith('../') || norm === '.') {
    throw new DistillError(
      'USAGE',
      `--include-secret ${p}: give a file (or directory) relative to the app directory, like --include-secret .env`,
    );
  }
  return norm;
}

/** The include path naming `rel`: `rel` itself or a directory above it. */
function includedBy(include: readonly string[], rel: string): string | undefined {
  return include.find((p) => rel === p || rel.startsWith(`${p}/`));
}

/** A sieve's findings as plain data. */
export interface SieveState {
  found: (SecretFile & { kept: boolean })[];
  met: string[];
}

/**
 * Decides, file by file as a layer's walk meets them, what stays out, and remembers what it
 * found over every walk (both platforms, the app's own files and a build's output).
 */
export class SecretSieve {
  readonly include: readonly string[];
  private readonly found = new Map<string, SecretFile & { kept: boolean }>();
  private readonly met = new Set<string>();

  constructor(include: readonly string[] = []) {
    this.include = [...new Set(include.map(includePath))].sort();
  }

  /** Whether the entry at `rel` of a walk of `root` stays out of the layer: a secret no include names. */
  leavesOut(root: string, rel: string, info: { type: string; size: number }): boolean {
    const by = this.include.length > 0 ? includedBy(this.include, rel) : undefined;
    if (by !== undefined) this.met.add(by);
    if (info.type !== 'file') return false;
    const m = secretRuleFor(rel, info.size, (max) => readHead(join(root, rel), max));
    if (m === undefined) return false;
    this.found.set(rel, { path: rel, kind: m.id, reason: m.reason, kept: by !== undefined });
    return by === undefined;
  }

  /** The secrets left out, in path order. */
  leftOut(): SecretFile[] {
    return this.list(false);
  }

  /** The secrets kept because an include names them, in path order. */
  kept(): SecretFile[] {
    return this.list(true);
  }

  /** Include paths no walk met (not there, or left out by the ignore files). */
  unmet(): string[] {
    return this.include.filter((p) => !this.met.has(p));
  }

  /** Include paths met, with no secret at or under them. */
  needless(): string[] {
    const kept = this.kept();
    return this.include.filter(
      (p) => this.met.has(p) && !kept.some((s) => s.path === p || s.path.startsWith(`${p}/`)),
    );
  }

  /** What the walks found and met so far, as plain data (a cached build's, built.ts). */
  state(): SieveState {
    return { found: [...this.found.values()], met: [...this.met].sort() };
  }

  /** Takes in what another sieve's walks found (a cached build's, as if its walks ran here). */
  merge(state: SieveState): void {
    for (const f of state.found) this.found.set(f.path, f);
    for (const m of state.met) this.met.add(m);
  }

  private list(kept: boolean): SecretFile[] {
    return [...this.found.values()]
      .filter((s) => s.kept === kept)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
      .map(({ path, kind, reason }) => ({ path, kind, reason }));
  }
}

/** Files the package managers read during the install (from its scratch copy, which keeps them). */
const INSTALL_READS = new Set(['.npmrc', '.yarnrc.yml']);

/** The one warning of a build that left secrets out, naming each with its rule's reason. */
export function leftOutWarning(leftOut: readonly SecretFile[]): string | undefined {
  if (leftOut.length === 0) return undefined;
  const n = leftOut.length;
  const w = Math.max(...leftOut.map((s) => s.path.length));
  return [
    `${n === 1 ? '1 file that looks' : `${n} files that look`} like secrets ${n === 1 ? 'was' : 'were'} left out of the app layer:`,
    ...leftOut.map((s) => `  ${s.path.padEnd(w)}  ${s.kind}: ${s.reason}`),
    ...(leftOut.some((s) => INSTALL_READS.has(posix.basename(s.path)))
      ? ['The install still reads .npmrc and .yarnrc.yml, in its scratch copy.']
      : []),
    'To keep one in the image deliberately, pass --include-secret PATH.',
  ].join('\n');
}

/** The usage error of include paths that name nothing the app layer could hold. */
export function unmetIncludes(ctx: AppContext, unmet: readonly string[], after: string): DistillError {
  const why = unmet.map((p) => {
    const there = lstatSync(join(ctx.dir, p), { throwIfNoEntry: false }) !== undefined;
    return there
      ? `--include-secret ${p}: the build leaves it out (a pattern of .dockerignore or .distillignore, or node_modules, .git and .distill, which never go in), and --include-secret does not take it back`
      : `--include-secret ${p}: no such file in ${ctx.dir}${after}`;
  });
  return new DistillError('USAGE', why.join('\n'));
}

/**
 * The secrets of the app directory as the plan lists them: the files its app layer would leave
 * out or keep, `--include-secret` paths checked (a path not there is a usage error, unless a
 * build script may make it: then the build checks it), and warnings for include paths that
 * name no secret.
 */
export async function planSecrets(
  ctx: AppContext,
  hasBuildScript: boolean,
): Promise<{ secrets: PlannedSecrets; warnings: string[] }> {
  const sieve = ctx.secrets;
  await entriesFromDirectory(ctx.dir, {
    ignore: (rel, info) => ctx.ignores(rel, info.type === 'dir') || sieve.leavesOut(ctx.dir, rel, info),
  });
  // A path the build script may make is checked by the build.
  const unmet = sieve
    .unmet()
    .filter((p) => !hasBuildScript || lstatSync(join(ctx.dir, p), { throwIfNoEntry: false }) !== undefined);
  if (unmet.length > 0) throw unmetIncludes(ctx, unmet, '');
  const warnings = sieve
    .needless()
    .map(
      (p) =>
        `--include-secret ${p}: not a secret by distill's rules; it goes into the image as any other file would`,
    );
  return { secrets: { include: [...sieve.include], leftOut: sieve.leftOut(), kept: sieve.kept() }, warnings };
}
