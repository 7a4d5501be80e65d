import { DistillError, wrapError } from '../errors.js';
import { compare, type InspectTarget, inspect, parseTarget } from '../inspect/api.js';
import {
  checkDeny,
  type DenyRule,
  formatViolations,
  parseDenyRules,
  type Violation,
} from '../inspect/deny.js';
import {
  type Facts,
  type FileRow,
  imageForPlatform,
  mergedTree,
  resolvePath,
  rootfsTree,
  type Tree,
} from '../inspect/index.js';
import {
  compareDocument,
  jsonPieces,
  type NamedFacts,
  renderCompareMarkdown,
  renderCompareText,
  renderFilesJson,
  renderFilesText,
  renderHtml,
  renderMarkdown,
  renderText,
} from '../inspect/render.js';
import type { SecurityIndex, SecurityOptions } from '../inspect/security.js';
import { type MediaOptions, openArtifact } from '../media/index.js';
import { writeFileAtomic } from '../media/layout/write.js';
import { parsePlatform } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import type { Store } from '../store/store.js';
import type { Reporter } from './progress.js';
import { reportFormat } from './report-format.js';

/**
 * `distill inspect REF` and `distill compare REF REF...`: facts of images, as a report (text,
 * Markdown, JSON, one self-contained HTML file) and, with `--deny`, a verdict for CI (exit 3).
 *
 * REF is an image reference in any medium (`oci:DIR[:TAG]`, `oci-archive:`, `docker-archive:`,
 * `docker-daemon:`, `docker://`, a bare registry reference), or `rootfs:PATH`: a root
 * filesystem given as a directory, or as a tarball (plain, gzip or zstd; `.tar`, `.tar.gz`,
 * `.tgz`, `.tar.zst`). A root filesystem has no config: no user, entrypoint or history.
 *
 * The functions print nothing: they return what goes to stdout (`text`) and to stderr
 * (`denied`), and the exit code (0, or 3 when a `--deny` rule is broken).
 */

export { FORMATS, type InspectFormat } from './report-format.js';

/** The options of `distill inspect` and `distill compare`, as parsed from argv. */
export interface InspectArgs {
  /** text (default), markdown, json or html. */
  format?: string;
  /** `--deny` values, each a comma-separated list of rules (src/inspect/deny.ts). */
  deny?: string | readonly string[];
  /** `--files PATH` (inspect only): list the merged tree under PATH (`/` for all) instead of facts. */
  files?: string;
  /** `--platform os/arch[/variant]`: the image of an index to read (default: the host's). */
  platform?: string;
  /** `-o/--output FILE`: write the report there instead of returning it. */
  output?: string;
  /**
   * `--security`: ask Debian's security archive which deb packages have a newer version
   * (src/inspect/security.ts; network). `--deny security-updates` implies it.
   */
  security?: boolean;
  /** `--security-mirror URL`: the security archive's root (default http://deb.debian.org/debian-security). */
  securityMirror?: string;
}

export interface InspectContext {
  store: Store;
  /** How images are read (registry credentials and the like). */
  media?: MediaOptions;
  reporter: Reporter;
  /** How the security archive is read besides the store and mirror (keys, retries; tests). */
  security?: Omit<SecurityOptions, 'store' | 'mirror'>;
  /** Told the size of every chunk of tar read from a layer (InspectOptions.onLayerChunk). */
  onLayerChunk?: (bytes: number) => void;
}

export interface InspectResult {
  /** For stdout: the report, or with --output a line naming the file written. */
  readonly text: string;
  /**
   * The same text in pieces of at most 64 KiB, made as they are taken: the JSON of facts is
   * written from these without being made whole (see jsonPieces).
   */
  pieces(): Iterable<string>;
  /** For stderr: what broke the --deny rules, one block per rule and image; '' when clean. */
  denied: string;
  violations: Violation[];
  exitCode: 0 | 3;
}

function platformOf(args: InspectArgs): Platform | undefined {
  return args.platform === undefined ? undefined : parsePlatform(args.platform);
}

function chunks(ctx: InspectContext): { onLayerChunk?: (bytes: number) => void } {
  return ctx.onLayerChunk ? { onLayerChunk: ctx.onLayerChunk } : {};
}

