import { posix } from 'node:path';
import { type Node as AcornNode, parse } from 'acorn';
import { ancestor } from 'acorn-walk';
import { DistillError } from '../../errors.js';
import type { Layer } from '../../oci/image.js';
import type { AppPlan } from '../../plan/app.js';
import { entryOf } from '../../plan/entry.js';
import type { Store } from '../../store/store.js';
import { type ImportKind, type Resolution, requireFile, resolveImport } from './resolve.js';
import { emptyIndex, indexLayer, nodeModulesIndex, type TreeIndex } from './treeindex.js';

/**
 * The smoke check after layering: the command's entry module, resolved in the image's own file
 * tree (the node_modules and app layers just built, treeindex.ts) as Node would resolve it, and
 * its static imports followed: `import ... from`, `export ... from` and `require('literal')` of
 * relative files (parsed in turn) and of packages (found, their exports or main checked, not
 * parsed). No process runs: a missing file or package is reported before the image is written.
 * Not followed, by design: dynamic `import()` and `require(variable)` (they may be optional or
 * computed), and a require inside `try` (the code handles its absence).
 *
 * Parsing: acorn, a full ECMAScript parser (what webpack and rollup build on), because the
 * imports of CommonJS are calls: es-module-lexer reads only import/export syntax and
 * cjs-module-lexer only what a module exports, so neither finds `require()`; a regex would take
 * text in strings and comments for imports.
 */
export interface SmokeReport {
  /** Files parsed. */
  parsed: number;
  /** Imports not followed (dynamic, computed), counted. */
  notFollowed: number;
  /** What was left unchecked, and why (too big, not parsed, the file limit). */
  notes: string[];
}

/** At most this many files are parsed (a server's own code; bundles count as one). */
export const MAX_FILES = 400;

interface Found {
  spec: string;
  kind: ImportKind;
}

/** Static imports of a source text; dynamic and computed ones counted apart. */
export function staticImports(text: string): { imports: Found[]; dynamic: number } {
  const opts = { ecmaVersion: 'latest', allowHashBang: true, allowReturnOutsideFunction: true } as const;
  let ast: AcornNode;
  try {
    ast = parse(text, { ...opts, sourceType: 'module', allowAwaitOutsideFunction: true });
  } catch {
    ast = parse(text, { ...opts, sourceType: 'script' });
  }
  const imports: Found[] = [];
  let dynamic = 0;
  const source = (n: { source?: unknown }) => {
    const s = n.source as { type?: string; value?: unknown } | null | undefined;
    if (s?.type === 'Literal' && typeof s.value === 'string') imports.push({ spec: s.value, kind: 'import' });
  };
  ancestor(ast, {
    ImportDeclaration: (n) => source(n as never),
    ExportNamedDeclaration: (n) => source(n as never),
    ExportAllDeclaration: (n) => source(n as never),
    ImportExpression: () => {
      dynamic++;
    },
    CallExpression: (n, _state, ancestors) => {
      const call = n as unknown as {
        callee: { type: string; name?: string };
        arguments: { type: string; value?: unknown }[];
      };
      if (call.callee.type !== 'Identifier' || call.callee.name !== 'require') return;
      const arg = call.arguments[0];
      if (call.arguments.length !== 1 || arg?.type !== 'Literal' || typeof arg.value !== 'string') {
        dynamic++;
        return;
      }
      // Inside `try { ... }`: the code is ready for it to be missing.
      if (
        ancestors.some(
          (a, i) =>
            a.type === 'TryStatement' && (a as unknown as { block: unknown }).block === ancestors[i + 1],
        )
      ) {
        dynamic++;
        return;
      }
      imports.push({ spec: arg.value, kind: 'require' });
    },
  });
  return { imports, dynamic };
}

const PARSED = /\.(c|m)?js$/;

/** The entry file of the command in the tree (node's main-module rules), else a DistillError. */
function entryPath(tree: TreeIndex, workdir: string, file: string, what: string): string {
  const path = posix.join(workdir, file).replace(/^\/+/, '');
  const found = requireFile(tree, path);
  if (found !== undefined) return found;
  throw new DistillError(
    'APP_ENTRY_MISSING',
    `${what} runs ${file}, but the image has no /${path} (nor .js, .json or /index.js): ${whatIsThere(tree, workdir)}; fix the build, or choose the file with --cmd FILE or "distill": {"cmd": [...]} in package.json`,
  );
}

