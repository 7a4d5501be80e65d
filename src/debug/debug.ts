import { DistillError } from '../errors.js';
import { DaemonClient, type DaemonOptions } from '../media/daemon/client.js';
import { hasImage } from '../media/daemon/containers.js';
import { forwardInspector, type InspectorForward } from './inspect.js';
import { runSession, type SessionIo } from './session.js';
import { findTarget, sweepToolboxes, type Target } from './target.js';
import { ensureToolbox, type ToolboxDeps } from './toolbox.js';

/**
 * `distill debug CONTAINER`, as a library call: finds the running container in the Docker
 * engine, removes what killed sessions left, brings the toolbox (distill's own, built from
 * Debian's busybox-static, or the image the caller names) and runs the session. Everything
 * that touches the process (the terminal's raw mode, SIGWINCH, signals) is the caller's: it
 * passes streams, a source of window sizes and an AbortSignal.
 */
export interface DebugRequest extends Omit<ToolboxDeps, 'signal'> {
  /** The container: a name or an ID. */
  container: string;
  /** What to run in the toolbox; none: an interactive shell in /proc/1/root. */
  command?: string[];
  /** Another toolbox image, already in the engine; it needs `sh` on its PATH (or in /busybox). */
  image?: string;
  daemon?: DaemonOptions;
  io: SessionIo;
  signal?: AbortSignal;
}

/** Opens the engine, sweeps the leftovers of killed sessions and finds the target. */
export async function openTarget(
  container: string,
  daemon: DaemonOptions | undefined,
): Promise<{ client: DaemonClient; target: Target; swept: string[] }> {
  const client = await DaemonClient.open(daemon);
  const swept = await sweepToolboxes(client);
  const target = await findTarget(client, container);
  return { client, target, swept };
}

/** The toolbox image to run: the one asked for (which must be in the engine), else distill's. */
export async function toolboxImage(
  client: DaemonClient,
  req: Omit<DebugRequest, 'container' | 'io'>,
): Promise<string> {
  if (req.image !== undefined) {
    if (!(await hasImage(client, req.image))) {
      throw new DistillError(
        'MANIFEST_UNKNOWN',
        `the Docker engine at ${client.where} has no image ${req.image} for --image; load it first (distill copy REF docker-daemon:${req.image})`,
      );
    }
    return req.image;
  }
  const { container: _c, command: _cmd, image: _i, daemon: _d, io: _io, ...deps } = req as DebugRequest;
  return (await ensureToolbox(client, { ...deps, ...(req.signal && { signal: req.signal }) })).ref;
}

/** Runs a debug session; resolves with the exit status of the shell or command. */
export async function debugContainer(req: DebugRequest): Promise<number> {
  const { client, target, swept } = await openTarget(req.container, req.daemon);
  if (swept.length > 0) req.step?.(`removed ${swept.length} toolbox container(s) that killed sessions left`);
  const toolbox = await toolboxImage(client, req);
  req.signal?.throwIfAborted();
  return runSession(client, {
    target,
    toolbox,
    ...(req.command !== undefined && { command: req.command }),
    io: req.io,
    ...(req.signal && { signal: req.signal }),
  });
}

/** `--inspect`: opens the target's Node inspector and forwards it to `listen` on the host. */
export async function inspectNode(
  req: Omit<DebugRequest, 'command' | 'io'> & { listen: { host: string; port: number } },
): Promise<InspectorForward> {
  const { client, target } = await openTarget(req.container, req.daemon);
  const toolbox = await toolboxImage(client, req);
  req.signal?.throwIfAborted();
  return forwardInspector(client, {
    target,
    toolbox,
    listen: req.listen,
    ...(req.signal && { signal: req.signal }),
  });
}
