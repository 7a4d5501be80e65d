#!/usr/bin/env node
// The installed entry point. A checkout that has not been built yet (no dist/) runs the sources
// through tsx, so `npx distill` works straight after `npm ci` in a development tree too.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (existsSync(built)) {
  await import(built);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
