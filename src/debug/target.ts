import { DistillError } from '../errors.js';
import type { DaemonClient } from '../media/daemon/client.js';
import {
  type ContainerInfo,
  type ContainerSpec,
  inspectContainer,
  listContainers,
  removeContainer,
} from '../media/daemon/containers.js';
import { isOwnerGone, ownerState, ownerToken, parseOwner } from '../store/owner.js';

/**
 * The container being debugged and the toolbox containers joined to it: the target must be
 * running; a toolbox shares its PID, network and (when the target allows it) IPC namespaces,
 * has SYS_PTRACE (to read /proc/1/root and /proc/<pid>/exe of processes of other users, as
 * `kubectl debug --profile=general` gives), and carries labels saying whose it is, so that the
 * toolboxes of a distill that was killed are removed by the next run (sweepToolboxes).
 */
export const DEBUG_LABEL = 'dev.distill.debug';
/** The owner token (src/store/owner.ts) of the distill process that started the toolbox. */
export const OWNER_LABEL = 'dev.distill.debug.owner';

export interface Target {
  id: string;
  /** The name without its leading slash. */
  name: string;
  /** The image as the container was started from (its tag, or an ID). */
  image: string;
  /** The config's user of the container (empty: root). */
  user: string;
  ipcShareable: boolean;
}

/** The running container `name` (a name or an ID), or CONTAINER_NOT_FOUND / CONTAINER_NOT_RUNNING. */
export async function findTarget(client: DaemonClient, name: string): Promise<Target> {
  const info: ContainerInfo = await inspectContainer(client, name);
  const shown = info.Name.replace(/^\//, '');
  if (!info.State.Running) {
    throw new DistillError(
      'CONTAINER_NOT_RUNNING',
      `the container ${shown} is ${info.State.Status}${info.State.ExitCode !== undefined && info.State.Status === 'exited' ? ` (exit ${info.State.ExitCode})` : ''}, not running: a toolbox can only join a running container; start it (docker start ${shown}) or copy its image with distill debug --copy-image`,
    );
  }
  if (info.Config.Labels?.[DEBUG_LABEL] !== undefined) {
    throw new DistillError(
      'USAGE',
      `${shown} is itself a distill debug toolbox; name the container it debugs`,
    );
  }
  const ipc = info.HostConfig.IpcMode ?? '';
  return {
    id: info.Id,
    name: shown,
    image: info.Config.Image,
    user: info.Config.User ?? '',
    ipcShareable: ipc === 'shareable' || ipc === 'host',
  };
}

/** The create request of a toolbox joined to `target`; entrypoint, command and streams are the caller's. */
export function toolboxSpec(
  toolbox: string,
  target: Target,
  rest: Omit<ContainerSpec, 'Image' | 'HostConfig' | 'Labels'>,
): ContainerSpec {
  return {
    Image: toolbox,
    User: '0:0',
    ...rest,
    Labels: { [DEBUG_LABEL]: target.id, [OWNER_LABEL]: ownerToken() },
    HostConfig: {
      PidMode: `container:${target.id}`,
      NetworkMode: `container:${target.id}`,
      // A private IPC namespace (the engine's default) cannot be joined: then the toolbox has its own.
      ...(target.ipcShareable && { IpcMode: `container:${target.id}` }),
      CapAdd: ['SYS_PTRACE'],
    },
  };
}

/**
 * Removes the toolboxes of distill processes that are gone (killed before they could clean up),
 * and exited toolboxes whose owner cannot be judged (started from another host or pid
 * namespace). A toolbox of a live distill is never touched. Returns the IDs removed.
 */
export async function sweepToolboxes(client: DaemonClient): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await listContainers(client, [OWNER_LABEL])) {
    const owner = parseOwner(c.Labels[OWNER_LABEL] ?? '');
    const gone = owner !== undefined && isOwnerGone(owner);
    const exited = c.State === 'exited' || c.State === 'dead';
    const unjudged = owner === undefined || (ownerState(owner) === 'unknown' && exited);
    if (gone || unjudged) {
      await removeContainer(client, c.Id);
      removed.push(c.Id);
    }
  }
  return removed;
}
