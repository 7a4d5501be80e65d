import type { LayerEntry } from '../../layers/entries.js';
import { NONROOT_HOME, NONROOT_UID } from '../../plan/layout.js';

/**
 * The files distroless images have that no package ships: users and groups, home directories,
 * /tmp, nsswitch.conf and an os-release naming the image.
 */

const PASSWD = `root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
`;

const GROUP = `root:x:0:
tty:x:5:
staff:x:50:
nobody:x:65534:
nonroot:x:65532:
`;

const NSSWITCH = `passwd:         files
group:          files
shadow:         files
gshadow:        files

hosts:          files dns
networks:       files

protocols:      files
services:       files
ethers:         files
rpc:            files
`;

export interface OsRelease {
  versionId: string; // "13"
  codename: string; // "trixie"
}

export function osRelease(o: OsRelease): string {
  return `PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="${o.versionId}"
VERSION="Debian GNU/Linux ${o.versionId} (${o.codename})"
VERSION_CODENAME=${o.codename}
HOME_URL="https://www.debian.org/"
`;
}

function text(path: string, content: string, mode = 0o644): LayerEntry {
  return { type: 'file', path, mode, source: { kind: 'bytes', bytes: Buffer.from(content) } };
}

/**
 * Paths distill writes itself: a package entry at one of these is left out in their favour
 * (base-files ships its own os-release, /root and /tmp, for example).
 */
export const SYNTHETIC_PATHS = new Set([
  'etc/passwd',
  'etc/group',
  'etc/nsswitch.conf',
  'usr/lib/os-release',
  'root',
  'home/nonroot',
  'tmp',
  'etc/ssl/certs',
  'etc/ssl/certs/ca-certificates.crt',
]);

export function syntheticEntries(o: OsRelease): LayerEntry[] {
  return [
    text('/etc/passwd', PASSWD),
    text('/etc/group', GROUP),
    text('/etc/nsswitch.conf', NSSWITCH),
    text('/usr/lib/os-release', osRelease(o)),
    { type: 'dir', path: '/root', mode: 0o700 },
    { type: 'dir', path: NONROOT_HOME, mode: 0o700, uid: NONROOT_UID, gid: NONROOT_UID },
    { type: 'dir', path: '/tmp', mode: 0o1777 },
    { type: 'dir', path: '/etc/ssl/certs', mode: 0o755 },
  ];
}