function whatIsThere(tree: TreeIndex, workdir: string): string {
  const dir = workdir.replace(/^\/+/, '');
  const there = ['dist/main.js', 'dist/index.js', 'build/index.js', 'server.js', 'index.js'].filter((f) =>
    tree.nodes.has(`${dir}/${f}`),
  );
  return there.length > 0
    ? `the image has ${there.join(', ')}`
    : `none of dist/main.js, dist/index.js, build/index.js, server.js, index.js is in ${workdir}`;
}

/**
 * Checks the command of an image against its tree: `args` for node (after the bin's file when
 * `binPath` is given, relative to the workdir), run in `workdir`. Throws APP_ENTRY_MISSING or
 * APP_IMPORT_MISSING naming what is missing and where it was imported.
 */
export function smokeCheck(
  tree: TreeIndex,
  cmd: { args: readonly string[]; binPath?: string; from: string },
  workdir: string,
): SmokeReport {
  const what = `the command (${cmd.from})`;
  const entries: string[] = [];
  if (cmd.binPath !== undefined) {
    entries.push(entryPath(tree, workdir, cmd.binPath, what));
    // A bin's arguments that name a script (react-router-serve ./build/server/index.js) load too.
    for (const a of cmd.args)
      if (!a.startsWith('-') && PARSED.test(a)) entries.push(entryPath(tree, workdir, a, what));
  } else {
    const file = entryOf(cmd.args);
    if (file !== undefined) entries.push(entryPath(tree, workdir, file, what));
  }
  const report: SmokeReport = { parsed: 0, notFollowed: 0, notes: [] };
  const missing: string[] = [];
  const queue = [...new Set(entries)];
  const seen = new Set(queue);
  while (queue.length > 0) {
    const file = queue.shift()!;
    const text = tree.sources.get(file);
    if (text === undefined) {
      if (!file.split('/').includes('node_modules') && !/\.(json|node)$/.test(file)) {
        report.notes.push(`/${file} not parsed (${tree.skipped.has(file) ? 'too big' : 'not kept'})`);
      }
      continue;
    }
    if (report.parsed >= MAX_FILES) {
      report.notes.push(`stopped after ${MAX_FILES} files; the rest is not checked`);
      break;
    }
    let found: ReturnType<typeof staticImports>;
    try {
      found = staticImports(text);
    } catch (err) {
      report.notes.push(`/${file} not parsed: ${(err as Error).message}`);
      continue;
    }
    report.parsed++;
    report.notFollowed += found.dynamic;
    for (const imp of found.imports) {
      const r: Resolution = resolveImport(tree, imp.spec, file, imp.kind);
      if ('missing' in r)
        missing.push(
          `/${file}: ${imp.kind === 'require' ? `require('${imp.spec}')` : `import '${imp.spec}'`}: ${r.missing}`,
        );
      else if ('found' in r && !r.inNodeModules && !seen.has(r.found)) {
        seen.add(r.found);
        queue.push(r.found);
      }
    }
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 20);
    throw new DistillError(
      'APP_IMPORT_MISSING',
      `the image would fail at start: ${missing.length} module${missing.length === 1 ? '' : 's'} that ${what} loads ${missing.length === 1 ? 'is' : 'are'} not in it:\n  ${shown.join('\n  ')}${missing.length > shown.length ? `\n  ... and ${missing.length - shown.length} more` : ''}\nA package must be in "dependencies" (the image has production dependencies only); a file must be made by the build script and not left out by .dockerignore or .distillignore`,
    );
  }
  return report;
}

/**
 * The smoke check of an app image's two layers: node_modules (its index remembered by digest)
 * and the app (read every build), in image order.
 */
export async function checkLayers(
  store: Store,
  layers: { nodeModules: Layer; app: Layer; binPath?: string },
  plan: Pick<AppPlan, 'cmd' | 'workdir'>,
  step?: (message: string) => void,
): Promise<SmokeReport> {
  const tree = emptyIndex();
  await nodeModulesIndex(store, layers.nodeModules, tree);
  const { args, from, bin } = plan.cmd;
  // `next start`: the bin's own file is all the command loads of the app's tree; no source to keep.
  const sources = bin === undefined || args.some((a) => !a.startsWith('-') && PARSED.test(a));
  await indexLayer(layers.app, tree, { sources });
  const binPath = bin !== undefined ? layers.binPath : undefined;
  const r = smokeCheck(tree, { args, from, ...(binPath !== undefined && { binPath }) }, plan.workdir);
  step?.(
    `smoke check: the command's modules resolve in the image (${r.parsed} files parsed, ${r.notFollowed} dynamic imports not followed)${r.notes.length > 0 ? `; ${r.notes.slice(0, 3).join('; ')}` : ''}`,
  );
  return r;
}
