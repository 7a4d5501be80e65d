import { debugContainer, inspectNode } from '../../debug/debug.js';
import { type InspectorForward, parseListen } from '../../debug/inspect.js';
import type { SessionIo, TerminalSize } from '../../debug/session.js';
import { defaultBaseConfig } from '../../plan/base.js';
import { aptSource } from '../base.js';
import { context, usage } from '../context.js';
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
  if (container === undefined) {
    throw usage('debug needs a container: distill debug CONTAINER [-- CMD ARGS...]');
  }
  const c = await context(call);
  const step = (m: string) => c.reporter.step?.(m);
  const common = {
    container,
    ...(v.image !== undefined && { image: v.image }),
    daemon: { env: call.env },
    store: c.store,
    apt: () =>
      aptSource(
        { packages: [], suites: [], keyrings: [] },
        { store: c.store, reporter: c.reporter, env: call.env, warn: c.warn },
        defaultBaseConfig('static').suites,
      ),
    step,
    warn: c.warn,
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
