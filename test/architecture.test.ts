import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ALLOWED,
  checkArchitecture,
  FILE_LINES,
  FUNCTION_LINES,
  readSources,
  type SourceFile,
  type Violation,
} from './architecture/rules.js';

/**
 * The architecture's contract (docs/ARCHITECTURE.md): the folder dependency table, no cycles, the
 * file and function size budgets, process state only in cli/, debian/ pure. The rules are run on
 * src/ as it is, and on small made-up trees that break each one, so a rule that stopped catching
 * anything would fail here too.
 */
const SRC = fileURLToPath(new URL('../src', import.meta.url));

const key = (v: Violation) => `${v.rule} ${v.where}`;
const show = (vs: Violation[]) => vs.map((v) => `${key(v)}: ${v.detail}`);

test('src/ keeps the contract: allowed imports, no cycles, size budgets, process state in cli/', () => {
  assert.deepEqual(show(checkArchitecture(readSources(SRC))), []);
});

test('every folder of src/ has a row in the table, and the table names only real folders', () => {
  const areas = new Set(
    readSources(SRC).map((f) => (f.path.includes('/') ? f.path.split('/')[0]! : f.path.replace(/\.ts$/, ''))),
  );
  assert.deepEqual(
    [...areas].filter((a) => !(a in ALLOWED)),
    [],
  );
  assert.deepEqual(
    Object.keys(ALLOWED).filter((a) => !areas.has(a)),
    [],
  );
});

/** A file of `lines` lines, with a function of `fnLines` lines in it. */
function sized(path: string, lines: number, fnLines = 3): SourceFile {
  const body = Array.from({ length: Math.max(1, fnLines - 2) }, (_, i) => `  const x${i} = ${i};`);
  const fn = ['export function f(): void {', ...body, '}'];
  const pad = Array.from({ length: Math.max(0, lines - fn.length) }, (_, i) => `export const p${i} = ${i};`);
  return { path, text: `${[...fn, ...pad].join('\n')}\n` };
}

describe('each rule catches a tree that breaks it', () => {
  const rules = (files: SourceFile[]) => checkArchitecture(files).map((v) => v.rule);

  test('a folder importing one its row does not allow', () => {
    const tree = [
      { path: 'layers/read.ts', text: "import { run } from '../cli/run.js';\n" },
      { path: 'cli/run.ts', text: 'export const run = 1;\n' },
    ];
    assert.deepEqual(rules(tree), ['import']);
    // A dynamic import and an `export ... from` count as much as a static import.
    assert.deepEqual(rules([{ path: 'oci/x.ts', text: "const m = await import('../media/index.js');\n" }]), [
      'import',
    ]);
    assert.deepEqual(rules([{ path: 'media/x.ts', text: "export { a } from '../build/app/app.js';\n" }]), [
      'import',
    ]);
  });

  test('a folder the table does not know', () => {
    assert.deepEqual(rules([{ path: 'extras/x.ts', text: 'export const x = 1;\n' }]), ['unknown-folder']);
  });

  test('a cycle between folders, and one between modules that load each other', () => {
    const folders = checkArchitecture([
      { path: 'media/a.ts', text: "import type { B } from '../store/b.js';\n" },
      { path: 'store/b.ts', text: "import type { A } from '../media/a.js';\n" },
    ]);
    // store may not import media (the table), and the two folders form a cycle.
    assert.ok(
      folders.some((v) => v.rule === 'cycle' && v.detail.startsWith('folders:')),
      show(folders).join('\n'),
    );
    const modules = checkArchitecture([
      { path: 'inspect/a.ts', text: "import { b } from './b.js';\nexport const a = 1;\n" },
      { path: 'inspect/b.ts', text: "import { a } from './a.js';\nexport const b = 2;\n" },
    ]);
    assert.deepEqual(
      show(modules).map((s) => s.split(':')[0]),
      ['cycle inspect/a.ts'],
    );
    // Type-only and dynamic imports do not load a module: no cycle.
    const typeOnly = [
      { path: 'inspect/a.ts', text: "import type { B } from './b.js';\nexport const a = 1;\n" },
      {
        path: 'inspect/b.ts',
        text: "import { a } from './a.js';\nexport const b = () => import('./a.js');\n",
      },
    ];
    assert.deepEqual(rules(typeOnly), []);
  });

  test(`a file over ${FILE_LINES} lines and a function over ${FUNCTION_LINES}`, () => {
    assert.deepEqual(rules([sized('oci/big.ts', FILE_LINES)]), []);
    assert.deepEqual(rules([sized('oci/big.ts', FILE_LINES + 1)]), ['file-size']);
    assert.deepEqual(rules([sized('oci/long.ts', 100, FUNCTION_LINES)]), []);
    assert.deepEqual(rules([sized('oci/long.ts', 100, FUNCTION_LINES + 1)]), ['function-size']);
    // Methods and arrow functions count as functions.
    const arrow = `export const g = () => {\n${'  void 0;\n'.repeat(FUNCTION_LINES)}};\n`;
    assert.deepEqual(rules([{ path: 'oci/arrow.ts', text: arrow }]), ['function-size']);
  });

  test('process state outside cli/ and host.ts', () => {
    assert.deepEqual(rules([{ path: 'build/x.ts', text: "process.on('SIGINT', () => {});\n" }]), ['process']);
    assert.deepEqual(rules([{ path: 'store/x.ts', text: 'export const e = process.env.HOME;\n' }]), [
      'process',
    ]);
    assert.deepEqual(rules([{ path: 'media/x.ts', text: "console.log('x');\n" }]), ['process']);
    // In cli/, in host.ts, and in comments or strings it is fine.
    assert.deepEqual(rules([{ path: 'cli/x.ts', text: 'process.exitCode = 1;\n' }]), []);
    assert.deepEqual(rules([{ path: 'host.ts', text: 'export const p = process.pid;\n' }]), []);
    assert.deepEqual(
      rules([{ path: 'oci/x.ts', text: "// process.exit\nexport const s = 'process.exit';\n" }]),
      [],
    );
  });

  test('debian/ with file, network or process modules, or a dynamic import', () => {
    assert.deepEqual(
      rules([{ path: 'debian/x.ts', text: "import { readFile } from 'node:fs/promises';\n" }]),
      ['debian-io'],
    );
    assert.deepEqual(rules([{ path: 'debian/x.ts', text: "import { request } from 'node:http';\n" }]), [
      'debian-io',
    ]);
    assert.deepEqual(rules([{ path: 'debian/x.ts', text: "const f = await import('node:fs');\n" }]), [
      'debian-io',
    ]);
    assert.deepEqual(rules([{ path: 'debian/x.ts', text: 'const r = require(`node:` + name);\n' }]), [
      'debian-io',
    ]);
    // a lazy import of a package debian/ may import statically is no I/O
    assert.deepEqual(
      rules([{ path: 'debian/x.ts', text: "const x = await import('xz-decompress');\n" }]),
      [],
    );
    assert.deepEqual(
      rules([{ path: 'debian/x.ts', text: "import { createGunzip } from 'node:zlib';\n" }]),
      [],
    );
  });
});
