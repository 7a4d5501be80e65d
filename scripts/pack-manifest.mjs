// scripts/pack-manifest.mjs: the package.json that `npm pack` and `npm publish` put in the
// tarball, without the `prepare` script.
//
// `prepare` builds dist/ in a checkout (`npm ci`, a git dependency). In an installed package it
// never runs, yet npm 11 lists every package whose package.json has one as having "install
// scripts not yet covered by allowScripts" and tells the user to allow them: a false alarm on
// every `npm install -g distill`, from a tool whose users check their supply chain. npm reads
// the tarball's package.json from the working tree after `prepack`, so `prepack` builds, then
// writes package.json without `prepare` (keeping the original beside it), and `postpack` puts
// the original back. A pack that failed in between leaves the copy: the next `strip` or
// `restore` puts it back first, so the checkout's package.json is never lost.
//
//   node scripts/pack-manifest.mjs strip     # (prepack) package.json without `prepare`
//   node scripts/pack-manifest.mjs restore   # (postpack) the original package.json again
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MANIFEST = join(ROOT, 'package.json');
const KEPT = join(ROOT, '.package.json.prepack');

function restore() {
  if (existsSync(KEPT)) renameSync(KEPT, MANIFEST);
}

function strip() {
  restore();
  const text = readFileSync(MANIFEST, 'utf8');
  const manifest = JSON.parse(text);
  if (manifest.scripts?.prepare === undefined) return;
  writeFileSync(KEPT, text);
  delete manifest.scripts.prepare;
  writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
}

const command = process.argv[2];
if (command === 'strip') strip();
else if (command === 'restore') restore();
else {
  process.stderr.write('usage: node scripts/pack-manifest.mjs strip|restore\n');
  process.exit(2);
}