function mediaOf(ctx: InspectContext): MediaOptions {
  return { ...ctx.media, store: ctx.store, progress: ctx.reporter };
}

function targetOf(input: string, args: InspectArgs): InspectTarget {
  const target = parseTarget(input);
  if (target.kind === 'rootfs' && args.platform !== undefined) {
    throw new DistillError('USAGE', `--platform picks an image of an index; ${input} is a root filesystem`);
  }
  return target;
}

async function factsOf(
  input: string,
  args: InspectArgs,
  ctx: InspectContext,
  security: SecurityIndex | undefined,
): Promise<Facts> {
  return inspect(input, inspectOptions(args, ctx, security));
}

/** What inspect() and compare() take from the options and the context. */
function inspectOptions(args: InspectArgs, ctx: InspectContext, security: SecurityIndex | undefined) {
  const platform = platformOf(args);
  return {
    media: mediaOf(ctx),
    ...(platform && { platform }),
    ...chunks(ctx),
    ...(security && { security }),
    step: (m: string) => ctx.reporter.step?.(m),
  };
}

/** The security archive to ask, when --security (or --deny security-updates) wants it. */
async function securityOf(
  args: InspectArgs,
  rules: readonly DenyRule[] | undefined,
  ctx: InspectContext,
): Promise<SecurityIndex | undefined> {
  const mirror = args.securityMirror;
  if (mirror !== undefined && !/^https?:\/\/[^/]/.test(mirror)) {
    throw new DistillError(
      'USAGE',
      `--security-mirror takes an http or https URL (like http://deb.debian.org/debian-security), not "${mirror}"`,
    );
  }
  const wanted = args.security === true || (rules ?? []).some((r) => r.kind === 'security-updates');
  if (!wanted) {
    if (mirror !== undefined)
      throw new DistillError('USAGE', '--security-mirror sets where --security looks; add --security');
    return undefined;
  }
  const { securitySource } = await import('../inspect/security.js');
  return securitySource({ ...ctx.security, store: ctx.store, ...(mirror !== undefined && { mirror }) });
}

async function treeOf(input: string, args: InspectArgs, ctx: InspectContext): Promise<Tree> {
  const target = targetOf(input, args);
  ctx.reporter.step?.(`reading ${input}`);
  if (target.kind === 'rootfs') return rootfsTree(target.path, chunks(ctx));
  const platform = platformOf(args);
  const image = await imageForPlatform(await openArtifact(target.ref, mediaOf(ctx)), platform);
  return mergedTree(image, chunks(ctx));
}

/**
 * The rows of the merged tree at `path` and below it. Symlinks on the way are followed inside the
 * image; a last one too when it leads to a directory (`/lib -> usr/lib` lists /usr/lib), else the
 * link itself is listed.
 */
export function filesUnder(tree: Tree, path: string, image: string): FileRow[] {
  const abs = path.startsWith('/') ? path : `/${path}`;
  let r = resolvePath(tree, abs, { followLast: false });
  if (r.ok && r.node.type === 'symlink') {
    const followed = resolvePath(tree, abs);
    if (followed.ok && followed.node.type === 'dir') r = followed;
  }
  if (!r.ok) {
    throw new DistillError(
      'NOT_FOUND',
      r.reason === 'loop'
        ? `${path} is a symlink loop in ${image}; give another path, or / for the whole tree`
        : `${path} is not in ${image}; give a path of its merged filesystem, or / for the whole tree`,
    );
  }
  const all = [...tree.files()];
  if (r.path === '/') return all;
  const prefix = `${r.path}/`;
  return all.filter((f) => f.path === r.path || f.path.startsWith(prefix));
}

function denyRules(args: InspectArgs): DenyRule[] | undefined {
  return args.deny === undefined ? undefined : parseDenyRules(args.deny);
}

/** Pieces joined into strings of about 64 KiB, a long one cut there (never in a surrogate pair). */
export function* slices(pieces: Iterable<string>): Generator<string> {
  const SLICE = 64 * 1024;
  let buffered = '';
  for (const piece of pieces) {
    buffered += piece;
    if (buffered.length < SLICE) continue;
    let at = 0;
    while (buffered.length - at >= SLICE) {
      let end = at + SLICE;
      const last = buffered.charCodeAt(end - 1);
      if (last >= 0xd800 && last <= 0xdbff) end--;
      yield buffered.slice(at, end);
      at = end;
    }
    buffered = buffered.slice(at);
  }
  if (buffered !== '') yield buffered;
}

