import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DistillError } from '../errors.js';
import { artifactPlatforms, copyImage, type PlatformChoice, selectPlatform } from '../media/copy.js';
import { type MediaOptions, openArtifact } from '../media/index.js';
import { defaultDockerConfigPath, type RegistryOptions } from '../media/registry/index.js';
import { parsePlatform } from '../oci/platform.js';
import { packageRoot } from '../package-root.js';
import { shellWords } from '../plan/app.js';
import { formatImageRef, parseImageRef } from '../ref/transport.js';
import { Store } from '../store/store.js';
import type { BaseArgs, BaseContext } from './base.js';
import type { BuildArgs } from './build.js';
import { holdMemory } from './heap.js';
import { formatBytes, makeReporter } from './progress.js';

type ParsedValues<T> = {
  [K in keyof T]?: T[K] extends { type: 'boolean' }
    ? boolean
    : T[K] extends { multiple: true }
      ? string[]
      : string;
};

function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return 0;
  if (!/^\d+$/.test(v)) throw new UsageError(`SOURCE_DATE_EPOCH must be a number of seconds, not "${v}"`);
  return Number(v);
}

/**
 * The command line. This is the only code that reads argv, prints, or decides exit codes:
 * 0 success, 1 failure (a user's mistake prints one sentence; a bug prints a stack and asks for
 * a report), 2 usage error.
 */
