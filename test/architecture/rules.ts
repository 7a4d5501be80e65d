import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import type * as TS from 'typescript';

/**
 * The architecture's contract, checked on the sources (docs/ARCHITECTURE.md explains it):
 * which folder may import which, no import cycles between folders, no file over FILE_LINES
 * lines and no function over FUNCTION_LINES, process state only in cli/, and debian/ pure.
 * The checks are plain functions of a list of files so that a test can feed them a tree that
 * breaks each rule and see it caught.
 */
const ts = createRequire(import.meta.url)('typescript') as typeof TS;

export const FILE_LINES = 400;
export const FUNCTION_LINES = 80;

/** Every folder and root module of the library: what the public index and the CLI may import. */
const LIBRARY = [
  'oci',
  'ref',
  'store',
  'debian',
  'layers',
  'media',
  'sources',
  'plan',
  'inspect',
  'build',
  'cache',
  'sbom',
  'attest',
  'sign',
  'debug',
];

/**
 * Who may import whom: folder (or root module) -> the folders it may import. A folder may
 * always import its own files. cli/ and the public index may import the whole library.
 */
export const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  host: ['oci', 'errors'],
  'package-root': ['errors', 'host'],
  oci: ['errors'],
  ref: ['oci', 'errors', 'host'],
  store: ['oci', 'errors', 'host'],
  debian: ['oci', 'errors'],
  layers: ['oci', 'store', 'errors', 'host'],
  media: ['oci', 'ref', 'store', 'layers', 'errors', 'host'],
  sources: ['debian', 'oci', 'store', 'layers', 'errors', 'package-root', 'host'],
  plan: ['debian', 'sources', 'layers', 'oci', 'ref', 'store', 'errors', 'host'],
  inspect: ['oci', 'ref', 'media', 'layers', 'debian', 'sources', 'store', 'errors', 'host'],
  sbom: ['oci', 'debian', 'plan', 'inspect', 'errors', 'host'],
  sign: ['oci', 'ref', 'media', 'errors', 'host'],
  // attest: in-toto and SLSA provenance from plans, attached through media's referrers.
  attest: ['plan', 'oci', 'media', 'errors', 'host'],
  build: [
    'plan',
    'sources',
    'layers',
    'oci',
    'ref',
    'media',
    'store',
    'debian',
    'inspect',
    'attest',
    'sbom',
    'errors',
    'host',
    'package-root',
  ],
  cache: ['oci', 'ref', 'media', 'store', 'errors', 'host'],
  debug: ['build', 'plan', 'sources', 'media', 'oci', 'ref', 'store', 'layers', 'errors', 'host'],
  index: [...LIBRARY, 'errors', 'host'],
  cli: [...LIBRARY, 'errors', 'host', 'package-root', 'index'],
};

/**
 * Files outside debian/ that debian/ may import: the tar reader and decompression it reads .deb
 * members with. They are held to debian/'s purity too (and so is what they import).
 */
export const PURE_SHARED: readonly string[] = [
  'layers/compression.ts',
  'layers/tar-header.ts',
  'layers/tar-reader.ts',
];

export interface SourceFile {
  /** Relative to src/, with forward slashes: media/layout/read.ts */
  path: string;
  text: string;
}

export interface Violation {
  rule: 'import' | 'unknown-folder' | 'cycle' | 'file-size' | 'function-size' | 'process' | 'debian-io';
  where: string;
  detail: string;
}

export function area(path: string): string {
  return path.includes('/') ? path.slice(0, path.indexOf('/')) : path.replace(/\.ts$/, '');
}

export interface Import {
  /** Resolved, relative to src/. */
  path: string;
  /** `import type` / `export type`: gone at run time. */
  typeOnly: boolean;
  /** `import('...')`: loaded when called, not when the importer loads. */
  dynamic: boolean;
}

/** Relative imports of a file (static, type-only, dynamic and re-exports), resolved under src/. */
export function importsOf(file: SourceFile): Import[] {
  const out: Import[] = [];
  const re =
    /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\bfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of file.text.matchAll(re)) {
    const spec = (m[3] ?? m[4])!;
    const path = relative('/src', resolve(dirname(join('/src', file.path)), spec)).replace(/\.js$/, '.ts');
    out.push({ path, typeOnly: m[2] !== undefined, dynamic: m[4] !== undefined });
  }
  return out;
}

export function importViolations(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const from = area(f.path);
    const allowed = ALLOWED[from];
    if (allowed === undefined) {
      out.push({ rule: 'unknown-folder', where: f.path, detail: `${from} is not in the table` });
      continue;
    }
    for (const imp of importsOf(f)) {
      const to = area(imp.path);
      if (from === 'debian' && PURE_SHARED.includes(imp.path)) continue;
      if (to !== from && !allowed.includes(to)) {
        out.push({ rule: 'import', where: f.path, detail: `${from} may not import ${to} (${imp.path})` });
      }
    }
  }
  return out;
}

/** Each cycle of a directed graph once, as the chain of its nodes. */
function cycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found = new Map<string, string[]>();
  const visit = (p: string): void => {
    state.set(p, 'open');
    stack.push(p);
    for (const q of edges.get(p) ?? []) {
      if (state.get(q) === 'open') {
        const chain = [...stack.slice(stack.indexOf(q)), q];
        found.set([...chain.slice(1)].sort().join('|'), chain);
      } else if (!state.has(q)) visit(q);
    }
    stack.pop();
    state.set(p, 'done');
  };
  for (const p of edges.keys()) if (!state.has(p)) visit(p);
  return [...found.values()];
}

