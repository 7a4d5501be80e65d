/**
 * The safe prune of node_modules (issue 17 point 3, decision 0021): the files of installed
 * packages that no Node program loads at run time, as rules kept in this one file, each with the
 * reason it is safe. They apply to the node_modules layer only, never to the app's own files,
 * and never to a file a package's `main`, `bin`, `exports` or `imports` names (prune.ts checks
 * that before a rule drops anything). Changing a rule changes what the node_modules layer holds:
 * bump PRUNE_RULES_VERSION, which is part of that layer's cache key.
 */
export const PRUNE_RULES_VERSION = 1;

export interface PruneRule {
  /** A stable name, used in the plan and in the build's counts. */
  id: string;
  /** What it drops, in words (the plan shows it). */
  drops: string;
  /** Why no Node program misses it at run time. */
  reason: string;
}

/** Names of licence and notice files, whatever their extension: kept whatever else matches. */
const LEGAL = /^(licen[cs]e|notice|copying|copyright|authors|patents|third[-_.]?party)/i;

/** Whether `name` is a licence or notice file (kept by the prune, and by --trace for every package that keeps a file). */
export function isLegal(name: string): boolean {
  return LEGAL.test(name);
}

/** Directory names dropped at the top of a package (only there: deeper, a name like `doc` may be code). */
const TOP_DIRS: Record<string, string> = {
  test: 'test-dirs',
  tests: 'test-dirs',
  __tests__: 'test-dirs',
  '.github': 'github',
  example: 'example-dirs',
  examples: 'example-dirs',
  doc: 'doc-dirs',
  docs: 'doc-dirs',
  coverage: 'coverage',
  '.nyc_output': 'coverage',
};

/** Dotfiles of development tools, by exact name or prefix (`.eslintrc.json`). */
const TOOL_FILES = [
  '.eslintrc',
  '.eslintignore',
  '.prettierrc',
  '.prettierignore',
  '.editorconfig',
  '.travis.yml',
  '.npmignore',
  '.gitattributes',
  '.nycrc',
  '.jshintrc',
];

export const PRUNE_RULES: readonly PruneRule[] = [
  {
    id: 'markdown',
    drops: '*.md, *.markdown (READMEs, changelogs, contributing guides), but licences and notices',
    reason:
      'documentation for people: require() and import load .js, .mjs, .cjs, .json and .node files, never Markdown; licence and notice files stay (their terms ask for them)',
  },
  {
    id: 'declarations',
    drops: '*.d.ts, *.d.mts, *.d.cts',
    reason:
      'type declarations are read by the TypeScript compiler only; Node cannot run them (they hold no code), and the "types" condition of exports is never one Node resolves',
  },
  {
    id: 'source-maps',
    drops: '*.map',
    reason:
      'read only to rewrite stack traces (node --enable-source-maps, source-map-support); without them a dependency frame shows the position in the shipped .js, which is what runs',
  },
  {
    id: 'typescript-sources',
    drops: '*.ts beside a .js of the same name (*.mts beside .mjs, *.cts beside .cjs)',
    reason:
      'the compiled .js beside it is what resolution finds (.ts is not among the extensions require() tries), and Node refuses to strip types under node_modules',
  },
  {
    id: 'test-dirs',
    drops: 'test/, tests/ and __tests__/ at the top of a package',
    reason: "a package's own tests, run by its authors; the package's code does not require them",
  },
  {
    id: 'github',
    drops: '.github/ at the top of a package',
    reason: 'GitHub workflows, issue templates and funding files, read by GitHub only',
  },
  {
    id: 'example-dirs',
    drops: 'example/ and examples/ at the top of a package',
    reason: 'sample programs that use the package, not part of it',
  },
  {
    id: 'doc-dirs',
    drops: 'doc/ and docs/ at the top of a package',
    reason: 'documentation, not loaded by the package',
  },
  {
    id: 'coverage',
    drops: 'coverage/ and .nyc_output/ at the top of a package',
    reason: 'test coverage reports left in a published package; nothing reads them but a person',
  },
  {
    id: 'tool-config',
    drops: `${TOOL_FILES.join(', ')} (and variants such as .eslintrc.json)`,
    reason: 'configuration of linters, formatters, editors, CI and npm publish, read by those tools only',
  },
];

/**
 * The one case where TypeScript's files are run-time input: the compiler itself in the production
 * tree (ts-node, tsx with type checks, an app that compiles at run time) reads `lib.*.d.ts` and the
 * declarations of every package it type-checks against, through the file system, not require().
 * When a package named `typescript` is installed, these rules are off for the whole tree.
 */
export const RUNTIME_COMPILER: { off: readonly string[]; reason: string } = {
  off: ['declarations', 'typescript-sources'],
  reason:
    'a package named typescript is installed for production: a compiler at run time reads .d.ts files (its own lib.*.d.ts, and those of the packages it checks) and may read .ts sources',
};

/** The rule that drops a directory at `path` (relative to its package root), if one does. */
export function dirRule(path: string): string | undefined {
  if (path.includes('/')) return undefined;
  return Object.hasOwn(TOP_DIRS, path) ? TOP_DIRS[path] : undefined;
}

const TS_TWIN: Record<string, string> = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs' };

/**
 * The rule that drops the file `name` of a directory of a package, if one does; `siblings` are
 * the names in that directory (for a .ts beside its .js).
 */
export function fileRule(name: string, siblings: ReadonlySet<string>): string | undefined {
  if (LEGAL.test(name)) return undefined;
  const lower = name.toLowerCase();
  if (lower.endsWith('.md') || lower.endsWith('.markdown')) return 'markdown';
  if (/\.d\.[mc]?ts$/.test(name)) return 'declarations';
  if (name.endsWith('.map')) return 'source-maps';
  const ext = /\.[mc]?ts$/.exec(name)?.[0];
  if (ext !== undefined && siblings.has(name.slice(0, -ext.length) + TS_TWIN[ext])) {
    return 'typescript-sources';
  }
  if (name.startsWith('.') && TOOL_FILES.some((t) => name === t || name.startsWith(`${t}.`))) {
    return 'tool-config';
  }
  return undefined;
}
