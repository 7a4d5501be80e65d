import type { Image } from '../../src/oci/image.js';
import { dir, file, imageOf, symlink } from './helpers.js';

export const HOSTILE_CREATED_BY = '<script>alert(1)</script>';
export const TOKEN_VALUE = 'tok_live_5e6f7a8b';

/**
 * An Alpine-like image with everything --deny looks for: busybox sh, apk, curl, a setuid su,
 * musl, root user, a token in the env, a world-writable file; and a history a hostile image
 * could write (a script tag, a terminal escape).
 */
export function shellImage(): Promise<Image> {
  return imageOf({
    layers: [
      [
        file('etc/os-release', 'ID=alpine\nVERSION_ID=3.22.2\nPRETTY_NAME="Alpine Linux v3.22"\n'),
        file('lib/ld-musl-x86_64.so.1', 'musl', 0o755),
        file('bin/busybox', 'busybox', 0o755),
        symlink('bin/sh', '/bin/busybox'),
        file('bin/su', 'su', 0o4755),
        file('sbin/apk', 'apk', 0o755),
        file('lib/apk/db/installed', 'P:musl\nV:1.2.5-r10\n\nP:busybox\nV:1.37.0-r19\n'),
      ],
      [dir('usr/bin/'), file('usr/bin/curl', 'c'.repeat(5000), 0o755), file('etc/open.conf', 'x', 0o666)],
    ],
    config: {
      Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', `API_TOKEN=${TOKEN_VALUE}`],
      Cmd: ['/bin/sh'],
    },
    history: [{ created_by: HOSTILE_CREATED_BY }, { created_by: 'RUN echo \u001b[31mred && apk add curl' }],
  });
}

/** A distroless-like image: glibc, no shell, no package manager, user 65532, a Node app. */
export function distrolessImage(): Promise<Image> {
  return imageOf({
    layers: [
      [
        file('etc/os-release', 'ID=debian\nVERSION_ID=13\nPRETTY_NAME="Debian GNU/Linux 13 (trixie)"\n'),
        file(
          'etc/passwd',
          'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n',
        ),
        dir('usr/lib/x86_64-linux-gnu/'),
        file('usr/lib/x86_64-linux-gnu/libc.so.6', 'libc', 0o755),
        dir('var/lib/dpkg/status.d/'),
        file('var/lib/dpkg/status.d/libc6', 'Package: libc6\nVersion: 2.41-12\n'),
        dir('tmp/', 0o1777),
      ],
      [dir('app/'), file('app/index.js', 'console.log(1)')],
    ],
    config: {
      User: '65532',
      Entrypoint: ['/nodejs/bin/node'],
      Cmd: ['index.js'],
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {} },
    },
    history: [{ created_by: 'distill base nodejs24' }, { created_by: 'COPY app /app' }],
  });
}
