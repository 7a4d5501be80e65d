/**
 * The edits a layer makes to the merged tree, for merge.ts's Merger (which reads the entries and
 * decides): accounting for what a layer replaces or deletes, whiteouts and opaque directories,
 * the parent directories of an entry (resolved through symlinks inside the image, missing ones
 * created), hardlink targets, and the warnings and limits of a merge.
 */
import { DistillError } from '../errors.js';
import type { InputEntry, MergeOptions } from './merge.js';
import { F_LAYER, NONE, type Nodes, ROOT, T_DIR, T_FILE, T_SYMLINK } from './nodes.js';
import { resolveId } from './resolve.js';
import { MAX_DEPTH, MAX_STEPS, MAX_SYMLINK_HOPS, NodeView, Tree, TYPES } from './tree.js';
import { MAX_UNSAFE, type UnsafeKind } from './unsafe.js';

function show(s: string): string {
  const text = JSON.stringify(s);
  return text.length > 120 ? `${text.slice(0, 117)}..."` : text;
}

/** Lexical normalization of an entry name; `null` when a `..` escapes the root. */
export function normalizeName(name: string): string[] | null {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) return null;
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts;
}

/** The directory an entry goes into: ids from the root down, and their names. */
export interface ParentDir {
  chain: number[];
  names: string[];
  /** The first symlink followed that leads outside the tree on a disk (see ensureDir). */
  via: { path: string; target: string } | undefined;
}

/**
 * Where the entries of a directory go (TreeEditor.lastParent): the text of their names before the
 * last slash, the directory's ids from the root down and its canonical path, and what makes
 * writing there unsafe for an extractor (a `..` in the prefix, a symlink leading outside).
 */
export interface Parent {
  prefix: string;
  chain: number[];
  path: string;
  dotdot: boolean;
  via: { path: string; target: string } | undefined;
}

/** The tree a merge builds, and the edits its layers make to it. */
export class TreeEditor {
  readonly tree = new Tree();
  protected readonly n: Nodes = this.tree.nodes;
  protected readonly opts: MergeOptions;
  private readonly maxEntries: number;
  private readonly maxWarnings: number;
  private droppedWarnings = 0;
  /** Index of the layer being applied. */
  protected layer = 0;
  /** How warnings and errors name it (`layer 2 (sha256:…)`). */
  protected label = '';
  /**
   * The directory the last entry went into, by the text of its name before the last slash: the
   * entries of a tar come directory by directory, and resolving the same parent again for each
   * (split, normalize, look up every component) was a third of the merge on the bench/inspect
   * image near the cap (950,000 paths). Forgotten whenever anything leaves the tree (remove) and
   * at each layer; adding entries never changes how an existing parent resolves.
   */
  protected lastParent: Parent | undefined;

  constructor(opts: MergeOptions, maxEntries: number, maxWarnings: number) {
    this.opts = opts;
    this.maxEntries = maxEntries;
    this.maxWarnings = maxWarnings;
  }

  warn(message: string): void {
    if (this.tree.warnings.length < this.maxWarnings) this.tree.warnings.push(message);
    else this.droppedWarnings++;
  }

  /** Ends the merge: the tree, with a last warning counting those left out. */
  finish(): Tree {
    if (this.droppedWarnings > 0) {
      this.tree.warnings.push(`${this.droppedWarnings} more warnings were left out`);
      this.droppedWarnings = 0;
    }
    return this.tree;
  }

  /** Notes an entry extractors mishandle (see unsafe.ts). */
  protected unsafe(e: InputEntry, kind: UnsafeKind, target: string | null, why: string): void {
    const t = this.tree;
    if (t.unsafePaths.length < MAX_UNSAFE)
      t.unsafePaths.push({ layer: this.layer, path: e.name, kind, target, why });
    else t.unsafeOmitted++;
  }

  protected where(e: InputEntry): string {
    return `${this.label} entry ${show(e.name)}`;
  }

