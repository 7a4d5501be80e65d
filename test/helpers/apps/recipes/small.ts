import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../tools.js';
import type { AppRecipe } from '../types.js';
import { VERSIONS } from '../versions.js';

/** `npm init -y` without its `main` and test script, then `fields` set with npm pkg. */
async function npmInit(dir: string, env: NodeJS.ProcessEnv, ...fields: string[]): Promise<void> {
  const npm = (...args: string[]) => run(['npm', ...args], { cwd: dir, env });
  await npm('init', '-y');
  await npm('pkg', 'delete', 'main', 'scripts.test', 'keywords', 'author', 'description');
  if (fields.length > 0) await npm('pkg', 'set', ...fields);
}

const LIBRARY = `const express = require('express');

// The app, for whatever starts it: nothing here listens.
const app = express();
app.get('/', (_req, res) => res.json({ app: 'no-entry' }));
module.exports = app;
`;

/**
 * A tree with no entry point: no start script, no main, no index.js or server.js, no dist/;
 * its code is src/app.js, which listens on nothing. It has a dependency and a lockfile, so a
 * build that installs before noticing spends the install.
 */
export const noEntry: AppRecipe = {
  name: 'no-entry',
  description: 'express app module with no entry point (no start, main, index.js, server.js, dist/)',
  inputs: { express: '^5' },
  sources: [fileURLToPath(import.meta.url)],
  async generate(dir, { env }) {
    await npmInit(dir, env, 'name=no-entry');
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'src', 'app.js'), LIBRARY);
    await run(['npm', 'install', 'express@^5'], { cwd: dir, env });
  },
  hostRefuses: { command: ['npm', 'start'], output: /Missing script: "start"/ },
  port: 8080,
  checks: [],
  expect: {
    failsBeforeInstall: true,
    notes: 'no candidate: the error says what to set (--cmd, a start script, main)',
  },
};

const SERVER = `const { createServer } = require('node:http');

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ app: 'node-pin', node: process.versions.node }));
});
const port = Number(process.env.PORT ?? 8080);
server.listen(port, () => console.log(\`node-pin on Node \${process.versions.node}, port \${port}\`));
`;

/**
 * A server whose Node is pinned by `.node-version` (18.14.0, an end-of-life release) within
 * `engines.node` `>=18.0.0`, the two sources issue 15 saw disagree. No dependencies.
 */
export const nodePin: AppRecipe = {
  name: 'node-pin',
  description: `server with .node-version ${VERSIONS.pinnedNode} and engines.node >=18.0.0`,
  inputs: { pinned: VERSIONS.pinnedNode },
  sources: [fileURLToPath(import.meta.url)],
  async generate(dir, { env }) {
    await npmInit(dir, env, 'name=node-pin', 'engines.node=>=18.0.0', 'scripts.start=node server.js');
    await writeFile(join(dir, 'server.js'), SERVER);
    await writeFile(join(dir, '.node-version'), `${VERSIONS.pinnedNode}\n`);
    // A package-lock.json (no dependencies), as npm leaves it.
    await run(['npm', 'install'], { cwd: dir, env });
  },
  // npm 11 does not run on Node 18: the server is started as its start script says.
  host: { node: VERSIONS.pinnedNode, start: ['node', 'server.js'] },
  port: 8080,
  checks: [{ what: 'the pinned Node', path: '/', status: 200, includes: `"node":"${VERSIONS.pinnedNode}"` }],
  expect: {
    cmd: ['server.js'],
    node: VERSIONS.pinnedNode,
    notes:
      '.node-version wins within engines, with a warning naming both sources and one that 18 is end-of-life',
  },
};
