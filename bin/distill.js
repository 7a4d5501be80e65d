#!/usr/bin/env node
// The entry point. In a source checkout (src/ present, as after `npm ci` in this repository) the
// TypeScript sources run through tsx, so what runs is always what is checked out; an installed
// package has only dist/ and runs the compiled code: the bundle (dist/bundle/, made by esbuild,
// loads in a fraction of the time of hundreds of modules) when it is there.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
if (existsSync(source) && process.env.DISTILL_USE_DIST !== '1') {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source);
} else {
  const bundle = fileURLToPath(new URL('../dist/bundle/main.js', import.meta.url));
  await import(existsSync(bundle) ? bundle : fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
}
