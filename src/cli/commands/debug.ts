import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { copyDebugImage } from '../../debug/copy.js';
import { debugContainer, inspectNode } from '../../debug/debug.js';
import { type InspectorForward, parseListen } from '../../debug/inspect.js';
import { kubectlCommands, podName, shellLine } from '../../debug/kubernetes.js';
import type { SessionIo, TerminalSize } from '../../debug/session.js';
import { buildToolbox, debianArch, type ToolboxDeps } from '../../debug/toolbox.js';
import { DistillError } from '../../errors.js';
import { hostPlatform } from '../../host.js';
import { publish } from '../../media/publish.js';
import { defaultBaseConfig } from '../../plan/base.js';
import { parseImageRef } from '../../ref/transport.js';
import { aptSource } from '../base.js';
import { type Context, context, usage } from '../context.js';
import { cancelOnSignals } from '../signals.js';
import type { Call, Values } from '../spec.js';
import type { DEBUG_OPTIONS } from '../specs/debug.js';

/**
 * `distill debug`: the terminal side of a session. This is where the process state is: stdin
 * in raw mode while a TTY session runs (and restored however it ends), SIGWINCH as resizes,
 * Ctrl-C / SIGTERM / SIGHUP as the session's abort (cancelOnSignals). The rest is src/debug.
 */
type DebugValues = Values<typeof DEBUG_OPTIONS>;

export async function run(call: Call<DebugValues>): Promise<number> {
  const v = call.values;
  const [container, ...command] = call.positionals;
  const outputs = v.output ?? [];
  if (v['copy-image'] !== undefined || v.toolbox) return writeImage(call, outputs, command);
  if (outputs.length > 0) throw usage('-o goes with --copy-image or --toolbox');
  if (container === undefined) {
    throw usage('debug needs a container: distill debug CONTAINER [-- CMD ARGS...]');
  }
  const pod = podName(container);
  if (pod !== undefined) return kubernetes(call, pod, command);
  if (v.container !== undefined || v.namespace !== undefined || v.run) {
    throw usage('-c, -n and --run go with pod/NAME (Kubernetes); a Docker container is named alone');
  }
  const c = await context(call);
  const common = {
    container,
    ...toolboxDeps(call, c),
    ...(v.image !== undefined && { image: v.image }),
    daemon: { env: call.env },
  };
  if (v.inspect !== undefined) {
    if (command.length > 0) throw usage('--inspect forwards the inspector; it runs no command');
    const listen = parseListen(v.inspect);
    return cancelOnSignals(async (signal) => {
      const fwd = await inspectNode({ ...common, listen, signal });
      c.reporter.done();
      await call.print(inspectorLines(fwd).join('\n'));
      await fwd.closed;
      return 0;
    });
  }
  return cancelOnSignals(async (signal) => {
    const terminal = terminalIo(command.length === 0);
    try {
      return await debugContainer({
        ...common,
        ...(command.length > 0 && { command }),
        io: terminal.io,
        signal,
      });
    } finally {
      terminal.restore();
      c.reporter.done();
    }
  });
}

/**
 * The session's streams. A shell on a terminal gets a TTY of the terminal's size (raw mode: keys
 * go to the toolbox as typed, Ctrl-C included); a shell on a pipe reads the pipe; a command
 * reads stdin only when it is not a terminal (as `docker run -i` would, without waiting on a
 * terminal nobody types into).
 */
function terminalIo(shell: boolean): { io: SessionIo; restore(): void } {
  const stdin = process.stdin;
  // The toolbox's bytes go to the terminal as they come: the session is the command's output.
  const io: SessionIo = { stdout: process.stdout, stderr: process.stderr };
  if (!stdin.isTTY) {
    io.stdin = stdin;
    return { io, restore: () => {} };
  }
  if (!shell) return { io, restore: () => {} };
  const size = (): TerminalSize => ({
    rows: process.stdout.rows || 24,
    columns: process.stdout.columns || 80,
  });
  stdin.setRawMode(true);
  io.stdin = stdin;
  io.tty = {
    size: size(),
    onResize(listener) {
      const onWinch = () => listener(size());
      process.on('SIGWINCH', onWinch);
      return () => process.removeListener('SIGWINCH', onWinch);
    },
  };
  return { io, restore: () => stdin.setRawMode(false) };
}

