/** Paths resolved inside the merged tree, as the kernel would in a container whose root is the image. */
import { NONE, type Nodes, ROOT, T_DIR, T_SYMLINK } from './nodes.js';
import { MAX_STEPS, MAX_SYMLINK_HOPS, NodeView, type Tree, type TreeNode } from './tree.js';

export type Resolution =
  | { ok: true /** canonical absolute path */; path: string; node: TreeNode }
  | { ok: false; reason: 'missing' | 'loop' | 'not-a-directory'; path: string };

type IdResolution =
  | { ok: true; path: string; id: number }
  | { ok: false; reason: 'missing' | 'loop' | 'not-a-directory'; path: string };

/**
 * Resolves an image path through symlinks inside the image, as the kernel would in a container
 * whose root is the image: absolute targets restart at the root, `..` at the root stays there,
 * at most `maxHops` symlinks (40). `followLast: false` leaves a final symlink unresolved (lstat).
 * A loop or a chain longer than the limit is `loop`: the caller reports the fact as unknown.
 */
export function resolvePath(
  tree: Tree,
  path: string,
  opts: { followLast?: boolean; maxHops?: number } = {},
): Resolution {
  const r = resolveId(tree.nodes, path, opts);
  return r.ok ? { ok: true, path: r.path, node: new NodeView(tree.nodes, r.id) } : r;
}

export function resolveId(
  n: Nodes,
  path: string,
  opts: { followLast?: boolean; maxHops?: number },
): IdResolution {
  const followLast = opts.followLast ?? true;
  const maxHops = opts.maxHops ?? MAX_SYMLINK_HOPS;
  const todo = path.split('/').reverse();
  const names: string[] = [];
  const chain: number[] = [ROOT];
  let hops = 0;
  let steps = 0;
  while (todo.length > 0) {
    if (++steps > MAX_STEPS) return { ok: false, reason: 'loop', path };
    const c = todo.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (names.length > 0) {
        names.pop();
        chain.pop();
      }
      continue;
    }
    const dir = chain[chain.length - 1]!;
    if (n.type(dir) !== T_DIR) return { ok: false, reason: 'not-a-directory', path: `/${names.join('/')}` };
    const child = n.child(dir, c);
    if (child === NONE) return { ok: false, reason: 'missing', path: `/${[...names, c].join('/')}` };
    if (n.type(child) === T_SYMLINK && (followLast || todo.some((t) => t !== '' && t !== '.'))) {
      if (++hops > maxHops) return { ok: false, reason: 'loop', path };
      const target = n.linkTarget.get(child) ?? '';
      if (target.startsWith('/')) {
        names.length = 0;
        chain.length = 1;
      }
      const parts = target.split('/');
      for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
      continue;
    }
    names.push(c);
    chain.push(child);
  }
  return { ok: true, path: `/${names.join('/')}`, id: chain[chain.length - 1]! };
}