  /** Counts one more node, failing past the limit. */
  protected count(): void {
    if (this.tree.size >= this.maxEntries) {
      throw new DistillError(
        'INSPECT_UNSAFE',
        `${this.label} takes the merged filesystem past ${this.maxEntries} entries; raise the maxEntries limit if the image is trusted`,
      );
    }
    this.tree.size++;
  }

  /**
   * Accounts for a node and everything below it going (wasted bytes, onRemove, the count); the
   * caller then unlinks or replaces it, which frees the storage.
   */
  protected remove(node: number, path: string): void {
    this.lastParent = undefined;
    const n = this.n;
    if (n.type(node) === T_FILE && !n.hardlinkTo.has(node)) this.tree.wastedBytes += n.size(node);
    this.opts.onRemove?.(`/${path}`, new NodeView(n, node), this.layer);
    this.tree.size--;
    if (n.type(node) === T_DIR) {
      for (const child of n.children(node)) this.remove(child, `${path}/${n.name(child)}`);
    }
  }

  /** Removes everything below a directory that lower layers wrote, keeping this layer's entries. */
  private purgeLower(dir: number, path: string): void {
    const n = this.n;
    for (const child of n.children(dir)) {
      const name = n.name(child);
      const p = path === '' ? name : `${path}/${name}`;
      if (n.touched(child) < this.layer) {
        this.remove(child, p);
        n.unlink(child);
      } else if (n.type(child) === T_DIR) {
        this.purgeLower(child, p);
        if (n.get(child, F_LAYER) < this.layer) this.implicitDir(child);
      }
    }
  }

  /** A lower directory that this layer deleted and wrote into again: a fresh implied directory. */
  private implicitDir(node: number): void {
    const n = this.n;
    n.setType(node, T_DIR, 0o755);
    n.setOwners(node, 0, 0);
    n.set(node, F_LAYER, this.layer);
  }

  protected whiteout(parts: string[], e: InputEntry): void {
    const n = this.n;
    const base = parts[parts.length - 1]!;
    const parentPath = parts.slice(0, -1).join('/');
    const parent = resolveId(n, parentPath, {});
    // Nothing is below a directory that does not exist (or is not a directory): nothing to hide.
    if (!parent.ok || n.type(parent.id) !== T_DIR) return;
    const dirPath = parent.path.slice(1);
    if (base === '.wh..wh..opq') {
      this.purgeLower(parent.id, dirPath);
      return;
    }
    if (base.startsWith('.wh..wh.')) return; // aufs metadata (.wh..wh.plnk, .wh..wh.aufs)
    const name = base.slice(4);
    if (name === '' || name === '.' || name === '..') {
      this.warn(`${this.where(e)} is a whiteout for no file name; skipped`);
      return;
    }
    const node = n.child(parent.id, name);
    if (node === NONE) return;
    const path = dirPath === '' ? name : `${dirPath}/${name}`;
    if (n.touched(node) < this.layer) {
      this.remove(node, path);
      n.unlink(node);
    } else if (n.type(node) === T_DIR && n.get(node, F_LAYER) < this.layer) {
      // This layer also wrote below it: the lower directory goes, this layer's entries stay.
      this.purgeLower(node, path);
      this.implicitDir(node);
    } else if (n.type(node) === T_DIR) {
      this.purgeLower(node, path);
    }
  }

