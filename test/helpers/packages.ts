/**
 * The packages a node_modules tree holds, as `name@version`, for comparing an image's production
 * node_modules with a fresh production install. The same JavaScript runs on the host (against a
 * reference install) and inside the image (through its own node: the image has no shell).
 *
 * Every node_modules directory under the root is read: plain packages, scoped ones, pnpm's
 * virtual store (node_modules/.pnpm/<id>/node_modules/...); a symlinked package (a workspace
 * package, pnpm's links) is read through the link but not walked into, its target being walked
 * where it is. Hidden entries (.bin, .cache, .pnpm's own files) are not packages.
 */
export const PACKAGE_SET_JS = `
const fs = require('fs'), path = require('path');
const out = new Set();
function pkg(p) {
  let st; try { st = fs.lstatSync(p); } catch { return; }
  try { const j = JSON.parse(fs.readFileSync(path.join(p, 'package.json'), 'utf8')); if (j.name) out.add(j.name + '@' + j.version); } catch {}
  if (st.isDirectory()) walk(p);
}
function nm(dir) {
  for (const e of fs.readdirSync(dir)) {
    const p = path.join(dir, e);
    if (e === '.pnpm') {
      for (const id of fs.readdirSync(p)) {
        const q = path.join(p, id);
        if (id === 'node_modules') nm(q); else if (fs.lstatSync(q).isDirectory()) walk(q);
      }
    } else if (e.startsWith('@')) { for (const s of fs.readdirSync(p)) pkg(path.join(p, s)); }
    else if (!e.startsWith('.')) pkg(p);
  }
}
function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === '.git') continue;
    if (e.name === 'node_modules') nm(path.join(dir, e.name)); else if (dir.split(path.sep).includes('node_modules') === false) walk(path.join(dir, e.name));
  }
}
walk(process.argv[1] || '.');
console.log(JSON.stringify([...out].sort()));
`;

/** The script as node's -e argument with the root as its first argument: `node -e SCRIPT ROOT`. */
export function packageSetArgs(root: string): string[] {
  return ['-e', PACKAGE_SET_JS, root];
}
