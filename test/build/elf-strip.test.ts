import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bufferSource, readElf } from '../../src/build/app/elf.js';
import { planStrip, stripElfBuffer, stripStream } from '../../src/build/app/elf-strip.js';
import { isDistillError } from '../../src/errors.js';
import { requireComponents } from '../helpers/components.js';

/**
 * The ELF64 strip (build/app/elf-strip.ts) against Debian's binutils: the sections it keeps are
 * the ones `strip -s` keeps, `readelf` reads the result without a complaint, the program headers
 * are untouched, and the stripped program runs. Big-endian on a file built here byte by byte.
 */

const readelf = (...args: string[]) => execFileSync('readelf', ['-W', ...args], { encoding: 'utf8' });

/** Section names in order, from `readelf -S`. */
function sectionNames(file: string): string[] {
  return [...readelf('-S', file).matchAll(/^\s*\[\s*\d+\]\s+(\S*)\s+[A-Z_]+\s/gm)].map((m) => m[1]!);
}

function stderrOf(...args: string[]): string {
  return execFileSync('sh', ['-c', 'readelf -W "$@" 2>&1 >/dev/null', 'sh', ...args], { encoding: 'utf8' });
}

test('stripping programs gcc made, checked against binutils', async (t) => {
  if (!requireComponents(t, 'gcc', 'strip', 'readelf')) return;
  const dir = await mkdtemp(join(tmpdir(), 'distill-strip-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const p = (name: string) => join(dir, name);
  await writeFile(
    p('hello.c'),
    '#include <stdio.h>\nstatic int twice(int x) { return 2 * x; }\nint main(void) { printf("hello %d\\n", twice(21)); return 0; }\n',
  );
  execFileSync('gcc', ['-g', '-O1', '-o', p('debug'), p('hello.c')]);
  execFileSync('gcc', ['-O1', '-o', p('plain'), p('hello.c')]);
  execFileSync('gcc', ['-g', '-shared', '-fPIC', '-o', p('lib.so'), p('hello.c')]);

  for (const name of ['debug', 'plain', 'lib.so']) {
    await t.test(`${name}: the sections strip -s keeps, readelf content, same program headers`, async () => {
      const input = await readFile(p(name));
      const { bytes, plan } = await stripElfBuffer(input, name);
      await writeFile(p(`${name}.ours`), bytes, { mode: 0o755 });
      execFileSync('strip', ['-s', '-o', p(`${name}.gnu`), p(name)]);
      const before = sectionNames(p(name));
      assert.ok(before.includes('.symtab'), 'gcc wrote a static symbol table');
      if (name !== 'plain') assert.ok(before.includes('.debug_info'), 'gcc -g wrote debug sections');
      assert.deepEqual(sectionNames(p(`${name}.ours`)), sectionNames(p(`${name}.gnu`)));
      assert.deepEqual(
        plan.removed.map((r) => r.name),
        before.filter((s) => !sectionNames(p(`${name}.gnu`)).includes(s)),
      );
      assert.equal(bytes.length, plan.size);
      assert.ok(bytes.length < input.length);
      assert.equal(stderrOf('-a', p(`${name}.ours`)), '', 'readelf has no complaint');
      const phdrs = (f: string) => readelf('-l', f).replace(/^Elf file type.*$/m, '');
      assert.equal(phdrs(p(`${name}.ours`)), phdrs(p(name)));
      assert.doesNotMatch(readelf('-s', p(`${name}.ours`)), /'\.symtab'/);
      assert.match(readelf('--dyn-syms', p(`${name}.ours`)), /'\.dynsym'/);
      assert.equal(readelf('-n', p(`${name}.ours`)), readelf('-n', p(name)), 'notes and build-id stay');
      const info = await readElf(bytes, name);
      assert.deepEqual(info, await readElf(input, name), 'the addon check reads the same facts');
    });
  }

  await t.test('the stripped programs run', () => {
    assert.equal(execFileSync(p('debug.ours'), { encoding: 'utf8' }), 'hello 42\n');
    assert.equal(execFileSync(p('plain.ours'), { encoding: 'utf8' }), 'hello 42\n');
  });

  await t.test('the same bytes again, and from a stream cut in odd pieces', async () => {
    const input = await readFile(p('debug'));
    const once = (await stripElfBuffer(input, 'debug')).bytes;
    assert.deepEqual((await stripElfBuffer(input, 'debug')).bytes, once);
    const plan = await planStrip(bufferSource(input), 'debug');
    const pieces = (async function* () {
      for (let o = 0; o < input.length; o += 7) yield input.subarray(o, o + 7);
    })();
    const out: Buffer[] = [];
    for await (const b of stripStream(plan, pieces)) out.push(b);
    assert.deepEqual(Buffer.concat(out), once);
  });

  await t.test('a stripped file is given back as it is', async () => {
    const gnu = await readFile(p('debug.gnu'));
    const { bytes, plan } = await stripElfBuffer(gnu, 'debug.gnu');
    assert.deepEqual(plan.removed, []);
    assert.deepEqual(bytes, gnu);
  });

  await t.test('an object file, a cut file and a non-ELF file are refused', async () => {
    execFileSync('gcc', ['-c', '-g', '-o', p('hello.o'), p('hello.c')]);
    const refused = async (bytes: Buffer, what: RegExp) =>
      assert.rejects(
        stripElfBuffer(bytes, 'f'),
        (e) => isDistillError(e, 'ELF_INVALID') && what.test(e.message),
      );
    await refused(await readFile(p('hello.o')), /^f cannot be stripped: its type is 1, not an executable/);
    const debug = await readFile(p('debug'));
    await refused(debug.subarray(0, debug.length - 100), /section headers past the end of the file/);
    await refused(Buffer.from('#!/bin/sh\necho hi\n'), /no ELF magic/);
    const elf32 = Buffer.from(debug);
    elf32[4] = 1;
    await refused(elf32, /32-bit/);
    // A section that claims bytes past the end of the file.
    const bad = Buffer.from(debug);
    const shoff = Number(bad.readBigUInt64LE(40));
    bad.writeBigUInt64LE(BigInt(debug.length), shoff + 64 + 24);
    await refused(bad, /runs past the end of the file/);
  });
});

/**
 * A minimal ELF64 executable in either byte order: one PT_LOAD over .text, a .debug_info, a
 * .symtab linked to .strtab, a .comment and .shstrtab. s390x (e_machine 22) when big-endian.
 */
function tinyElf(le: boolean): Buffer {
  const names = ['', '.text', '.debug_info', '.symtab', '.strtab', '.comment', '.shstrtab'];
  const shstr = Buffer.from(`${names.join('\0')}\0`, 'latin1');
  const nameOff = (n: string) => shstr.indexOf(Buffer.from(`${n}\0`, 'latin1'), n === '' ? 0 : 1);
  const text = Buffer.alloc(16, 0x07);
  const debug = Buffer.alloc(40, 0xdd);
  const symtab = Buffer.alloc(48); // two Elf64_Sym, the first null
  const strtab = Buffer.from('\0main\0', 'latin1');
  const comment = Buffer.from('GCC: test\0', 'latin1');
  const bodies = [text, debug, symtab, strtab, comment, shstr];
  const w16 = (b: Buffer, o: number, v: number) => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  const w32 = (b: Buffer, o: number, v: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  const w64 = (b: Buffer, o: number, v: number) =>
    le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o);
  let at = 64 + 56;
  const offsets = bodies.map((b) => {
    at = Math.ceil(at / 8) * 8;
    const o = at;
    at += b.length;
    return o;
  });
  const shoff = Math.ceil(at / 8) * 8;
  const f = Buffer.alloc(shoff + names.length * 64);
  f.set([0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1], 0);
  w16(f, 16, 2); // ET_EXEC
  w16(f, 18, le ? 62 : 22);
  w32(f, 20, 1);
  w64(f, 24, 0x10000 + offsets[0]!);
  w64(f, 32, 64);
  w64(f, 40, shoff);
  w16(f, 52, 64);
  w16(f, 54, 56);
  w16(f, 56, 1);
  w16(f, 58, 64);
  w16(f, 60, names.length);
  w16(f, 62, names.length - 1);
  w32(f, 64, 1); // PT_LOAD, R+X, over the headers and .text
  w32(f, 68, 5);
  w64(f, 64 + 16, 0x10000);
  w64(f, 64 + 24, 0x10000);
  w64(f, 64 + 32, offsets[0]! + text.length);
  w64(f, 64 + 40, offsets[0]! + text.length);
  w64(f, 64 + 48, 0x1000);
  symtab.set(le ? [1, 0, 0, 0] : [0, 0, 0, 1], 24); // st_name "main"
  for (const [i, b] of bodies.entries()) b.copy(f, offsets[i]!);
  // type, flags, addr, link, info, align, entsize per section after the null one
  const spec: [number, number, number, number, number, number, number][] = [
    [1, 6, 0x10000 + offsets[0]!, 0, 0, 8, 0],
    [1, 0, 0, 0, 0, 1, 0],
    [2, 0, 0, 4, 1, 8, 24],
    [3, 0, 0, 0, 0, 1, 0],
    [1, 0x30, 0, 0, 0, 1, 1],
    [3, 0, 0, 0, 0, 1, 0],
  ];
  spec.forEach(([type, flags, addr, link, info, align, entsize], i) => {
    const o = shoff + (i + 1) * 64;
    w32(f, o, nameOff(names[i + 1]!));
    w32(f, o + 4, type);
    w64(f, o + 8, flags);
    w64(f, o + 16, addr);
    w64(f, o + 24, offsets[i]!);
    w64(f, o + 32, bodies[i]!.length);
    w32(f, o + 40, link);
    w32(f, o + 44, info);
    w64(f, o + 48, align);
    w64(f, o + 56, entsize);
  });
  return f;
}

test('big- and little-endian files built byte by byte', async (t) => {
  for (const le of [true, false]) {
    await t.test(le ? 'little-endian x86-64' : 'big-endian s390x', async (t) => {
      const input = tinyElf(le);
      const { bytes, plan } = await stripElfBuffer(input, 'tiny');
      assert.deepEqual(
        plan.removed.map((r) => r.name),
        ['.debug_info', '.symtab', '.strtab'],
      );
      const u16 = (o: number) => (le ? bytes.readUInt16LE(o) : bytes.readUInt16BE(o));
      assert.equal(u16(60), 4, 'null, .text, .comment, .shstrtab');
      assert.equal(u16(62), 3);
      assert.deepEqual(
        bytes.subarray(0, 40),
        input.subarray(0, 40),
        'the header before e_shoff is untouched',
      );
      assert.deepEqual(bytes.subarray(64, 120), input.subarray(64, 120), 'the program header is untouched');
      assert.equal((await readElf(bytes, 'tiny')).endian, le ? 'little' : 'big');
      if (!requireComponents(t, 'readelf')) return;
      const dir = await mkdtemp(join(tmpdir(), 'distill-strip-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      await writeFile(join(dir, 'in'), input);
      await writeFile(join(dir, 'out'), bytes);
      assert.deepEqual(sectionNames(join(dir, 'in')), [
        '',
        '.text',
        '.debug_info',
        '.symtab',
        '.strtab',
        '.comment',
        '.shstrtab',
      ]);
      assert.deepEqual(sectionNames(join(dir, 'out')), ['', '.text', '.comment', '.shstrtab']);
      assert.equal(stderrOf('-a', join(dir, 'out')), '');
      assert.match(readelf('-x', '.comment', join(dir, 'out')), /GCC: test/);
      assert.match(readelf('-h', join(dir, 'out')), le ? /little endian/ : /big endian/);
    });
  }
});
