/**
 * A binary package as a Packages index lists it (name, version, architecture, relations,
 * Provides, Multi-Arch, the .deb's Filename, Size and SHA256), and an index of them for one suite:
 * what the resolver (resolver.ts) chooses among.
 */
import { DistillError } from '../errors.js';
import type { Paragraph } from './deb822.js';
import {
  isValidPackageName,
  type ProvidedPackage,
  parseProvides,
  parseRelations,
  type RelationList,
} from './relations.js';
import { parseVersion } from './version.js';

export type MultiArch = 'no' | 'same' | 'foreign' | 'allowed';

/** One stanza of a Packages index, with the fields the resolver and the fetcher need. */
export class BinaryPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly multiArch: MultiArch;
  readonly provides: readonly ProvidedPackage[];
  readonly essential: boolean;
  readonly priority: string | undefined;
  /** Path relative to the archive root, e.g. `pool/main/g/glibc/libc6_2.41-12_amd64.deb`. */
  readonly filename: string | undefined;
  readonly size: number | undefined;
  readonly sha256: string | undefined;
  /** The suite (or any label) of the index this stanza came from. */
  readonly suite: string;
  readonly paragraph: Paragraph;
  private parsed: Map<string, RelationList> = new Map();

  constructor(paragraph: Paragraph, suite: string) {
    const name = paragraph.require('Package');
    const where = `${suite}: package ${name}${paragraph.line ? ` (line ${paragraph.line})` : ''}`;
    if (!isValidPackageName(name)) {
      throw new DistillError('DEB822_INVALID', `${where}: invalid package name`);
    }
    this.name = name;
    this.version = paragraph.require('Version');
    try {
      parseVersion(this.version);
    } catch (err) {
      throw new DistillError('VERSION_INVALID', `${where}: ${(err as Error).message}`, { cause: err });
    }
    this.architecture = paragraph.require('Architecture');
    const ma = (paragraph.get('Multi-Arch') ?? 'no').toLowerCase();
    if (ma !== 'no' && ma !== 'same' && ma !== 'foreign' && ma !== 'allowed') {
      throw new DistillError('DEB822_INVALID', `${where}: unknown Multi-Arch value "${ma}"`);
    }
    this.multiArch = ma;
    const provides = paragraph.get('Provides');
    try {
      this.provides = provides === undefined ? [] : parseProvides(provides);
    } catch (err) {
      throw new DistillError('DEB822_INVALID', `${where}: ${(err as Error).message}`, { cause: err });
    }
    this.essential = (paragraph.get('Essential') ?? '').toLowerCase() === 'yes';
    this.priority = paragraph.get('Priority');
    this.filename = paragraph.get('Filename');
    const size = paragraph.get('Size');
    if (size !== undefined && !/^[0-9]+$/.test(size)) {
      throw new DistillError('DEB822_INVALID', `${where}: Size "${size}" is not a number`);
    }
    this.size = size === undefined ? undefined : Number(size);
    const sha = paragraph.get('SHA256');
    if (sha !== undefined && !/^[0-9a-f]{64}$/.test(sha)) {
      throw new DistillError('DEB822_INVALID', `${where}: SHA256 is not 64 lower-case hex digits`);
    }
    this.sha256 = sha;
    this.suite = suite;
    this.paragraph = paragraph;
  }

  /** A relationship field, parsed on first use (Depends, Pre-Depends, Conflicts, Breaks, ...). */
  relations(field: string): RelationList {
    let r = this.parsed.get(field);
    if (r === undefined) {
      const text = this.paragraph.get(field);
      try {
        r = text === undefined ? [] : parseRelations(text, field);
      } catch (err) {
        throw new DistillError(
          'DEB822_INVALID',
          `${this.suite}: package ${this.name}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      this.parsed.set(field, r);
    }
    return r;
  }

  get depends(): RelationList {
    return this.relations('Depends');
  }

  get preDepends(): RelationList {
    return this.relations('Pre-Depends');
  }

  toString(): string {
    return `${this.name} ${this.version} (${this.architecture}, ${this.suite})`;
  }
}

export interface PackageIndex {
  suite: string;
  packages: readonly BinaryPackage[];
}

export function packageIndex(suite: string, paragraphs: Iterable<Paragraph>): PackageIndex {
  const packages: BinaryPackage[] = [];
  for (const p of paragraphs) packages.push(new BinaryPackage(p, suite));
  return { suite, packages };
}

/** A request: `name`, `name=version`, `name (>= 1.2)`, `name:any`, or a parsed relation. */