/** What --inspect prints: where the forward is and how to open DevTools on it. */
function inspectorLines(fwd: InspectorForward): string[] {
  const at = `${fwd.host.includes(':') ? `[${fwd.host}]` : fwd.host}:${fwd.port}`;
  const lines = [`the Node inspector of node (PID ${fwd.pid}) is forwarded to ${at}; Ctrl-C closes it`];
  for (const t of fwd.targets)
    lines.push(`  ${t.title}`, `    DevTools: ${t.devtools}`, `    WebSocket: ${t.webSocketUrl}`);
  lines.push(`  or in Chrome: chrome://inspect, Configure..., add ${at}`);
  return lines;
}

/** What building the toolbox needs, from the command's context. */
function toolboxDeps(call: Call<DebugValues>, c: Context): Omit<ToolboxDeps, 'signal'> {
  return {
    store: c.store,
    apt: () =>
      aptSource(
        { packages: [], suites: [], keyrings: [] },
        { store: c.store, reporter: c.reporter, env: call.env, warn: c.warn },
        defaultBaseConfig('static').suites,
      ),
    step: (m) => c.reporter.step?.(m),
    warn: c.warn,
  };
}

/** `--copy-image REF -o DEST...` and `--toolbox -o DEST...`. */
async function writeImage(call: Call<DebugValues>, outputs: string[], rest: string[]): Promise<number> {
  const v = call.values;
  if (rest.length > 0 || v.inspect !== undefined)
    throw usage('--copy-image and --toolbox write an image; they take no container or command');
  if (v['copy-image'] !== undefined && v.toolbox) throw usage('give --copy-image REF or --toolbox, not both');
  if (outputs.length === 0) throw usage('--copy-image and --toolbox need -o DEST (an image reference)');
  const c = await context(call);
  return cancelOnSignals(async (signal) => {
    const deps = { ...toolboxDeps(call, c), signal };
    const media = c.media('dest');
    let lines: string[];
    if (v['copy-image'] !== undefined) {
      const src = parseImageRef(v['copy-image']);
      const r = await copyDebugImage(src, outputs, { ...deps, media: { ...c.media('src'), ...media } });
      lines = r.published.map(
        (p) =>
          `wrote the debug variant of ${v['copy-image']} (${r.source.manifest.digest}) to ${p.ref}: ${p.descriptor.digest}`,
      );
    } else {
      const arch = debianArch(hostPlatform().architecture) ?? 'amd64';
      const toolbox = await buildToolbox(arch, deps);
      const published = await publish(toolbox.image, outputs, media);
      lines = published.map((p) => `wrote the toolbox (${toolbox.ref}) to ${p.ref}: ${p.descriptor.digest}`);
    }
    c.reporter.done();
    await call.print(lines.join('\n'));
    return 0;
  });
}

/** `pod/NAME`: the kubectl debug commands, printed, or run with --run. */
async function kubernetes(call: Call<DebugValues>, pod: string, rest: string[]): Promise<number> {
  const v = call.values;
  if (rest.length > 0)
    throw usage('pod/NAME opens a shell (or with --inspect, the inspector); it runs no command');
  if (v.image === undefined) {
    throw usage(
      "pod/NAME needs --image REF, a toolbox the cluster can pull; push distill's with distill debug --toolbox -o docker://REGISTRY/distill-toolbox:1",
    );
  }
  if (v.inspect !== undefined && v.container === undefined)
    throw usage('--inspect on a pod needs -c CONTAINER, the container whose node to open');
  const commands = kubectlCommands({
    pod,
    image: v.image,
    ...(v.container !== undefined && { container: v.container }),
    ...(v.namespace !== undefined && { namespace: v.namespace }),
    ...(v.inspect !== undefined && { inspectPort: parseListen(v.inspect).port }),
  });
  if (!v.run) {
    await call.print(commands.map((argv) => `kubectl ${shellLine(argv)}`).join('\n'));
    return 0;
  }
  for (const argv of commands) {
    const status = await runKubectl(argv, call.env);
    if (status !== 0) return status;
  }
  return 0;
}

/** Runs kubectl on this terminal; its status, or a clear error when there is no kubectl. */
function runKubectl(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', argv, { stdio: 'inherit', env });
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new DistillError(
              'NOT_FOUND',
              'kubectl is not on PATH; install it, or leave out --run and run the printed commands',
            )
          : err,
      ),
    );
    child.once('close', (code, sig) => resolve(code ?? (sig ? 128 + (osConstants.signals[sig] ?? 0) : 1)));
  });
}