/**
 * No cycle between folders (over every import, types included: a folder's role may not depend
 * on a folder that depends on it), and none between files over the imports that run when a
 * module loads (static, not type-only): such a cycle makes load order matter.
 */
export function cycleViolations(files: readonly SourceFile[]): Violation[] {
  const folders = new Map<string, Set<string>>();
  const modules = new Map<string, string[]>();
  const known = new Set(files.map((f) => f.path));
  for (const f of files) {
    const imports = importsOf(f);
    const from = area(f.path);
    const set = folders.get(from) ?? new Set<string>();
    for (const i of imports) if (area(i.path) !== from) set.add(area(i.path));
    folders.set(from, set);
    modules.set(
      f.path,
      imports.filter((i) => !i.typeOnly && !i.dynamic && known.has(i.path)).map((i) => i.path),
    );
  }
  const folderEdges = new Map([...folders].map(([k, v]) => [k, [...v]] as const));
  return [
    ...cycles(folderEdges).map((c) => ({
      rule: 'cycle' as const,
      where: c[0]!,
      detail: `folders: ${c.join(' -> ')}`,
    })),
    ...cycles(modules).map((c) => ({
      rule: 'cycle' as const,
      where: c[0]!,
      detail: `modules: ${c.join(' -> ')}`,
    })),
  ];
}

export function sizeViolations(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const lines = f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0);
    if (lines > FILE_LINES) {
      out.push({ rule: 'file-size', where: f.path, detail: `${lines} lines (budget ${FILE_LINES})` });
    }
    const sf = ts.createSourceFile(f.path, f.text, ts.ScriptTarget.Latest, true);
    const visit = (n: TS.Node): void => {
      if (ts.isFunctionLike(n) && (n as TS.FunctionLikeDeclaration).body !== undefined) {
        const start = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
        const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
        const span = end - start + 1;
        if (span > FUNCTION_LINES) {
          const name = (n as TS.FunctionLikeDeclaration).name?.getText(sf) ?? '(anonymous)';
          out.push({
            rule: 'function-size',
            where: `${f.path}:${start + 1}`,
            detail: `${name} is ${span} lines (budget ${FUNCTION_LINES})`,
          });
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

/** Modules outside cli/ that may read the process: the host's facts and its child groups. */
export const PROCESS_MODULES: readonly string[] = ['host.ts'];

/**
 * `process.anything` or `console.anything` in code (comments and strings do not count) outside
 * cli/ and PROCESS_MODULES: only the CLI touches process state.
 */
export function processViolations(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    if (area(f.path) === 'cli' || PROCESS_MODULES.includes(f.path)) continue;
    const sf = ts.createSourceFile(f.path, f.text, ts.ScriptTarget.Latest, true);
    const visit = (n: TS.Node): void => {
      if (
        ts.isPropertyAccessExpression(n) &&
        ts.isIdentifier(n.expression) &&
        (n.expression.text === 'process' || n.expression.text === 'console')
      ) {
        const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
        out.push({ rule: 'process', where: `${f.path}:${line}`, detail: n.getText(sf) });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}

/** What debian/ may import from outside src/: computing and decompressing, no file or network I/O. */
export const DEBIAN_PACKAGES: readonly string[] = [
  'node:crypto',
  'node:stream',
  'node:stream/promises',
  'node:zlib',
  'fzstd',
  'tar-stream',
  'xz-decompress',
];

/** debian/'s files and every file they reach through imports (PURE_SHARED and beyond). */
function pureFiles(files: readonly SourceFile[]): SourceFile[] {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const reached = new Set(files.filter((f) => area(f.path) === 'debian').map((f) => f.path));
  const todo = [...reached];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    for (const i of importsOf(byPath.get(p)!)) {
      if (!reached.has(i.path) && byPath.has(i.path)) {
        reached.add(i.path);
        todo.push(i.path);
      }
    }
  }
  return files.filter((f) => reached.has(f.path));
}

export function debianViolations(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of pureFiles(files)) {
    const re = /(?:^|\n)\s*(?:import|export)\s+(type\s+)?[^;]*?\bfrom\s+['"]([^'"]+)['"]/g;
    for (const m of f.text.matchAll(re)) {
      const spec = m[2]!;
      if (m[1] === undefined && !spec.startsWith('.') && !DEBIAN_PACKAGES.includes(spec)) {
        out.push({ rule: 'debian-io', where: f.path, detail: `debian/ is pure: it may not import ${spec}` });
      }
    }
    // A lazy import of a package the pure code may use (xz-decompress, loaded on the first xz
    // stream) is allowed; any other dynamic import or require is not.
    for (const m of f.text.matchAll(/(?<![.\w])(?:import|require)\(\s*(['"`])([^'"`]*)/g)) {
      if (!DEBIAN_PACKAGES.includes(m[2]!)) {
        out.push({
          rule: 'debian-io',
          where: f.path,
          detail: 'debian/ is pure: no dynamic import or require',
        });
      }
    }
  }
  return out;
}

export function checkArchitecture(files: readonly SourceFile[]): Violation[] {
  return [
    ...importViolations(files),
    ...cycleViolations(files),
    ...sizeViolations(files),
    ...processViolations(files),
    ...debianViolations(files),
  ];
}

export function readSources(root: string): SourceFile[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  return walk(root)
    .sort()
    .map((f) => ({ path: relative(root, f).split('\\').join('/'), text: readFileSync(f, 'utf8') }));
}
