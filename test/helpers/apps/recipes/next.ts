import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpCheck } from '../http.js';
import { copyTree, run } from '../tools.js';
import type { AppRecipe } from '../types.js';
import { VERSIONS } from '../versions.js';

/**
 * Next.js apps from `create-next-app` (TypeScript, App Router, npm, no Tailwind, no linter), as
 * a new user makes them, with one change: the template's `next/font/google` fonts (fetched from
 * Google at build time, unreachable here) become the same Geist fonts as local files through
 * `next/font/local`, as create-next-app's own template did up to Next 14; the font files come
 * from Vercel's `geist` package on the npm registry. The standalone variant is the same app with
 * `output: "standalone"` in next.config.ts, as Next's Docker guide says.
 */

const FONTS = {
  'Geist-Variable.woff2': 'package/dist/fonts/geist-sans/Geist-Variable.woff2',
  'GeistMono-Variable.woff2': 'package/dist/fonts/geist-mono/GeistMono-Variable.woff2',
};

/** Puts Geist's variable fonts in app/fonts/ and loads them with next/font/local. */
async function localFonts(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const work = await mkdtemp(join(dirname(dir), 'geist-'));
  try {
    await run(['npm', 'pack', `geist@${VERSIONS.geist}`, '--pack-destination', work], { cwd: work, env });
    const tgz = (await readdir(work)).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack geist@${VERSIONS.geist} wrote no tarball`);
    await run(['tar', '-xzf', tgz, ...Object.values(FONTS)], { cwd: work, env });
    await mkdir(join(dir, 'app', 'fonts'));
    for (const [name, from] of Object.entries(FONTS))
      await rename(join(work, from), join(dir, 'app', 'fonts', name));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const layoutPath = join(dir, 'app', 'layout.tsx');
  const layout = await readFile(layoutPath, 'utf8');
  const font = (fn: string, file: string, variable: string): [RegExp, string] => [
    new RegExp(`\\b${fn}\\(\\{\\s*variable: "${variable}",\\s*subsets: \\["latin"\\],\\s*\\}\\)`),
    `localFont({\n  src: "./fonts/${file}",\n  variable: "${variable}",\n})`,
  ];
  const edits: [RegExp, string][] = [
    [/import \{ Geist, Geist_Mono \} from "next\/font\/google";/, 'import localFont from "next/font/local";'],
    font('Geist', 'Geist-Variable.woff2', '--font-geist-sans'),
    font('Geist_Mono', 'GeistMono-Variable.woff2', '--font-geist-mono'),
  ];
  let text = layout;
  for (const edit of edits) {
    if (!edit[0].test(text)) {
      throw new Error(`create-next-app ${VERSIONS.createNextApp} wrote another app/layout.tsx:\n${layout}`);
    }
    text = text.replace(edit[0], edit[1]);
  }
  await writeFile(layoutPath, text);
}

export const next: AppRecipe = {
  name: 'next',
  description: `Next.js app from create-next-app ${VERSIONS.createNextApp} (TypeScript, App Router, npm), local fonts`,
  inputs: { createNextApp: VERSIONS.createNextApp, geist: VERSIONS.geist, node: VERSIONS.hostNode },
  sources: [fileURLToPath(import.meta.url)],
  async generate(dir, { env }) {
    const parent = dirname(dir);
    const name = 'next-app';
    await run(
      [
        'npx',
        '--yes',
        `create-next-app@${VERSIONS.createNextApp}`,
        name,
        '--ts',
        '--app',
        '--no-tailwind',
        '--no-eslint',
        '--no-biome',
        '--no-react-compiler',
        '--no-src-dir',
        '--import-alias',
        '@/*',
        '--use-npm',
        '--disable-git',
        '--no-agents-md',
        '--no-agent-feedback',
        '--yes',
      ],
      { cwd: parent, env },
    );
    await rm(dir, { recursive: true });
    await rename(join(parent, name), dir);
    // Route types the generator made: build output, not in a checkout (.gitignore has /.next/).
    await rm(join(dir, '.next'), { recursive: true, force: true });
    await localFonts(dir, env);
  },
  host: { build: [['npm', 'run', 'build']], start: ['npm', 'start'] },
  port: 3000,
  checks: nextChecks(),
  expect: {
    cmd: ['node_modules/next/dist/bin/next', 'start'],
    port: 3000,
    notes: '`next start` with the production node_modules and the build output in .next/',
  },
};

/** The page, one of its `/_next/static/` stylesheets, the local font, and a public/ file. */
function nextChecks(): HttpCheck[] {
  return [
    { what: 'the page', path: '/', status: 200, includes: 'To get started, edit the' },
    {
      what: 'a stylesheet the page links (.next/static)',
      path: { in: '/', pattern: /\/_next\/static\/[^"'\s<>]+\.css/ },
      status: 200,
      contentType: /text\/css/,
    },
    {
      what: 'the local font the page preloads (.next/static/media)',
      path: { in: '/', pattern: /\/_next\/static\/media\/[^"'\s<>]+\.woff2/ },
      status: 200,
      contentType: /font\/woff2/,
    },
    { what: 'a file of public/', path: '/next.svg', status: 200, includes: '<svg' },
  ];
}

export const nextStandalone: AppRecipe = {
  name: 'next-standalone',
  description: `the Next.js app with output: "standalone" in next.config.ts`,
  inputs: {},
  from: ['next'],
  sources: [fileURLToPath(import.meta.url)],
  async generate(dir, { tree }) {
    await copyTree(await tree('next'), dir, { nodeModules: true });
    const configPath = join(dir, 'next.config.ts');
    const config = await readFile(configPath, 'utf8');
    const anchor = 'const nextConfig: NextConfig = {\n';
    if (!config.includes(anchor)) throw new Error(`next.config.ts has no "${anchor.trim()}":\n${config}`);
    await writeFile(configPath, config.replace(anchor, `${anchor}  output: "standalone",\n`));
  },
  host: {
    build: [
      ['npm', 'run', 'build'],
      // Next's deployment docs: the standalone server does not serve these unless copied beside it.
      ['cp', '-r', 'public', '.next/standalone/'],
      ['cp', '-r', '.next/static', '.next/standalone/.next/'],
    ],
    start: ['node', '.next/standalone/server.js'],
    // server.js listens on $HOSTNAME, which a shell sets to the machine's name.
    env: { HOSTNAME: '127.0.0.1' },
  },
  port: 3000,
  checks: nextChecks(),
  expect: {
    cmd: ['server.js'],
    port: 3000,
    notes:
      '.next/standalone as /app with .next/static and public/ beside server.js, HOSTNAME=0.0.0.0, no full node_modules',
  },
};
