import type { Duplex, Readable, Writable } from 'node:stream';
import { DistillError } from '../errors.js';
import type { DaemonClient } from '../media/daemon/client.js';
import {
  attachContainer,
  createContainer,
  removeContainer,
  resizeTty,
  startContainer,
  waitContainer,
} from '../media/daemon/containers.js';
import { FrameSplitter } from '../media/daemon/frames.js';
import { BUSYBOX_DIR } from '../plan/layout.js';
import { type Target, toolboxSpec } from './target.js';

/**
 * One `distill debug` session: a toolbox container joined to the target runs a shell (or the
 * command given), attached through the Engine API as `docker run -it` / `docker run` would be,
 * and is removed when it ends, fails, or the caller aborts. The library takes streams, a source
 * of window sizes and an AbortSignal; the CLI turns its terminal into those (raw mode, SIGWINCH).
 */
export interface TerminalSize {
  rows: number;
  columns: number;
}

export interface SessionIo {
  /** Attached as the toolbox's stdin when given; its end closes the toolbox's stdin. */
  stdin?: Readable;
  stdout: Writable;
  /** Without a TTY, the toolbox's stderr (with one, everything goes to stdout). */
  stderr: Writable;
  /** A TTY of this size; `onResize` gives new sizes until the returned function is called. */
  tty?: { size: TerminalSize; onResize?(listener: (size: TerminalSize) => void): () => void };
}

export interface SessionRequest {
  target: Target;
  /** The toolbox image in the engine. */
  toolbox: string;
  /** What to run; none: an interactive shell with a banner, in /proc/1/root. */
  command?: string[];
  io: SessionIo;
  signal?: AbortSignal;
}

