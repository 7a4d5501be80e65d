import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ElfInfo, readElf } from '../../src/build/app/elf.js';
import { checkNativeFiles, findElfFiles, type NativeTarget } from '../../src/build/app/native.js';
import { physicalPath, searchDirs } from '../../src/build/app/native-links.js';
import { requireComponents } from '../helpers/components.js';

/**
 * The loader's search paths through an install's symlinks (pnpm's node_modules/.pnpm): what the
 * kernel opens for a RUNPATH entry, and the native check finding an addon's library that way.
 */
const PNPM = '.pnpm/@img+sharp-linux-x64@0.35.5/node_modules/@img';

test('physicalPath walks links as the kernel does', () => {
  const links = new Map([
    [
      `app/node_modules/${PNPM}/sharp-libvips-linux-x64`,
      '../../../@img+sharp-libvips-linux-x64@1.3.4/node_modules/@img/sharp-libvips-linux-x64',
    ],
    ['app/abs', '/usr/lib'],
    ['app/loop-a', 'loop-b'],
    ['app/loop-b', 'loop-a'],
    ['app/lib/libfoo.so.1', 'libfoo.so.1.2.3'],
  ]);
  const origin = `/app/node_modules/${PNPM}/sharp-linux-x64/lib`;
  // `..` of the text would stay in sharp-linux-x64's store entry; the link leads into libvips's.
  assert.equal(
    physicalPath(`${origin}/../../sharp-libvips-linux-x64/lib`, links),
    '/app/node_modules/.pnpm/@img+sharp-libvips-linux-x64@1.3.4/node_modules/@img/sharp-libvips-linux-x64/lib',
  );
  // `..` after a link is taken against where the link led, not against the link's directory.
  assert.equal(
    physicalPath(`/app/node_modules/${PNPM}/sharp-libvips-linux-x64/..`, links),
    '/app/node_modules/.pnpm/@img+sharp-libvips-linux-x64@1.3.4/node_modules/@img',
  );
  assert.equal(physicalPath('/app/abs/x', links), '/usr/lib/x');
  assert.equal(physicalPath('/app/lib/libfoo.so.1', links), '/app/lib/libfoo.so.1.2.3');
  assert.equal(physicalPath('/app/./lib//x/../y', links), '/app/lib/y');
  assert.equal(physicalPath('/../..', links), '/');
  // A loop is not a path (ELOOP), and no hang.
  assert.equal(physicalPath('/app/loop-a/x', links), undefined);
  // Without links, the text alone.
  assert.equal(physicalPath(`${origin}/../../x`, new Map()), `/app/node_modules/${PNPM}/x`);
});

test('searchDirs: $ORIGIN, relative entries dropped, each entry walked', () => {
  const elf: ElfInfo = {
    class: 64,
    endian: 'little',
    machine: { number: 62, name: 'amd64' },
    type: 'DYN',
    needed: [],
    versionNeeds: [],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the loader's ${ORIGIN}, not a template
    runpath: '$ORIGIN/../dep/lib:relative/lib:${ORIGIN}/x:/opt/lib',
  };
  const links = new Map([['app/pkg/dep', '../store/dep@1']]);
  assert.deepEqual(searchDirs('/app/pkg/build/a.node', elf, links), [
    '/app/store/dep@1/lib',
    '/app/pkg/build/x',
    '/opt/lib',
  ]);
});

test('an addon finds its library through pnpm-style links on its RUNPATH', async (t) => {
  if (!requireComponents(t, 'gcc')) return;
  const dir = await mkdtemp(join(tmpdir(), 'distill-native-links-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const gcc = (...args: string[]) => execFileSync('gcc', args, { cwd: dir, stdio: 'pipe' });
  // pnpm's layout: each package in its own store entry, its dependencies linked beside it.
  const addonDir = 'node_modules/.pnpm/addon@1.0.0/node_modules/addon/lib';
  const libDir = 'node_modules/.pnpm/libdep@1.0.0/node_modules/libdep/lib';
  await mkdir(join(dir, addonDir), { recursive: true });
  await mkdir(join(dir, libDir), { recursive: true });
  await symlink(
    '../../libdep@1.0.0/node_modules/libdep',
    join(dir, 'node_modules/.pnpm/addon@1.0.0/node_modules/libdep'),
  );
  await symlink('.pnpm/addon@1.0.0/node_modules/addon', join(dir, 'node_modules/addon'));
  await writeFile(join(dir, 'dep.c'), 'int dep(void) { return 1; }\n');
  await writeFile(join(dir, 'addon.c'), 'int dep(void);\nint addon(void) { return dep(); }\n');
  // The library as sharp's libvips is: a file named by its full soname, no link to it.
  gcc('-shared', '-fPIC', '-Wl,-soname,libdep.so.8.1', '-o', `${libDir}/libdep.so.8.1`, 'dep.c');
  gcc(
    '-shared',
    '-fPIC',
    '-o',
    `${addonDir}/addon.node`,
    'addon.c',
    `-L${libDir}`,
    '-l:libdep.so.8.1',
    '-Wl,-rpath,$ORIGIN/../../libdep/lib',
  );

  const links = new Map<string, string>();
  const files = await findElfFiles(dir, links);
  assert.deepEqual(
    files.map((f) => f.path),
    [`${addonDir}/addon.node`, `${libDir}/libdep.so.8.1`],
  );
  assert.equal(links.get('node_modules/addon'), '.pnpm/addon@1.0.0/node_modules/addon');
  const addon = await readElf(files[0]!, files[0]!.path);
  assert.ok(addon.needed.includes('libdep.so.8.1'), addon.needed.join());

  const arch = addon.machine.name;
  const target: NativeTarget = { arch, libraries: new Map([['libc.so.6', '/usr/lib/libc.so.6']]) };
  assert.deepEqual(await checkNativeFiles(files, target, links), { problems: [], checked: 2 });
  // Without the links, libdep/lib beside the addon's store entry is nowhere: the check refused
  // sharp under pnpm this way.
  const without = await checkNativeFiles(files, target);
  assert.deepEqual(
    without.problems.map((p) => [p.path, p.kind]),
    [[`${addonDir}/addon.node`, 'missing-library']],
  );
  assert.match(without.problems[0]!.message, /needs libdep\.so\.8\.1, which the image lacks/);
  // A link leading elsewhere does not find it either.
  const astray = new Map(links).set(
    'node_modules/.pnpm/addon@1.0.0/node_modules/libdep',
    '../../other@1.0.0',
  );
  assert.deepEqual(
    (await checkNativeFiles(files, target, astray)).problems.map((p) => p.kind),
    ['missing-library'],
  );
  // What the real loader does with the same files agrees: it loads the addon by its real path.
  const r = execFileSync(
    'python3',
    [
      '-c',
      `import ctypes; ctypes.CDLL(${JSON.stringify(join(dir, addonDir, 'addon.node'))}); print('loaded')`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.trim(), 'loaded');
});
