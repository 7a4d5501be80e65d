/**
 * The safe prune of node_modules (issue 17 point 3, decision 0021): the files of installed
 * packages that no Node program loads at run time, as rules kept in this one file, each with the
 * reason it is safe. They apply to the node_modules layer only, never to the app's own files,
 * and never to a file a package's `main`, `bin`, `exports` or `imports` names (prune.ts checks
 * that before a rule drops anything). Changing a rule changes what the node_modules layer holds:
 * bump PRUNE_RULES_VERSION, which is part of that layer's cache key.
 */
export const PRUNE_RULES_VERSION = 2;

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
  bench: 'benchmark-dirs',
  benchmark: 'benchmark-dirs',
  benchmarks: 'benchmark-dirs',
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
    drops: '*.ts, *.mts, *.cts, *.tsx sources (declarations are the rule above)',
    reason:
      'Node never loads them from node_modules: .ts is not among the extensions require() tries, and Node refuses to strip types under node_modules (older Nodes cannot run .ts at all); only a TypeScript loader in the production tree could (then this rule is off, see RUNTIME_COMPILER), and the compiled .js the package ships is what its exports and main name',
  },
  {
    id: 'test-files',
    drops: '*.test.* and *.spec.* (.js, .mjs, .cjs, .ts, .mts, .cts, .jsx, .tsx) anywhere in a package',
    reason:
      "test files by the naming of every test runner (node --test, Jest, Vitest, Mocha's spec files): run by the package's authors; the package's code does not require its own tests",
  },
  {
    id: 'native-sources',
    drops: 'C and C++ sources and headers (*.c, *.cc, *.cpp, *.cxx, *.h, *.hh, *.hpp, *.hxx)',
    reason:
      'compiled into the .node file by node-gyp during the install, which is over when the prune runs; at run time Node loads the .node file, never its sources (binding.gyp stays)',
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
    id: 'benchmark-dirs',
    drops: 'bench/, benchmark/ and benchmarks/ at the top of a package',
    reason: "the package's own performance scripts, run by its authors, not required by its code",
  },
  {
    id: 'tool-config',
    drops: `${TOOL_FILES.join(', ')} (and variants such as .eslintrc.json)`,
    reason: 'configuration of linters, formatters, editors, CI and npm publish, read by those tools only',
  },
];

/**
 * The one case where TypeScript's files are run-time input: a compiler or a TypeScript loader in
 * the production tree (ts-node, tsx, jiti, an app that compiles at run time) reads `lib.*.d.ts`
 * and the declarations of every package it type-checks against through the file system, and a
 * loader runs .ts files require() alone would not. When a package of `packages` is installed,
 * these rules are off for the whole tree.
 */
export const RUNTIME_COMPILER: { off: readonly string[]; packages: readonly string[]; reason: string } = {
  off: ['declarations', 'typescript-sources'],
  packages: [
    'typescript',
    'ts-node',
    'ts-node-dev',
    'tsx',
    'jiti',
    'esbuild-register',
    '@swc-node/register',
    '@esbuild-kit/cjs-loader',
    '@esbuild-kit/esm-loader',
    '@babel/register',
    'sucrase',
  ],
  reason:
    'a TypeScript compiler or loader is installed for production: a compiler at run time reads .d.ts files (its own lib.*.d.ts, and those of the packages it checks), and a loader may run .ts sources',
};

/**
 * Rules whose files Node cannot load whatever names them: a package's manifest pointing at a
 * `.ts` or `.d.ts` file (zod's `"@zod/source": "./src/index.ts"` condition, a mistaken `main`)
 * does not keep it, as Node refuses to strip types under node_modules and a declaration holds no
 * code. With a TypeScript compiler or loader installed, RUNTIME_COMPILER turns these rules off.
 */
export const UNLOADABLE_RULES: readonly string[] = ['declarations', 'typescript-sources'];

/** The rule that drops a directory at `path` (relative to its package root), if one does. */
export function dirRule(path: string): string | undefined {
  if (path.includes('/')) return undefined;
  return Object.hasOwn(TOP_DIRS, path) ? TOP_DIRS[path] : undefined;
}

const TEST_FILE = /\.(test|spec)\.[mc]?[jt]sx?$/;
const NATIVE_SOURCE = /\.(c|cc|cpp|cxx|h|hh|hpp|hxx)$/;

/** The rule that drops the file `name` of a package, if one does. */
export function fileRule(name: string): string | undefined {
  if (LEGAL.test(name)) return undefined;
  const lower = name.toLowerCase();
  if (lower.endsWith('.md') || lower.endsWith('.markdown')) return 'markdown';
  if (/\.d\.[mc]?ts$/.test(name)) return 'declarations';
  if (name.endsWith('.map')) return 'source-maps';
  if (TEST_FILE.test(name)) return 'test-files';
  if (/\.([mc]?ts|tsx)$/.test(name)) return 'typescript-sources';
  if (NATIVE_SOURCE.test(name)) return 'native-sources';
  if (name.startsWith('.') && TOOL_FILES.some((t) => name === t || name.startsWith(`${t}.`))) {
    return 'tool-config';
  }
  return undefined;
}