export interface Io {
  stdout: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const USAGE = `Usage: distill <command> [options]

Commands:
  build [DIR]         build a Node.js app into a distroless image, without a Docker daemon
  base VARIANT        build a distroless base image from signed Debian packages
                      (static, base-nossl, base, cc, nodejs22, nodejs24, nodejs26)
  lock VARIANT        pin a base's packages in distill.lock.json; lock --check finds updates
  inspect REF         what an image holds: size, shell, package managers, libc, tools, packages
  compare REF REF...  the same facts side by side, differences marked
  copy SRC DST        copy an image or index between any two media
  digest REF          print the manifest digest of an image
  cache du            show what the blob cache holds
  cache prune         empty the blob cache (--older-than DAYS keeps recent blobs)

Image references (as skopeo writes them):
  oci:DIR[:TAG]  oci-archive:FILE[:TAG]  docker-archive:FILE[:NAME:TAG]
  docker-daemon:NAME[:TAG]  docker://REGISTRY/REPO[:TAG|@DIGEST]  or a bare REGISTRY/REPO[:TAG]

base and lock options:
  --nonroot | --debug                user 65532 / busybox at /busybox (entrypoint /busybox/sh)
  --package NAME[=VERSION]           add a Debian package and its dependencies (repeatable)
  --arch amd64,arm64                 one image per architecture, in an index
  --suite S (repeatable)             default trixie, trixie-updates, trixie-security
  --mirror URL  --keyring FILE       another Debian mirror; the keys its InRelease is signed with
  -f base.yaml                       the same fields in a file, plus env, entrypoint, cmd, user,
                                     workdir and extra files
  --lock FILE                        build only from a lockfile (no index download)
  -o, --output REF                   where the image goes (repeatable; default oci:distill-VARIANT)
  lock --check                       exit 1 listing locked packages that have newer versions

build options:
  --node SPEC                        Node version (else engines.node, .nvmrc, .node-version,
                                     volta.node, else the active LTS)
  --cmd "FILE ARGS"                  what node runs (else distill.cmd, scripts.start, main, index.js)
  --build-script NAME                the script run before pruning (default: "build" if present)
  -w, --workspace NAME               build one package of an npm or pnpm workspace
  --base REF                         the OS base image (default: Debian nodejs packages, nonroot)
  --package NAME                     add a Debian package to the base (repeatable)
  --init                             tini as PID 1 (signals, zombie reaping)
  --healthcheck PATH|URL             a HEALTHCHECK that uses the image's node, not curl
  --debug                            add the busybox toolbox at /busybox
  --user U  -e NAME=VALUE  -p PORT   user (default 65532), environment, exposed ports
  --platform linux/amd64,linux/arm64 several platforms give an index
  -o REF (repeatable)  -t NAME[:TAG] outputs (default oci:DIR/.distill/image:TAG), image name
  --plan                             print the resolved plan as JSON and stop
  --pull                             resolve Node and the base packages again (else kept a day)

inspect and compare options:
  --format text|markdown|json|html   report format (json follows the published facts schema)
  --deny RULES                       exit 3 listing what breaks: shell, package-manager, root,
                                     setuid, world-writable, secrets, lotl[:TOOL], libc:musl,
                                     security-updates, unsafe-paths,
                                     size>200MB, compressed-size>50MB (comma-separated)
  --files PATH                       list the merged tree under PATH (inspect)
  --security                         deb packages Debian's security archive has newer (network)
  --security-mirror URL              the security archive (default deb.debian.org/debian-security)
  -o FILE                            write the report to FILE
  REF may also be rootfs:DIR or rootfs:FILE.tar[.gz] (a root filesystem)

Common options:
  --platform OS/ARCH[/VARIANT]|all   which image of a multi-platform index (default: all, or
                                     the host's when the destination holds one image)
  --format text|json                 output format
  --creds USER:PASS                  registry credentials (else ~/.docker/config.json)
  --src-creds, --dest-creds          credentials for one side of a copy
  --insecure                         allow plain HTTP to a registry that is not on loopback
  --quiet                            no progress on stderr
  -h, --help                         this help
`;

class UsageError extends Error {}

const COMMON = {
  platform: { type: 'string' },
  format: { type: 'string' },
  creds: { type: 'string' },
  'src-creds': { type: 'string' },
  'dest-creds': { type: 'string' },
  insecure: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

const BASE_OPTIONS = {
  file: { type: 'string', short: 'f' },
  nonroot: { type: 'boolean' },
  debug: { type: 'boolean' },
  package: { type: 'string', multiple: true },
  arch: { type: 'string' },
  suite: { type: 'string', multiple: true },
  mirror: { type: 'string' },
  keyring: { type: 'string', multiple: true },
  lock: { type: 'string' },
  node: { type: 'string' },
  'node-mirror': { type: 'string' },
} as const;

/** Options each command takes besides the common ones; anything else is a usage error. */
const COMMAND_OPTIONS = {
  copy: { 'manifest-format': { type: 'string' } },
  digest: {},
  cache: { 'older-than': { type: 'string' } },
  base: { ...BASE_OPTIONS, output: { type: 'string', short: 'o', multiple: true } },
  lock: { ...BASE_OPTIONS, output: { type: 'string', short: 'o' }, check: { type: 'boolean' } },
  inspect: {
    deny: { type: 'string', multiple: true },
    files: { type: 'string' },
    output: { type: 'string', short: 'o' },
    security: { type: 'boolean' },
    'security-mirror': { type: 'string' },
  },
  compare: {
    deny: { type: 'string', multiple: true },
    output: { type: 'string', short: 'o' },
    security: { type: 'boolean' },
    'security-mirror': { type: 'string' },
  },
  build: {
    node: { type: 'string' },
    'node-mirror': { type: 'string' },
    cmd: { type: 'string' },
    'build-script': { type: 'string' },
    workspace: { type: 'string', short: 'w' },
    base: { type: 'string' },
    package: { type: 'string', multiple: true },
    debug: { type: 'boolean' },
    init: { type: 'boolean' },
    healthcheck: { type: 'string' },
    user: { type: 'string' },
    env: { type: 'string', short: 'e', multiple: true },
    port: { type: 'string', short: 'p', multiple: true },
    output: { type: 'string', short: 'o', multiple: true },
    tag: { type: 'string', short: 't' },
    plan: { type: 'boolean' },
    pull: { type: 'boolean' },
    suite: { type: 'string', multiple: true },
    mirror: { type: 'string' },
    keyring: { type: 'string', multiple: true },
  },
} as const;

type AllOptions = typeof COMMON &
  typeof BASE_OPTIONS &
  typeof COMMAND_OPTIONS.build & {
    'manifest-format': { type: 'string' };
    'older-than': { type: 'string' };
    output: { type: 'string'; multiple: true };
    check: { type: 'boolean' };
    deny: { type: 'string'; multiple: true };
    files: { type: 'string' };
    security: { type: 'boolean' };
    'security-mirror': { type: 'string' };
  };

function parseCreds(s: string | undefined, flag: string): RegistryOptions['creds'] {
  if (s === undefined) return undefined;
  const i = s.indexOf(':');
  if (i <= 0) throw new UsageError(`${flag} must be USER:PASSWORD`);
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

function parsePlatformChoice(s: string | undefined): PlatformChoice | undefined {
  if (s === undefined) return undefined;
  return s === 'all' ? 'all' : parsePlatform(s);
}

function outputFormat(s: string | undefined): 'text' | 'json' {
  if (s === undefined || s === 'text') return 'text';
  if (s === 'json') return 'json';
  throw new UsageError(`--format must be text or json, not ${s}`);
}

function write(stream: Io['stdout'], text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      write(io.stdout, USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === 'version') {
      const pkg = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as {
        version: string;
      };
      write(io.stdout, pkg.version);
      return 0;
    }
    if (!(command in COMMAND_OPTIONS)) throw new UsageError(`unknown command "${command}"`);
    const parsed = parseArgs({
      args: rest,
      options: { ...COMMON, ...COMMAND_OPTIONS[command as keyof typeof COMMAND_OPTIONS] },
      allowPositionals: true,
      strict: true,
    });
    const positionals = parsed.positionals;
    const values = parsed.values as ParsedValues<AllOptions>;
    if (values.help) {
      write(io.stdout, USAGE);
      return 0;
    }
    const quiet = values.quiet === true;
    const reporter = makeReporter({ quiet, stream: io.stderr as NodeJS.WriteStream });
    const store = new Store(Store.defaultRoot(io.env));
    const format = command === 'inspect' || command === 'compare' ? 'text' : outputFormat(values.format);
    const registryBase: RegistryOptions = {
      dockerConfigPath: defaultDockerConfigPath(io.env),
      ...(values.insecure && { insecure: true }),
    };
    const creds = parseCreds(values.creds, '--creds');
    const media = (side: 'src' | 'dest'): MediaOptions => {
      const c = parseCreds(values[`${side}-creds`], `--${side}-creds`) ?? creds;
      return { store, progress: reporter, registry: { ...registryBase, ...(c && { creds: c }) } };
    };

    switch (command) {
      case 'copy': {
        if (positionals.length !== 2)
          throw new UsageError('copy needs a source and a destination: distill copy SRC DST');
        const src = parseImageRef(positionals[0]!);
        const dst = parseImageRef(positionals[1]!);
        const mf = values['manifest-format'];
        if (mf !== undefined && mf !== 'oci' && mf !== 'docker') {
          throw new UsageError('--manifest-format must be oci or docker');
        }
        const srcOpts = media('src');
        const dstOpts = media('dest');
        const platform = parsePlatformChoice(values.platform);
        const result = await copyImage(src, dst, {
          store,
          progress: reporter,
          // Reading uses the source's credentials and writing the destination's.
          registry: dstOpts.registry ?? {},
          sourceRegistry: srcOpts.registry ?? {},
          ...(platform !== undefined && { platform }),
          ...(mf !== undefined && { format: mf }),
        });
        reporter.done();
        if (format === 'json') {
          write(io.stdout, JSON.stringify({ from: formatImageRef(src), to: formatImageRef(dst), ...result }));
        } else {
          write(
            io.stdout,
            `copied ${formatImageRef(src)} to ${formatImageRef(dst)}: ${result.destination.digest} (${result.platforms.join(', ')})`,
          );
        }
        return 0;
      }
      case 'digest': {
        if (positionals.length !== 1)
          throw new UsageError('digest needs one image reference: distill digest REF');
        const ref = parseImageRef(positionals[0]!);
        const artifact = await selectPlatform(
          await openArtifact(ref, media('src')),
          parsePlatformChoice(values.platform) ?? 'all',
        );
        if (format === 'json') {
          write(
            io.stdout,
            JSON.stringify({
              reference: formatImageRef(ref),
              digest: artifact.manifest.digest,
              mediaType: artifact.manifest.mediaType,
              size: artifact.manifest.bytes.length,
              platforms: artifactPlatforms(artifact),
            }),
          );
        } else {
          write(io.stdout, artifact.manifest.digest);
        }
        return 0;
      }
      case 'cache': {
        const sub = positionals[0];
        if (sub === 'du') {
          const du = await store.du();
          if (format === 'json') write(io.stdout, JSON.stringify(du));
          else write(io.stdout, `${du.root}: ${du.blobs} blobs, ${formatBytes(du.bytes)}`);
          return 0;
        }
        if (sub === 'prune') {
          let olderThanMs = 0;
          const ot = values['older-than'];
          if (ot !== undefined) {
            const m = /^(\d+)d?$/.exec(ot);
            if (!m) throw new UsageError('--older-than takes a number of days, e.g. --older-than 30');
            olderThanMs = Number(m[1]) * 86_400_000;
          }
          const r = await store.prune(olderThanMs);
          if (format === 'json') write(io.stdout, JSON.stringify({ removed: r }));
          else write(io.stdout, `removed ${r.blobs} blobs, ${formatBytes(r.bytes)} from ${store.root}`);
          return 0;
        }
        throw new UsageError('cache needs a subcommand: du or prune');
      }
      case 'base':
      case 'lock': {
        if (positionals.length > 1)
          throw new UsageError(`${command} takes one variant: distill ${command} VARIANT [options]`);
        const args: BaseArgs = {
          packages: values.package ?? [],
          suites: values.suite ?? [],
          keyrings: values.keyring ?? [],
          ...(positionals[0] !== undefined && { variant: positionals[0] }),
          ...(values.file !== undefined && { file: values.file }),
          ...(values.nonroot && { nonroot: true }),
          ...(values.debug && { debug: true }),
          ...(values.arch !== undefined && { arch: values.arch }),
          ...(values.mirror !== undefined && { mirror: values.mirror }),
          ...(values.node !== undefined && { node: values.node }),
          ...(values['node-mirror'] !== undefined && { nodeMirror: values['node-mirror'] }),
          ...(values.lock !== undefined && { lock: values.lock }),
        };
        const warnings: string[] = [];
        const ctx: BaseContext = {
          store,
          reporter,
          env: io.env,
          warn: (m) => {
            warnings.push(m);
            write(io.stderr, `distill: warning: ${m}`);
          },
        };
        if (command === 'lock') {
          const output = values.output as unknown as string | undefined;
          const { commandLock } = await import('./base.js');
          const r = await commandLock(args, ctx, values.check === true, output);
          reporter.done();
          if (r.outdated !== undefined) {
            if (format === 'json')
              write(io.stdout, JSON.stringify({ lockfile: r.file, outdated: r.outdated }));
            else if (r.outdated.length === 0) write(io.stdout, `${r.file}: every locked package is current`);
            else {
              write(io.stdout, `${r.file}: ${r.outdated.length} locked packages have newer versions:`);
              for (const o of r.outdated) {
                write(io.stdout, `  ${o.name} (${o.arch}): ${o.locked} -> ${o.available} in ${o.suite}`);
              }
              write(io.stdout, 'Run distill lock again to take them.');
            }
            return r.outdated.length === 0 ? 0 : 1;
          }
          const n = Object.values(r.lock!.architectures).reduce((k, l) => k + l.length, 0);
          if (format === 'json') write(io.stdout, JSON.stringify({ lockfile: r.file, packages: n }));
          else
            write(
              io.stdout,
              `wrote ${r.file}: ${n} packages${r.lock!.node ? `, Node ${r.lock!.node.version}` : ''}`,
            );
          return 0;
        }
        const epoch = sourceDateEpoch(io.env);
        const { commandBase } = await import('./base.js');
        const r = await commandBase(args, { ...ctx, media: media('dest') }, values.output ?? [], epoch);
        reporter.done();
        if (format === 'json') {
          write(
            io.stdout,
            JSON.stringify({
              digest: r.artifact.manifest.digest,
              mediaType: r.artifact.manifest.mediaType,
              platforms: artifactPlatforms(r.artifact),
              outputs: r.outputs,
              packages: r.lock.architectures,
              node: r.lock.node?.version,
              warnings,
            }),
          );
        } else {
          write(
            io.stdout,
            `built ${r.artifact.manifest.digest} (${artifactPlatforms(r.artifact).join(', ')})`,
          );
          for (const o of r.outputs) write(io.stdout, `  -> ${o}`);
        }
        return 0;
      }
      case 'inspect':
      case 'compare': {
        const { commandCompare, commandInspect } = await import('./inspect.js');
        const output = values.output as unknown as string | undefined;
        const args = {
          ...(values.format !== undefined && { format: values.format }),
          ...(values.deny !== undefined && { deny: values.deny }),
          ...(values.files !== undefined && { files: values.files }),
          ...(values.platform !== undefined && { platform: values.platform }),
          ...(output !== undefined && { output }),
          ...(values.security && { security: true }),
          ...(values['security-mirror'] !== undefined && { securityMirror: values['security-mirror'] }),
        };
        // The tree is held to the end while garbage is made at a high rate: a young generation
        // held at 4 MB took peak RSS on bench/inspect's near-the-cap image from ~160 MB to ~130
        // MB in the same time (2 MB saved nothing more), and the layers' dead buffers collected
        // every 2 MB keep a large file from adding ~25 MB to that (see heap.ts).
        const hold = holdMemory(4 * 2 ** 20);
        const ctx = { store, reporter, media: media('src'), onLayerChunk: hold.chunk };
        try {
          const r =
            command === 'inspect'
              ? await commandInspect(positionals, args, ctx)
              : await commandCompare(positionals, args, ctx);
          reporter.done();
          for (const piece of r.pieces()) io.stdout.write(piece);
          if (r.denied !== '') io.stderr.write(r.denied);
          return r.exitCode;
        } finally {
          hold.release();
        }
      }
      case 'build': {
        if (positionals.length > 1)
          throw new UsageError('build takes one app directory: distill build [DIR]');
        let cmd: string[] | undefined;
        if (values.cmd !== undefined) {
          cmd = shellWords(values.cmd);
          if (!cmd || cmd.length === 0) {
            throw new UsageError(
              '--cmd takes the arguments for node as one string, e.g. --cmd "server.js --port 8080"',
            );
          }
          if (cmd[0] === 'node') cmd = cmd.slice(1);
        }
        for (const e of values.env ?? []) {
          if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(e)) throw new UsageError(`--env takes NAME=VALUE, not "${e}"`);
        }
        for (const p of values.port ?? []) {
          if (!/^\d{1,5}(\/(tcp|udp))?$/.test(p))
            throw new UsageError(`--port takes a port number like 8080 or 8080/udp, not "${p}"`);
        }
        const args: BuildArgs = {
          dir: positionals[0] ?? '.',
          packages: values.package ?? [],
          debug: values.debug === true,
          init: values.init === true,
          env: values.env ?? [],
          ports: values.port ?? [],
          outputs: values.output ?? [],
          pull: values.pull === true,
          suites: values.suite ?? [],
          keyrings: values.keyring ?? [],
          ...(cmd !== undefined && { cmd }),
          ...(values.node !== undefined && { node: values.node }),
          ...(values['node-mirror'] !== undefined && { nodeMirror: values['node-mirror'] }),
          ...(values['build-script'] !== undefined && { buildScript: values['build-script'] }),
          ...(values.workspace !== undefined && { workspace: values.workspace }),
          ...(values.base !== undefined && { base: values.base }),
          ...(values.healthcheck !== undefined && { healthcheck: values.healthcheck }),
          ...(values.user !== undefined && { user: values.user }),
          ...(values.tag !== undefined && { tag: values.tag }),
          ...(values.mirror !== undefined && { mirror: values.mirror }),
          ...(values.platform !== undefined && {
            platforms: values.platform
              .split(',')
              .map((p) => p.trim())
              .filter(Boolean),
          }),
        };
        const warnings: string[] = [];
        const ctx: BaseContext = {
          store,
          reporter,
          env: io.env,
          media: media('dest'),
          warn: (m) => {
            warnings.push(m);
            write(io.stderr, `distill: warning: ${m}`);
          },
        };
        const epoch = sourceDateEpoch(io.env);
        // Each command's modules are loaded when it runs: start-up time is most of a warm build.
        const { commandBuild } = await import('./build.js');
        const r = await commandBuild(args, ctx, epoch, values.plan === true);
        reporter.done();
        if (values.plan) {
          write(io.stdout, JSON.stringify(r.plan, null, 2));
          return 0;
        }
        const artifact = r.artifact!;
        if (format === 'json') {
          write(
            io.stdout,
            JSON.stringify({
              digest: artifact.manifest.digest,
              mediaType: artifact.manifest.mediaType,
              platforms: artifactPlatforms(artifact),
              outputs: r.plan.outputs,
              plan: r.plan,
              warnings,
            }),
          );
        } else {
          write(io.stdout, `built ${artifact.manifest.digest} (${artifactPlatforms(artifact).join(', ')})`);
          for (const o of r.plan.outputs) write(io.stdout, `  -> ${o}`);
          const first = r.plan.outputs[0]!;
          const daemonOut = r.plan.outputs.find((o) => o.startsWith('docker-daemon:'));
          const name = daemonOut !== undefined ? daemonOut.slice('docker-daemon:'.length) : r.dockerName;
          if (
            first.startsWith('oci:') ||
            first.startsWith('oci-archive:') ||
            first.startsWith('docker-archive:')
          ) {
            write(io.stdout, `Load it into Docker:  distill copy ${first} docker-daemon:${name}`);
            write(io.stdout, `Push it:              distill copy ${first} docker://REGISTRY/${name}`);
          }
          write(
            io.stdout,
            `Run it:               docker run --rm${r.plan.ports.map((p) => ` -p ${p.replace(/\/.*$/, '')}:${p.replace(/\/.*$/, '')}`).join('')} ${name}`,
          );
        }
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    return report(err, io);
  }
}

const USAGE_CODES = new Set([
  'USAGE',
  'REF_INVALID',
  'TRANSPORT_UNKNOWN',
  'PLATFORM_INVALID',
  'DIGEST_INVALID',
]);

function report(err: unknown, io: Io): number {
  if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    write(io.stderr, `distill: ${(err as Error).message}\nRun "distill --help" for usage.`);
    return 2;
  }
  if (err instanceof DistillError && err.userError) {
    write(io.stderr, `distill: ${err.message}`);
    if (io.env.DISTILL_DEBUG) write(io.stderr, String(err.stack));
    return USAGE_CODES.has(err.code) ? 2 : 1;
  }
  const e = err as Error;
  write(
    io.stderr,
    `distill: internal error: ${e?.message ?? String(err)}\n${e?.stack ?? ''}\nThis is a bug in distill; please report it with the command you ran and this output.`,
  );
  return 1;
}