  /**
   * The directory an entry goes into: components resolved through symlinks inside the image,
   * missing directories created. Undefined (with a warning) when that cannot be done. `via` is the
   * first symlink followed that would lead outside the tree on a disk (an absolute target, or a
   * `..` above the root): where an extractor that follows links would write the entry.
   */
  protected ensureDir(parts: string[], e: InputEntry): ParentDir | undefined {
    const n = this.n;
    const todo = parts.reverse();
    const names: string[] = [];
    const chain: number[] = [ROOT];
    let hops = 0;
    let steps = 0;
    let link: { path: string; target: string } | undefined;
    let via: { path: string; target: string } | undefined;
    while (todo.length > 0) {
      if (++steps > MAX_STEPS) {
        this.warn(
          `${this.where(e)} has a parent path that takes more than ${MAX_STEPS} steps to resolve; skipped`,
        );
        return undefined;
      }
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (names.length > 0) {
          names.pop();
          chain.pop();
        } else if (link !== undefined) via ??= link;
        continue;
      }
      const dir = chain[chain.length - 1]!;
      const child = n.child(dir, c);
      const type = child === NONE ? NONE : n.type(child);
      if (type === T_SYMLINK) {
        if (++hops > MAX_SYMLINK_HOPS) {
          this.warn(`${this.where(e)} has a parent directory behind a symlink loop; skipped`);
          return undefined;
        }
        const target = n.linkTarget.get(child) ?? '';
        link = { path: `/${[...names, c].join('/')}`, target };
        if (target.startsWith('/')) {
          via ??= link;
          names.length = 0;
          chain.length = 1;
        }
        const tparts = target.split('/');
        for (let i = tparts.length - 1; i >= 0; i--) todo.push(tparts[i]!);
        continue;
      }
      const made = this.dirAt(dir, c, child, type, names, e);
      if (made === undefined) return undefined;
      names.push(c);
      chain.push(made);
    }
    return { chain, names, via };
  }

  /**
   * The directory `c` of `dir`, where `child` (of `type`) is: created when missing; a lower layer's
   * non-directory becomes a directory, replaced in place so that the order of the directory's
   * entries does not change. Undefined (with a warning) when this layer wrote a non-directory
   * there, or the tree gets too deep.
   */
  private dirAt(
    dir: number,
    c: string,
    child: number,
    type: number,
    names: readonly string[],
    e: InputEntry,
  ): number | undefined {
    const n = this.n;
    let replaced = NONE;
    if (child !== NONE && type !== T_DIR) {
      const path = [...names, c].join('/');
      if (n.get(child, F_LAYER) === this.layer) {
        this.warn(
          `${this.where(e)} is inside /${path}, which the same layer wrote as a ${TYPES[type]!}; skipped`,
        );
        return undefined;
      }
      this.warn(`${this.where(e)} turns /${path}, a ${TYPES[type]!} of a lower layer, into a directory`);
      this.remove(child, path);
      replaced = child;
    }
    if (names.length >= MAX_DEPTH) {
      this.warn(`${this.where(e)} is nested deeper than ${MAX_DEPTH} directories; skipped`);
      return undefined;
    }
    if (child !== NONE && replaced === NONE) return child;
    this.count();
    const made = n.create(T_DIR, 0o755, this.layer, dir, c);
    if (replaced !== NONE) n.replace(replaced, made);
    else n.link(made);
    return made;
  }

  protected hardlinkTarget(e: InputEntry): { id: number; path: string } | undefined {
    const parts = e.linkname ? normalizeName(e.linkname) : null;
    if (!parts || parts.length === 0) {
      this.warn(
        `${this.where(e)} is a hardlink to ${show(e.linkname ?? '')}, outside the image root; skipped`,
      );
      return undefined;
    }
    const r = resolveId(this.n, parts.join('/'), { followLast: false });
    if (!r.ok || this.n.type(r.id) === T_DIR) {
      this.warn(
        `${this.where(e)} is a hardlink to ${show(e.linkname ?? '')}, which is ${r.ok ? 'a directory' : 'not in the image'}; skipped`,
      );
      return undefined;
    }
    return { id: r.id, path: r.path };
  }

  /** A copy of a node's metadata, link target and probe (a hardlink), not yet linked. */
  protected copyNode(from: number, parent: number, name: string): number {
    const n = this.n;
    const id = n.create(n.type(from), n.mode(from), this.layer, parent, name);
    n.setOwners(id, n.uid(from), n.gid(from));
    if (n.type(from) !== T_DIR) n.setSize(id, n.size(from));
    const target = n.linkTarget.get(from);
    if (target !== undefined) n.linkTarget.set(id, target);
    const hl = n.hardlinkTo.get(from);
    if (hl !== undefined) n.hardlinkTo.set(id, hl);
    if (n.probe.has(from)) n.probe.set(id, n.probe.get(from));
    return id;
  }
}
