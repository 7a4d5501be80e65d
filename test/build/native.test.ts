import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { slimOsAdvice } from '../../src/build/app/checks.js';
import { readElf } from '../../src/build/app/elf.js';
import {
  checkNativeFiles,
  debianPackageCandidates,
  findElfFiles,
  type NativeFile,
  type NativeTarget,
} from '../../src/build/app/native.js';
import { isDistillError } from '../../src/errors.js';
import { NODE_APP_UNUSED_LIBS } from '../../src/plan/variants.js';
import { requireComponents } from '../helpers/components.js';

/** A file in memory under an image path. */
function memFile(path: string, bytes: Buffer): NativeFile {
  return { path, size: bytes.length, read: async (o, l) => bytes.subarray(o, o + l) };
}

const NODE_ARCH: Record<string, string> = { amd64: 'x64', arm64: 'arm64' };

test('native addon check on shared objects made by gcc', async (t) => {
  if (!requireComponents(t, 'gcc')) return;
  const dir = await mkdtemp(join(tmpdir(), 'distill-native-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const gcc = (...args: string[]) => execFileSync('gcc', args, { cwd: dir, stdio: 'pipe' });
  const src = async (name: string, text: string) => writeFile(join(dir, name), text);
  const bytes = (name: string) => readFile(join(dir, name));

  await src('plain.c', '#include <string.h>\nsize_t len(const char *s) { return strlen(s); }\n');
  await src('dummy.c', 'int dummy(void) { return 1; }\n');
  gcc('-shared', '-fPIC', '-Wl,-soname,plain.node', '-o', 'plain.node', 'plain.c');
  const plain = await bytes('plain.node');
  const plainElf = await readElf(plain, 'plain.node');
  const arch = plainElf.machine.name;
  const libraries = new Map([
    ['libc.so.6', '/usr/lib/libc.so.6'],
    ['libm.so.6', '/usr/lib/libm.so.6'],
  ]);
  const target: NativeTarget = { arch, libraries, glibcVersion: '2.36' };
  const node = (name: string) => `app/node_modules/pkg/build/Release/${name}`;

  await t.test('a normal shared object passes; its header, needs and version needs are read', async () => {
    assert.equal(plainElf.class, 64);
    assert.equal(plainElf.endian, 'little');
    assert.equal(plainElf.type, 'DYN');
    assert.ok(['amd64', 'arm64'].includes(arch), arch);
    assert.ok(plainElf.needed.includes('libc.so.6'), plainElf.needed.join());
    assert.equal(plainElf.soname, 'plain.node');
    assert.equal(plainElf.interpreter, undefined);
    const libc = plainElf.versionNeeds.find((v) => v.file === 'libc.so.6');
    assert.ok(
      libc?.versions.some((v) => v.startsWith('GLIBC_2.')),
      JSON.stringify(plainElf.versionNeeds),
    );
    // The same through the random-access reader.
    assert.deepEqual(await readElf(memFile('plain.node', plain), 'plain.node'), plainElf);
    const host = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
    const glibcVersion = host.header.glibcVersionRuntime ?? '2.36';
    assert.deepEqual(
      await checkNativeFiles([memFile(node('plain.node'), plain)], { ...target, glibcVersion }),
      {
        problems: [],
        checked: 1,
      },
    );
  });

  await t.test('another architecture is named with the file and the fix', async () => {
    const other = Buffer.from(plain);
    other.writeUInt16LE(arch === 'arm64' ? 62 : 0xb7, 18);
    const otherArch = arch === 'arm64' ? 'amd64' : 'arm64';
    assert.equal((await readElf(other, 'x')).machine.name, otherArch);
    const r = await checkNativeFiles([memFile(node('other.node'), other)], target);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]!.kind, 'arch');
    assert.equal(r.problems[0]!.path, node('other.node'));
    assert.equal(
      r.problems[0]!.message,
      `${node('other.node')} is built for ${otherArch}, but the image is linux/${arch}; install the dependencies for linux/${arch} (delete the prebuilt file from the package, or use a version that ships linux-${NODE_ARCH[arch]} binaries)`,
    );
  });

  await t.test('a musl build is reported as such', async () => {
    const musl = `libc.musl-${arch === 'arm64' ? 'aarch64' : 'x86_64'}.so.1`;
    gcc('-shared', '-fPIC', `-Wl,-soname,${musl}`, '-o', musl, 'dummy.c');
    gcc('-shared', '-fPIC', '-o', 'musl.node', 'plain.c', '-Wl,--no-as-needed', '-L.', `-l:${musl}`);
    const r = await checkNativeFiles([memFile(node('musl.node'), await bytes('musl.node'))], target);
    assert.deepEqual(
      r.problems.map((p) => p.kind),
      ['musl'],
    );
    assert.match(
      r.problems[0]!.message,
      new RegExp(`^${node('musl.node')} is linked against musl \\(it needs ${musl.replace(/\./g, '\\.')}\\)`),
    );
    assert.match(r.problems[0]!.message, new RegExp(`-linux-${NODE_ARCH[arch]}-gnu package`));
  });

  await t.test('glibc and libstdc++ versions newer than the image are reported', async () => {
    await src(
      'ver.map',
      'GLIBC_2.10 { global: old_fn; local: *; };\nGLIBC_2.99 { global: new_fn; } GLIBC_2.10;\n' +
        'GLIBC_PRIVATE { global: priv_fn; };\nGLIBCXX_3.4.40 { global: cxx_fn; };\n',
    );
    await src(
      'ver.c',
      'int old_fn(void){return 1;} int new_fn(void){return 2;} int priv_fn(void){return 3;} int cxx_fn(void){return 4;}\n',
    );
    await src('old.c', 'int old_fn(void); int priv_fn(void); int f(void) { return old_fn() + priv_fn(); }\n');
    await src('new.c', 'int new_fn(void); int cxx_fn(void); int f(void) { return new_fn() + cxx_fn(); }\n');
    gcc(
      '-shared',
      '-fPIC',
      '-Wl,-soname,libver.so.1',
      '-Wl,--version-script=ver.map',
      '-o',
      'libver.so.1',
      'ver.c',
    );
    gcc('-shared', '-fPIC', '-o', 'old.node', 'old.c', '-L.', '-l:libver.so.1');
    gcc('-shared', '-fPIC', '-o', 'new.node', 'new.c', '-L.', '-l:libver.so.1');
    const files = [
      memFile(node('old.node'), await bytes('old.node')),
      memFile(node('new.node'), await bytes('new.node')),
    ];
    const withVer = new Map([...libraries, ['libver.so.1', '/usr/lib/libver.so.1']]);
    const newElf = await readElf(await bytes('new.node'), 'new.node');
    assert.deepEqual(newElf.versionNeeds.find((v) => v.file === 'libver.so.1')?.versions.sort(), [
      'GLIBCXX_3.4.40',
      'GLIBC_2.99',
    ]);

    // 2.9 < 2.10, numerically; GLIBC_PRIVATE is ignored.
    const old = await checkNativeFiles(files, { ...target, libraries: withVer, glibcVersion: '2.9' });
    assert.deepEqual(
      old.problems.map((p) => [p.path, p.kind]),
      [
        [node('old.node'), 'glibc-too-old'],
        [node('new.node'), 'glibc-too-old'],
      ],
    );
    assert.match(old.problems[0]!.message, /needs GLIBC_2\.10, but the image has glibc 2\.9;/);

    const r = await checkNativeFiles(files, { ...target, libraries: withVer });
    assert.deepEqual(
      r.problems.map((p) => p.message),
      [
        `${node('new.node')} needs GLIBC_2.99, but the image has glibc 2.36 (Debian bookworm); use a newer base (one with glibc 2.99 or later) or a version of the package built for an older glibc`,
      ],
    );
    const cxx = await checkNativeFiles(files, {
      ...target,
      libraries: withVer,
      glibcVersion: '2.99',
      libstdcxxVersions: ['GLIBCXX_3.4', 'GLIBCXX_3.4.30', 'CXXABI_1.3.13'],
    });
    assert.deepEqual(
      cxx.problems.map((p) => [p.path, p.kind]),
      [[node('new.node'), 'libstdcxx-too-old']],
    );
    assert.match(
      cxx.problems[0]!.message,
      /needs GLIBCXX_3\.4\.40, but the image's libstdc\+\+ provides up to GLIBCXX_3\.4\.30/,
    );
    // Without a glibc version (none in the base, or unknown) nothing is compared.
    const { glibcVersion: _, ...noGlibc } = target;
    assert.deepEqual((await checkNativeFiles(files, { ...noGlibc, libraries: withVer })).problems, []);
  });

  await t.test('a library the image lacks is named with the package to add', async () => {
    await mkdir(join(dir, 'deps'), { recursive: true });
    gcc('-shared', '-fPIC', '-Wl,-soname,libssl.so.3', '-o', 'deps/libssl.so.3', 'dummy.c');
    gcc('-shared', '-fPIC', '-o', 'ssl.node', 'plain.c', '-Wl,--no-as-needed', '-Ldeps', '-l:libssl.so.3');
    const ssl = memFile(node('ssl.node'), await bytes('ssl.node'));
    // The library sits among the files, but on no search path of the addon: not found.
    const stray = memFile('app/node_modules/pkg/deps/libssl.so.3', await bytes('deps/libssl.so.3'));
    const asked: string[] = [];
    const suggestPackage = async (soname: string) => {
      asked.push(soname);
      return soname === 'libssl.so.3' ? 'libssl3t64' : undefined;
    };
    const r = await checkNativeFiles([ssl, stray, ssl], { ...target, suggestPackage });
    assert.deepEqual(
      r.problems.map((p) => p.message),
      [
        `${node('ssl.node')} needs libssl.so.3, which the image lacks; add it with --package libssl3t64`,
        `${node('ssl.node')} needs libssl.so.3, which the image lacks; add it with --package libssl3t64`,
      ],
    );
    assert.equal(r.checked, 3);
    assert.deepEqual(asked, ['libssl.so.3']);
    const unknown = await checkNativeFiles([ssl], target);
    assert.deepEqual(
      unknown.problems.map((p) => [p.kind, p.message]),
      [
        [
          'missing-library',
          `${node('ssl.node')} needs libssl.so.3, which the image lacks; add the Debian package that provides it with --package NAME`,
        ],
      ],
    );
    const have = new Map([...libraries, ['libssl.so.3', '/usr/lib/libssl.so.3']]);
    assert.deepEqual((await checkNativeFiles([ssl], { ...target, libraries: have })).problems, []);
    assert.deepEqual((await checkNativeFiles([ssl], { ...target, skipLibraries: true })).problems, []);
  });

  await t.test(
    'a glibc library the slim OS leaves out is named as such, not as a package to add',
    async () => {
      // An addon linked against glibc's vector math (what -ffast-math loops may need): the node-app
      // base leaves libmvec.so.1 out (src/plan/variants.ts), and --package libc6 would not bring it.
      await mkdir(join(dir, 'mvec'), { recursive: true });
      gcc('-shared', '-fPIC', '-Wl,-soname,libmvec.so.1', '-o', 'mvec/libmvec.so.1', 'dummy.c');
      gcc(
        '-shared',
        '-fPIC',
        '-o',
        'mvec.node',
        'plain.c',
        '-Wl,--no-as-needed',
        '-Lmvec',
        '-l:libmvec.so.1',
      );
      const mvec = memFile(node('mvec.node'), await bytes('mvec.node'));
      const r = await checkNativeFiles([mvec], {
        ...target,
        suggestPackage: async () => 'libmvec1',
        leftOutAdvice: slimOsAdvice,
      });
      assert.deepEqual(
        r.problems.map((p) => p.kind),
        ['missing-library'],
      );
      assert.match(
        r.problems[0]!.message,
        /needs libmvec\.so\.1, which the image lacks; distill's slim OS leaves this glibc library out/,
      );
      assert.doesNotMatch(r.problems[0]!.message, /--package/);
      // Other libraries keep the package advice.
      assert.equal(slimOsAdvice('libssl.so.3'), undefined);
      for (const lib of NODE_APP_UNUSED_LIBS) assert.ok(slimOsAdvice(lib), lib);
    },
  );

  await t.test('libraries are found through RUNPATH and RPATH with $ORIGIN', async () => {
    await mkdir(join(dir, 'pkg/lib'), { recursive: true });
    await mkdir(join(dir, 'pkg/build'), { recursive: true });
    gcc('-shared', '-fPIC', '-Wl,-soname,libfoo.so.1', '-o', 'pkg/lib/libfoo.so.1.2.3', 'dummy.c');
    const link = (out: string, ...flags: string[]) =>
      gcc(
        '-shared',
        '-fPIC',
        '-o',
        out,
        'plain.c',
        '-Wl,--no-as-needed',
        '-Lpkg/lib',
        '-l:libfoo.so.1.2.3',
        ...flags,
      );
    link('pkg/build/runpath.node', '-Wl,-rpath,$ORIGIN/../lib', '-Wl,--enable-new-dtags');
    link('pkg/build/rpath.node', '-Wl,-rpath,$ORIGIN/../lib', '-Wl,--disable-new-dtags');
    link('pkg/build/bare.node');
    const at = async (rel: string) => memFile(`app/node_modules/${rel}`, await bytes(rel));
    const lib = await at('pkg/lib/libfoo.so.1.2.3');
    const runpath = await at('pkg/build/runpath.node');
    const rpath = await at('pkg/build/rpath.node');
    const bare = await at('pkg/build/bare.node');

    const runpathElf = await readElf(runpath, runpath.path);
    assert.equal(runpathElf.runpath, '$ORIGIN/../lib');
    assert.deepEqual(
      runpathElf.needed.filter((n) => n.startsWith('libfoo')),
      ['libfoo.so.1'],
    );
    assert.equal((await readElf(rpath, rpath.path)).rpath, '$ORIGIN/../lib');

    // Found by its DT_SONAME in the RUNPATH directory (the libfoo.so.1 symlink is not listed).
    assert.deepEqual(await checkNativeFiles([runpath, lib], target), { problems: [], checked: 2 });
    assert.deepEqual((await checkNativeFiles([rpath, lib], target)).problems, []);
    // Not on the addon's search path, and not in the image: missing.
    assert.deepEqual(
      (await checkNativeFiles([bare, lib], target)).problems.map((p) => [p.path, p.kind]),
      [[bare.path, 'missing-library']],
    );
    // Once another file finds it, the loader reuses the loaded object by soname.
    assert.deepEqual((await checkNativeFiles([bare, runpath, lib], target)).problems, []);
    // The search path must lead to it: a RUNPATH into another directory does not.
    const elsewhere = memFile(
      'app/node_modules/other/build/runpath.node',
      await bytes('pkg/build/runpath.node'),
    );
    assert.deepEqual(
      (await checkNativeFiles([elsewhere, lib], target)).problems.map((p) => p.kind),
      ['missing-library'],
    );
  });

  await t.test('prebuilds for other platforms are not checked; a .node that is not ELF is', async () => {
    const other = Buffer.from(plain);
    other.writeUInt16LE(arch === 'arm64' ? 62 : 0xb7, 18);
    const otherNode = arch === 'arm64' ? 'x64' : 'arm64';
    const macho = Buffer.from('cffaedfe07000001', 'hex');
    const files = [
      memFile(`app/node_modules/bufferutil/prebuilds/linux-${otherNode}/bufferutil.node`, other),
      memFile('app/node_modules/bufferutil/prebuilds/darwin-x64+arm64/bufferutil.node', macho),
      memFile(`app/node_modules/level/prebuilds/linux-${NODE_ARCH[arch]}/node.napi.musl.node`, macho),
      memFile(`app/node_modules/level/prebuilds/linux-${NODE_ARCH[arch]}/node.napi.glibc.node`, plain),
    ];
    assert.deepEqual(await checkNativeFiles(files, target), { problems: [], checked: 1 });

    const r = await checkNativeFiles(
      [
        memFile('app/node_modules/fsevents/fsevents.node', macho),
        memFile(node('empty.node'), Buffer.alloc(0)),
      ],
      target,
    );
    assert.deepEqual(
      r.problems.map((p) => p.kind),
      ['not-elf', 'not-elf'],
    );
    assert.match(
      r.problems[0]!.message,
      /^app\/node_modules\/fsevents\/fsevents\.node is not a Linux shared library \(ELF\) but a macOS \(Mach-O\) binary, so Node cannot load it/,
    );
  });

  await t.test('a truncated or corrupt ELF is an invalid file, not a crash', async () => {
    const cut = plain.subarray(0, 100);
    await assert.rejects(readElf(cut, 'cut.node'), (err: unknown) => {
      assert.ok(isDistillError(err, 'NATIVE_ADDON_INVALID'));
      assert.match(
        err.message,
        /^cut\.node is not a valid ELF file \(the program headers past the end of the file\)/,
      );
      return true;
    });
    const r = await checkNativeFiles([memFile(node('cut.node'), cut)], target);
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.kind]),
      [[node('cut.node'), 'invalid']],
    );
    // Random truncations and byte changes of a real file: a result or NATIVE_ADDON_INVALID.
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: plain.length }),
        fc.array(fc.tuple(fc.nat({ max: plain.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 8,
        }),
        async (length, changes) => {
          const b = Buffer.from(plain.subarray(0, length));
          for (const [at, value] of changes) if (at < b.length) b[at] = value;
          await readElf(b, 'x.node').catch((err: unknown) => {
            if (!isDistillError(err, 'NATIVE_ADDON_INVALID')) throw err;
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  await t.test('findElfFiles lists ELF and .node files, not following symlinks', async () => {
    const root = join(dir, 'walk');
    const put = async (rel: string, data: Buffer | string) => {
      await mkdir(dirname(join(root, rel)), { recursive: true });
      await writeFile(join(root, rel), data);
    };
    await put('node_modules/a/build/Release/a.node', plain);
    await put('node_modules/a/index.js', 'module.exports = 1;\n');
    await put('node_modules/b/bin/tool', plain);
    await chmod(join(root, 'node_modules/b/bin/tool'), 0o755);
    // ELF bytes in a file nothing can load (not .node, not *.so*, not executable) are not read.
    await put('node_modules/b/fixtures/data.bin', plain);
    await put('node_modules/c/mac.node', 'cffaedfe');
    await put('node_modules/d/tiny', 'EL');
    await symlink('../a/build/Release/a.node', join(root, 'node_modules/c/link.node'));
    await symlink('../a', join(root, 'node_modules/c/linked-dir'));
    const found = await findElfFiles(root);
    assert.deepEqual(
      found.map((f) => [f.path, f.size]),
      [
        ['node_modules/a/build/Release/a.node', plain.length],
        ['node_modules/b/bin/tool', plain.length],
        ['node_modules/c/mac.node', 8],
      ],
    );
    assert.deepEqual(await found[0]!.read(0, 8), plain.subarray(0, 8));
    assert.deepEqual(await found[0]!.read(plain.length - 4, 100), plain.subarray(plain.length - 4));
    const r = await checkNativeFiles(found, target);
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.kind]),
      [['node_modules/c/mac.node', 'not-elf']],
    );
    assert.equal(r.checked, 3);
  });
});