/** The PIDs of node processes, lowest first (their comm may be node-MainThread: match the exe). */
export const NODE_PIDS =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${d#/proc/}, not a template
  'for d in /proc/[0-9]*; do case "$(readlink "$d/exe" 2>/dev/null)" in */node) echo "${d#/proc/}";; esac; done | sort -n';

/**
 * The shell's start: a one-line banner on stderr (target, image, PID 1 and its user, node's PID,
 * where the files are), then a shell in the target's root. distill's images run node under tini,
 * so PID 1 is often tini and node its child.
 */
const SHELL_SCRIPT = [
  'cd /proc/1/root 2>/dev/null || echo "distill debug: cannot enter /proc/1/root (no SYS_PTRACE?)" >&2',
  "u=$(awk '/^Uid:/ { print $2; exit }' /proc/1/status 2>/dev/null)",
  'n=$(awk -F: -v u="$u" \'$3 == u { print $1; exit }\' /proc/1/root/etc/passwd 2>/dev/null)',
  `p=$(${NODE_PIDS} | head -n 1)`,
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's ${n:-?}, not a template
  'echo "distill debug: $DISTILL_TARGET ($DISTILL_IMAGE): PID 1 is $(cat /proc/1/comm 2>/dev/null) as ${n:-?} (uid ${u:-?})${p:+, node is PID $p}; its files are at /proc/1/root, where this shell starts; tools in /busybox; exit to leave" >&2',
  'exec sh',
].join('\n');

/** A command runs in the target's root too, so relative paths name the target's files. */
const COMMAND_SCRIPT = 'cd /proc/1/root 2>/dev/null; exec "$@"';

/** How long output may trail the exit status before the session ends without it. */
const OUTPUT_GRACE_MS = 2000;

/** Runs the session; resolves with the exit status of the shell or command. */
export async function runSession(client: DaemonClient, req: SessionRequest): Promise<number> {
  const { io, target } = req;
  const tty = io.tty !== undefined;
  const stdin = io.stdin !== undefined;
  // Found on PATH (/busybox first): distill's toolbox or another one given with --image.
  const sh = 'sh';
  const spec = toolboxSpec(req.toolbox, target, {
    Entrypoint:
      req.command === undefined ? [sh, '-c', SHELL_SCRIPT] : [sh, '-c', COMMAND_SCRIPT, 'distill-debug'],
    ...(req.command !== undefined && { Cmd: req.command }),
    Env: [
      `DISTILL_TARGET=${target.name}`,
      `DISTILL_IMAGE=${target.image}`,
      `PS1=[debug ${target.name}] \\w # `,
      `PATH=${BUSYBOX_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    ],
    Tty: tty,
    OpenStdin: stdin,
    StdinOnce: stdin,
    AttachStdin: stdin,
    AttachStdout: true,
    AttachStderr: true,
  });
  req.signal?.throwIfAborted();
  const id = await createContainer(client, spec);
  let stopResize: (() => void) | undefined;
  let stopInput: (() => void) | undefined;
  let socket: Duplex | undefined;
  // The removal itself is the finally's, awaited: a second one racing it would answer "already
  // in progress" at once, and distill would end before the engine had removed the toolbox.
  const onAbort = () => socket?.destroy();
  req.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const attached = await attachContainer(client, id, stdin);
    socket = attached.socket;
    const output = pipeOutput(attached.socket, attached.head, io, tty);
    const exited = waitContainer(client, id, 'next-exit');
    exited.catch(() => {});
    await startContainer(client, id);
    if (io.tty) {
      const resize = (size: TerminalSize) => void resizeTty(client, id, size).catch(() => {});
      resize(io.tty.size);
      stopResize = io.tty.onResize?.(resize);
    }
    if (io.stdin) stopInput = pipeInput(io.stdin, attached.socket);
    const status = await Promise.race([exited, aborted(req.signal)]);
    // What the process wrote last is still on its way when the exit status arrives.
    await Promise.race([output, new Promise((r) => setTimeout(r, OUTPUT_GRACE_MS).unref())]);
    return status;
  } finally {
    stopResize?.();
    stopInput?.();
    req.signal?.removeEventListener('abort', onAbort);
    socket?.destroy();
    await removeContainer(client, id);
  }
}

/** Rejects with the signal's reason when it aborts (never resolves). */
export function aborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal === undefined) return;
    const fail = () =>
      reject(
        signal.reason instanceof DistillError
          ? signal.reason
          : new DistillError('ABORTED', 'the session was interrupted'),
      );
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/**
 * The toolbox's output to the caller's streams: raw with a TTY, else split from the engine's
 * frames. Resolves when the engine ends the stream (after the process exited), or a moment
 * after the exit status arrived if it does not.
 */
function pipeOutput(socket: Duplex, head: Buffer, io: SessionIo, tty: boolean): Promise<void> {
  const write = (out: Writable, data: Buffer) => {
    if (!out.write(data)) {
      socket.pause();
      out.once('drain', () => socket.resume());
    }
  };
  let sink: (data: Buffer) => void;
  if (tty) {
    sink = (data) => write(io.stdout, data);
  } else {
    const splitter = new FrameSplitter((s, p) => write(s === 'stderr' ? io.stderr : io.stdout, p));
    splitter.on('error', (err) => socket.destroy(err));
    sink = (data) => splitter.write(data);
  }
  if (head.length > 0) sink(head);
  socket.on('data', sink);
  return new Promise((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
}

/** The caller's stdin to the toolbox; its end half-closes the connection, which closes stdin there. */
export function pipeInput(stdin: Readable, socket: Duplex): () => void {
  const onData = (d: Buffer) => {
    if (!socket.destroyed && !socket.write(d)) {
      stdin.pause();
      socket.once('drain', () => stdin.resume());
    }
  };
  const onEnd = () => {
    if (!socket.destroyed) socket.end();
  };
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  // The caller's stdin (a terminal) is left as it was found: paused, nothing listening.
  return () => {
    stdin.removeListener('data', onData);
    stdin.removeListener('end', onEnd);
    stdin.pause();
  };
}