async function finish(
  report: string | (() => Iterable<string>),
  images: readonly NamedFacts[],
  rules: readonly DenyRule[] | undefined,
  args: InspectArgs,
): Promise<InspectResult> {
  let pieces = typeof report === 'string' ? () => [report] : report;
  // Before anything is written: a rule that cannot be checked is an error (FACT_UNKNOWN).
  const violations = rules ? images.flatMap((i) => checkDeny(i.facts, rules, i.name)) : [];
  if (args.output !== undefined) {
    try {
      // Through a temp file beside it: the report is whole, or the file is as it was.
      await writeFileAtomic(args.output, slices(pieces()));
    } catch (err) {
      throw wrapError(err, `writing the report to ${args.output}`);
    }
    const line = `wrote ${args.output}\n`;
    pieces = () => [line];
  }
  const made = pieces;
  return {
    get text() {
      return [...made()].join('');
    },
    pieces: () => slices(made()),
    denied: violations.length > 0 ? `${formatViolations(violations)}\n` : '',
    violations,
    exitCode: violations.length > 0 ? 3 : 0,
  };
}

/** `distill inspect REF`: the facts of one image or root filesystem, or with `files` its file listing. */
export async function commandInspect(
  refs: readonly string[],
  args: InspectArgs,
  ctx: InspectContext,
): Promise<InspectResult> {
  if (refs.length !== 1) {
    throw new DistillError(
      'USAGE',
      'inspect takes one image: distill inspect REF (distill compare REF REF... puts several side by side)',
    );
  }
  const name = refs[0]!;
  const format = reportFormat(args);
  const rules = denyRules(args);
  if (args.files !== undefined) {
    if (rules) {
      throw new DistillError('USAGE', '--files lists the tree and --deny checks facts; run them separately');
    }
    if (args.security === true || args.securityMirror !== undefined) {
      throw new DistillError(
        'USAGE',
        '--files lists the tree and --security checks packages; run them separately',
      );
    }
    if (format !== 'text' && format !== 'json') {
      throw new DistillError('USAGE', `--files lists as text or json, not ${format}`);
    }
    const rows = filesUnder(await treeOf(name, args, ctx), args.files, name);
    return finish(format === 'json' ? renderFilesJson(rows) : renderFilesText(rows), [], undefined, args);
  }
  const facts = await factsOf(name, args, ctx, await securityOf(args, rules, ctx));
  const report =
    format === 'json'
      ? () => jsonPieces(facts)
      : format === 'markdown'
        ? renderMarkdown(facts, name)
        : format === 'html'
          ? renderHtml([{ name, facts }])
          : renderText(facts, name);
  return finish(report, [{ name, facts }], rules, args);
}

/** `distill compare REF REF...`: one row per fact, one column per image, differences marked. */
export async function commandCompare(
  refs: readonly string[],
  args: InspectArgs,
  ctx: InspectContext,
): Promise<InspectResult> {
  if (refs.length < 2) {
    throw new DistillError('USAGE', 'compare needs two images or more: distill compare REF REF...');
  }
  if (args.files !== undefined) {
    throw new DistillError('USAGE', '--files lists one image; use it with distill inspect');
  }
  const format = reportFormat(args);
  const rules = denyRules(args);
  const security = await securityOf(args, rules, ctx);
  // One image at a time: each merged tree is dropped before the next is read.
  const { images } = await compare(refs, inspectOptions(args, ctx, security));
  let report: string | (() => Iterable<string>);
  switch (format) {
    case 'json': {
      const all = compareDocument(images);
      report = () => jsonPieces(all, 4);
      break;
    }
    case 'markdown':
      report = renderCompareMarkdown(images);
      break;
    case 'html':
      report = renderHtml(images);
      break;
    case 'text':
      report = renderCompareText(images);
      break;
  }
  return finish(report, images, rules, args);
}
