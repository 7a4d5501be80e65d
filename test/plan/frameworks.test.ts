import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { detectFramework, type FrameworkInput, stripComments } from '../../src/plan/frameworks.js';
import { frameworkConfig } from '../../src/plan/frameworks-plan.js';
import type { PackageJson } from '../../src/sources/app/read.js';

/**
 * Framework detection (src/plan/frameworks.ts) from minimal package.json and config fixtures,
 * one per framework the plan knows: what it is detected from, the command, the port, the
 * environment and what the image holds.
 */
const input = (pkg: PackageJson, configs: Record<string, string> = {}): FrameworkInput => ({ pkg, configs });
const deps = (...names: string[]) => Object.fromEntries(names.map((n) => [n, '^1.0.0']));

describe('frameworks: detected from dependencies and config files, never run', () => {
  test('Next.js: standalone when next.config sets it, next start otherwise', () => {
    const standalone = detectFramework(
      input(
        { dependencies: deps('next', 'react') },
        {
          'next.config.ts':
            'import type { NextConfig } from "next";\nconst nextConfig: NextConfig = {\n  output: "standalone",\n};\nexport default nextConfig;\n',
        },
      ),
    );
    assert.equal(standalone.name, 'next');
    assert.equal(standalone.from, 'next in dependencies, output: "standalone" in next.config.ts');
    assert.deepEqual(standalone.cmd?.args, ['server.js']);
    assert.equal(standalone.cmd?.bin, undefined);
    assert.equal(standalone.port, 3000);
    assert.deepEqual(standalone.env, ['HOSTNAME=0.0.0.0', 'PORT=3000']);
    assert.equal(standalone.image, 'output');
    assert.deepEqual(standalone.output, [
      { from: '.next/standalone', to: '.', root: true },
      { from: '.next/static', to: '.next/static' },
      { from: 'public', to: 'public', optional: true },
    ]);

    const plain = detectFramework(
      input({ dependencies: deps('next') }, { 'next.config.mjs': 'export default {};' }),
    );
    assert.deepEqual(plain.cmd, { args: ['start'], bin: 'next', why: 'next start' });
    assert.equal(plain.image, 'app');
    assert.equal(plain.port, 3000);
    // Commented out is not set; single quotes and a .js config are read too.
    const commented = detectFramework(
      input(
        { dependencies: deps('next') },
        { 'next.config.js': "module.exports = {\n  // output: 'standalone',\n};" },
      ),
    );
    assert.equal(commented.image, 'app');
    const single = detectFramework(
      input(
        { dependencies: deps('next') },
        { 'next.config.js': "module.exports = { output: 'standalone' }" },
      ),
    );
    assert.equal(single.image, 'output');
  });

  test('NestJS: start:prod when it is node FILE, else dist/<entryFile>', () => {
    const nest = detectFramework(
      input({
        dependencies: deps('@nestjs/core', '@nestjs/common'),
        scripts: { start: 'nest start', 'start:prod': 'node dist/main' },
      }),
    );
    assert.equal(nest.name, 'nest');
    assert.equal(nest.from, '@nestjs/core in dependencies');
    assert.deepEqual(nest.cmd, { args: ['dist/main'], why: 'scripts["start:prod"] (node dist/main)' });
    assert.equal(nest.port, 3000);
    const entryFile = detectFramework(
      input(
        { dependencies: deps('@nestjs/core'), scripts: { 'start:prod': 'nest start --prod' } },
        { 'nest-cli.json': '{"entryFile": "server"}' },
      ),
    );
    assert.deepEqual(entryFile.cmd?.args, ['dist/server']);
  });

  test('Nuxt and Nitro: the self-contained .output', () => {
    for (const [dep, name] of [
      ['nuxt', 'nuxt'],
      ['nitropack', 'nitro'],
    ] as const) {
      const f = detectFramework(input({ dependencies: deps(dep) }));
      assert.equal(f.name, name);
      assert.deepEqual(f.cmd?.args, ['.output/server/index.mjs']);
      assert.equal(f.image, 'output');
      assert.deepEqual(f.output, [{ from: '.output', to: '.output' }]);
      assert.equal(f.port, 3000);
    }
    // Nuxt depends on nitropack: an app with both is Nuxt.
    assert.equal(detectFramework(input({ dependencies: deps('nitropack', 'nuxt') })).name, 'nuxt');
  });

  test('SvelteKit: adapter-node builds build/index.js (or its out); without it, no server', () => {
    const kit = detectFramework(
      input(
        { devDependencies: deps('@sveltejs/kit', '@sveltejs/adapter-node', 'vite') },
        {
          'svelte.config.js':
            "import adapter from '@sveltejs/adapter-node';\nexport default { kit: { adapter: adapter() } };",
        },
      ),
    );
    assert.equal(kit.name, 'sveltekit');
    assert.equal(kit.from, '@sveltejs/kit in devDependencies with @sveltejs/adapter-node in devDependencies');
    assert.deepEqual(kit.cmd?.args, ['build/index.js']);
    assert.equal(kit.image, 'app');
    const out = detectFramework(
      input(
        { devDependencies: deps('@sveltejs/kit', '@sveltejs/adapter-node') },
        {
          'svelte.config.js': "export default { kit: { adapter: adapter({ out: 'server-out' }) } };",
        },
      ),
    );
    assert.deepEqual(out.cmd?.args, ['server-out/index.js']);
    const auto = detectFramework(input({ devDependencies: deps('@sveltejs/kit', '@sveltejs/adapter-auto') }));
    assert.equal(auto.cmd, undefined);
    assert.match(auto.advice ?? '', /@sveltejs\/adapter-node/);
  });

  test("React Router and Remix: the serve package's bin on the server build", () => {
    const rr = detectFramework(
      input({ dependencies: deps('@react-router/serve', '@react-router/node', 'react') }),
    );
    assert.equal(rr.name, 'react-router');
    assert.deepEqual(rr.cmd, {
      args: ['./build/server/index.js'],
      bin: 'react-router-serve',
      why: 'react-router-serve of the server build',
    });
    assert.equal(rr.port, 3000);
    const remixVite = detectFramework(
      input(
        { dependencies: deps('@remix-run/serve', '@remix-run/node') },
        { 'vite.config.ts': 'import { vitePlugin as remix } from "@remix-run/dev";' },
      ),
    );
    assert.equal(remixVite.name, 'remix');
    assert.deepEqual(remixVite.cmd?.args, ['./build/server/index.js']);
    assert.equal(remixVite.cmd?.bin, 'remix-serve');
    const remixClassic = detectFramework(input({ dependencies: deps('@remix-run/serve') }));
    assert.deepEqual(remixClassic.cmd?.args, ['./build/index.js']);
  });

  test("Astro: @astrojs/node's standalone entry on 4321 with HOST=0.0.0.0; middleware mode has no server", () => {
    const astro = detectFramework(
      input(
        { dependencies: deps('astro', '@astrojs/node') },
        {
          'astro.config.mjs':
            "export default defineConfig({ output: 'server', adapter: node({ mode: 'standalone' }) });",
        },
      ),
    );
    assert.equal(astro.name, 'astro');
    assert.deepEqual(astro.cmd?.args, ['dist/server/entry.mjs']);
    assert.equal(astro.port, 4321);
    assert.deepEqual(astro.env, ['HOST=0.0.0.0']);
    const middleware = detectFramework(
      input(
        { dependencies: deps('astro', '@astrojs/node') },
        {
          'astro.config.mjs': "export default { adapter: node({ mode: 'middleware' }) };",
        },
      ),
    );
    assert.equal(middleware.cmd, undefined);
    assert.match(middleware.advice ?? '', /middleware mode builds no server/);
    assert.match(detectFramework(input({ dependencies: deps('astro') })).advice ?? '', /npx astro add node/);
  });

  test('a plain server: no framework, no port or environment of its own', () => {
    const plain = detectFramework(input({ dependencies: deps('express') }));
    assert.deepEqual(plain, { name: 'node', from: 'no framework among the dependencies', image: 'app' });
    assert.deepEqual(frameworkConfig(plain, {}), { ports: [], env: [] });
  });

  test("the request's ports and environment come first", () => {
    const next = detectFramework(
      input(
        { dependencies: deps('next') },
        { 'next.config.js': 'module.exports = { output: "standalone" }' },
      ),
    );
    assert.deepEqual(frameworkConfig(next, {}), { ports: ['3000'], env: ['HOSTNAME=0.0.0.0', 'PORT=3000'] });
    assert.deepEqual(frameworkConfig(next, { ports: ['8080'], env: ['PORT=8080'] }), {
      ports: ['8080'],
      env: ['HOSTNAME=0.0.0.0'],
    });
  });

  test('stripComments leaves URLs in strings alone', () => {
    assert.equal(stripComments('a: "https://x", // c\n/* b */ d'), 'a: "https://x", \n d');
  });
});
