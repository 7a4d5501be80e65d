import { DistillError } from '../errors.js';
import { shellQuote } from '../media/daemon/ssh.js';
import { INSPECTOR_PORT, OPEN_SCRIPT } from './inspect.js';

/**
 * `distill debug pod/NAME`: the `kubectl debug` command of an ephemeral container (Kubernetes
 * 1.25+, EphemeralContainers on by default) joined to the pod's container with --target (its
 * PID namespace; a pod's containers share the network one already), with the toolbox image the
 * user pushed (--image) and the `general` profile (SYS_PTRACE: /proc/1/root and signals to the
 * app's processes). With --inspect, the ephemeral container opens node's inspector and stays
 * up, and `kubectl port-forward` brings the pod's 127.0.0.1:9229 to the host. No cluster runs on
 * distill's test machines: the commands are tested as data, not against a cluster.
 */
export interface KubernetesRequest {
  /** The pod's name, without `pod/`. */
  pod: string;
  container?: string;
  namespace?: string;
  /** The toolbox image, as the cluster pulls it. */
  image: string;
  /** The host port of the inspector forward; none: an interactive shell. */
  inspectPort?: number;
}

/** `pod/NAME` (or `pods/NAME`) to the pod's name; undefined when it names no pod. */
export function podName(target: string): string | undefined {
  const m = /^pods?\/(.+)$/.exec(target);
  if (!m?.[1]) return undefined;
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(m[1])) {
    throw new DistillError('USAGE', `"${m[1]}" is not a pod name (lowercase letters, digits, - and .)`);
  }
  return m[1];
}

/** The kubectl commands (argv, without `kubectl`), in the order they are run. */
export function kubectlCommands(req: KubernetesRequest): string[][] {
  const ns = req.namespace !== undefined ? ['-n', req.namespace] : [];
  const base = [
    'debug',
    `pod/${req.pod}`,
    ...ns,
    ...(req.container !== undefined ? [`--target=${req.container}`] : []),
    `--image=${req.image}`,
    '--profile=general',
  ];
  if (req.inspectPort === undefined) return [[...base, '-it', '--', 'sh']];
  return [
    [...base, '--', 'sh', '-c', OPEN_SCRIPT],
    ['port-forward', `pod/${req.pod}`, ...ns, `${req.inspectPort}:${INSPECTOR_PORT}`],
  ];
}

/** A command as a shell line to print. */
export function shellLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
