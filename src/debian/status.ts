/**
 * The dpkg database files a distroless image carries instead of /var/lib/dpkg/status: one file
 * per package in `/var/lib/dpkg/status.d/`, as GoogleContainerTools/distroless lays them out and
 * as syft, trivy and grype read them:
 *
 *   var/lib/dpkg/status.d/<package>           the package's control paragraph, with
 *                                             `Status: install ok installed` after `Package:`
 *                                             (where dpkg itself puts it in its status file)
 *   var/lib/dpkg/status.d/<package>.md5sums   the package's md5sums control file
 *
 * Files are named by package name only, also for `Multi-Arch: same` packages: an image holds one
 * architecture, so `<package>` is unique, and the scanners match `<package>.md5sums` to
 * `<package>` by that name. Pure: returns relative paths and bytes; the image builder puts them
 * in a layer.
 */
import { DistillError } from '../errors.js';
import { type Paragraph, serializeDeb822, serializeParagraph } from './deb822.js';
import { isValidPackageName } from './relations.js';

export const STATUS_D_DIR = 'var/lib/dpkg/status.d';
export const INSTALLED_STATUS = 'install ok installed';

export interface StatusFile {
  /** Relative to the image root, e.g. `var/lib/dpkg/status.d/libc6`. */
  path: string;
  content: Uint8Array;
  mode: number;
}

export interface InstalledPackage {
  control: Paragraph;
  /**
   * The md5sums control file as shipped (text), or path -> md5 hex computed from the data
   * entries for packages that ship none (see readDeb's computeMd5). Omitted: no .md5sums file.
   */
  md5sums?: string | ReadonlyMap<string, string>;
}

function packageName(control: Paragraph): string {
  const name = control.get('Package');
  if (name === undefined || !isValidPackageName(name)) {
    throw new DistillError(
      'DEB_INVALID',
      `control paragraph has ${name === undefined ? 'no Package field' : `an invalid package name "${name}"`}`,
    );
  }
  return name;
}

/** The control paragraph as an installed package: Status set right after Package. */
export function installedParagraph(control: Paragraph, status = INSTALLED_STATUS): Paragraph {
  packageName(control);
  return control.with('Status', status, { after: 'Package' });
}

/** md5sums file text from a path -> md5 map: `<md5>  <path>` lines, sorted by path. */
export function formatMd5sums(sums: ReadonlyMap<string, string>): string {
  const paths = [...sums.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = '';
  for (const p of paths) {
    const md5 = sums.get(p)!;
    if (!/^[0-9a-f]{32}$/.test(md5))
      throw new DistillError('DEB_INVALID', `md5 for ${p} is not 32 hex digits`);
    if (p.includes('\n') || p === '')
      throw new DistillError('DEB_INVALID', `invalid path in md5sums: ${JSON.stringify(p)}`);
    out += `${md5}  ${p.replace(/^\/+/, '')}\n`;
  }
  return out;
}

/** The status.d files for one package (its paragraph, and md5sums when known). */
export function statusDFiles(pkg: InstalledPackage): StatusFile[] {
  const name = packageName(pkg.control);
  const enc = new TextEncoder();
  const files: StatusFile[] = [
    {
      path: `${STATUS_D_DIR}/${name}`,
      content: enc.encode(serializeParagraph(installedParagraph(pkg.control))),
      mode: 0o644,
    },
  ];
  if (pkg.md5sums !== undefined) {
    let text = typeof pkg.md5sums === 'string' ? pkg.md5sums : formatMd5sums(pkg.md5sums);
    if (text !== '' && !text.endsWith('\n')) text += '\n';
    files.push({ path: `${STATUS_D_DIR}/${name}.md5sums`, content: enc.encode(text), mode: 0o644 });
  }
  return files;
}

/**
 * A classic `/var/lib/dpkg/status` database (all paragraphs, sorted by name, each with Status),
 * for images that want dpkg's own layout instead of status.d.
 */
export function dpkgStatusDatabase(controls: readonly Paragraph[]): string {
  const sorted = [...controls].sort((a, b) => {
    const x = packageName(a);
    const y = packageName(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  return serializeDeb822(sorted.map((c) => installedParagraph(c)));
}
