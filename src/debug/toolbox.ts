import { buildBaseArtifact } from '../build/base/build.js';
import { distillSources } from '../build/sources.js';
import { checkAborted, DistillError } from '../errors.js';
import type { DaemonClient } from '../media/daemon/client.js';
import { engineCall, hasImage } from '../media/daemon/containers.js';
import { writeDaemon } from '../media/daemon/daemon.js';
import type { Image, Layer } from '../oci/image.js';
import { setContainerConfig } from '../oci/mutate.js';
import { defaultBaseConfig } from '../plan/base.js';
import { planBase } from '../plan/base-plan.js';
import { BUSYBOX_DIR } from '../plan/layout.js';
import { parseDockerReference } from '../ref/docker.js';
import type { AptSource } from '../sources/apt/index.js';
import type { Store } from '../store/store.js';

/**
 * The toolbox of `distill debug`: distill's own `static` base with `--debug` (Debian's signed
 * busybox-static at /busybox, every .deb verified as `distill base` verifies it), for the
 * engine's architecture, loaded into the engine under a tag made from its manifest digest
 * (`distill-toolbox:<12 hex>`), so the same packages give the same tag and nothing is pulled
 * from a public registry. A newer busybox in Debian gives a new tag on the next run.
 */
export const TOOLBOX_REPOSITORY = 'distill-toolbox';
/** The label of the toolbox image (and its value: the Debian architecture). */
export const TOOLBOX_LABEL = 'dev.distill.toolbox';

export interface ToolboxDeps {
  store: Store;
  /** Debian's archive (or the mirrors the user chose). */
  apt(): Promise<AptSource>;
  step?(message: string): void;
  warn?(message: string): void;
  signal?: AbortSignal;
}

export interface Toolbox {
  /** The tag in the engine: distill-toolbox:<12 hex of the manifest digest>. */
  ref: string;
  image: Image;
  /** The layer holding /busybox (what --copy-image adds). */
  busyboxLayer: Layer;
}

/** Debian's name of the engine's architecture (the engine may be on another machine). */
export async function engineArch(client: DaemonClient): Promise<string> {
  const r = await engineCall(client, 'GET', '/version');
  if (r.status !== 200) {
    throw new DistillError(
      'DAEMON',
      `the Docker engine at ${client.where} did not say its version (${r.status})`,
    );
  }
  const v = JSON.parse(r.text) as { Arch?: string };
  const arch = debianArch(v.Arch);
  if (arch === undefined)
    throw new DistillError('DAEMON', `the Docker engine at ${client.where} names no architecture`);
  return arch;
}

/** Debian's name of a Go (OCI) architecture. */
export function debianArch(goArch: string | undefined): string | undefined {
  const names: Record<string, string> = { amd64: 'amd64', arm64: 'arm64', arm: 'armhf', '386': 'i386' };
  return names[goArch ?? ''] ?? goArch;
}

/** Builds the toolbox image for a Debian architecture from Debian's packages (cached by content). */
export async function buildToolbox(arch: string, deps: ToolboxDeps): Promise<Toolbox> {
  const config = { ...defaultBaseConfig('static'), debug: true, archs: [arch] };
  const sources = distillSources({
    store: deps.store,
    apt: deps.apt,
    ...(deps.signal && { signal: deps.signal }),
  });
  const plan = await planBase({ config, outputs: [] }, sources, { ...(deps.step && { step: deps.step }) });
  checkAborted(deps.signal);
  const built = await buildBaseArtifact(
    plan.lock,
    plan.config,
    {
      store: deps.store,
      fetchDeb: (p) => sources.fetchDeb(p),
      ...(deps.step && { step: deps.step }),
      ...(deps.warn && { warn: deps.warn }),
      ...(deps.signal && { signal: deps.signal }),
    },
    { sourceDateEpoch: plan.sourceDateEpoch },
  );
  if (built.kind !== 'image')
    throw new DistillError('INTERNAL', 'the toolbox of one architecture is an index');
  const busyboxLayer = built.layers.at(-1);
  if (busyboxLayer === undefined) throw new DistillError('INTERNAL', 'the toolbox image has no layers');
  const image = setContainerConfig(built, {
    Labels: { [TOOLBOX_LABEL]: arch },
    Entrypoint: [`${BUSYBOX_DIR}/sh`],
  });
  return {
    ref: `${TOOLBOX_REPOSITORY}:${image.manifest.digest.slice('sha256:'.length, 'sha256:'.length + 12)}`,
    image,
    busyboxLayer,
  };
}

/** The toolbox in the engine: built (or taken from the store's cache) and loaded when missing. */
export async function ensureToolbox(client: DaemonClient, deps: ToolboxDeps): Promise<Toolbox> {
  const arch = await engineArch(client);
  const toolbox = await buildToolbox(arch, deps);
  if (!(await hasImage(client, toolbox.ref))) {
    deps.step?.(`loading the toolbox ${toolbox.ref} into the Docker engine`);
    await writeDaemon(parseDockerReference(toolbox.ref), toolbox.image, {
      daemon: { endpoint: client.endpoint },
    });
  }
  return toolbox;
}