test('random bytes after the ELF magic: a result or NATIVE_ADDON_INVALID, never another error', async () => {
  const magic = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(1, 2),
      fc.constantFrom(1, 2),
      fc.uint8Array({ maxLength: 600 }),
      async (cls, data, rest) => {
        const b = Buffer.concat([magic, Buffer.from([cls, data]), rest]);
        await readElf(b, 'x.node').catch((err: unknown) => {
          if (!isDistillError(err, 'NATIVE_ADDON_INVALID')) throw err;
        });
        const r = await checkNativeFiles([memFile('x.node', b)], { arch: 'amd64', libraries: new Map() });
        assert.equal(r.checked, 1);
      },
    ),
    { numRuns: 1000 },
  );
});

test('Debian package names guessed from a soname', () => {
  assert.deepEqual(debianPackageCandidates('libssl.so.3'), ['libssl3', 'libssl3t64']);
  assert.deepEqual(debianPackageCandidates('libz.so.1'), ['libz1', 'libz1t64']);
  assert.deepEqual(debianPackageCandidates('libvips-cpp.so.42'), ['libvips-cpp42', 'libvips-cpp42t64']);
  assert.deepEqual(debianPackageCandidates('libsqlite3.so.0'), ['libsqlite3-0', 'libsqlite3-0t64']);
  assert.deepEqual(debianPackageCandidates('libstdc++.so.6'), ['libstdc++6', 'libstdc++6t64']);
  assert.deepEqual(debianPackageCandidates('libgcc_s.so.1'), ['libgcc-s1', 'libgcc-s1t64']);
  assert.deepEqual(debianPackageCandidates('libGL.so.1'), ['libgl1', 'libgl1t64']);
  assert.deepEqual(debianPackageCandidates('libfoo-1.2.so'), ['libfoo-1.2', 'libfoo-1.2t64']);
  assert.deepEqual(debianPackageCandidates('libfoo.so'), []);
  assert.deepEqual(debianPackageCandidates('not a soname'), []);
});
