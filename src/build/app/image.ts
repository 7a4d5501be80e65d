import type { Image, Layer } from '../../oci/image.js';
import { appendLayers, setContainerConfig, setImageConfig } from '../../oci/mutate.js';
import type { ContainerConfig } from '../../oci/types.js';

export interface AppImageConfig {
  created: string;
  entrypoint: string[];
  cmd: string[];
  user: string;
  workdir: string;
  env: string[];
  ports: string[];
  labels: Record<string, string>;
  healthcheck?: string[];
  stopSignal?: string;
  /** VOLUME directories. */
  volumes?: string[];
}

/**
 * The base (OS + Node) with the app layers (node_modules, the app, and the writable directories
 * when there are some) and the container config.
 */
export function assembleAppImage(
  base: Image,
  layers: { nodeModules: Layer; app: Layer; writable?: Layer },
  config: AppImageConfig,
  describe: { nodeModules: string; app: string; writable?: string },
): Image {
  let image = setImageConfig(base, { created: config.created });
  const history = (created_by: string | undefined) => ({ created: config.created, created_by });
  image = appendLayers(
    image,
    { layer: layers.nodeModules, history: history(describe.nodeModules) },
    { layer: layers.app, history: history(describe.app) },
    ...(layers.writable ? [{ layer: layers.writable, history: history(describe.writable) }] : []),
  );
  const patch: Partial<ContainerConfig> = {
    Entrypoint: config.entrypoint,
    Cmd: config.cmd,
    User: config.user,
    WorkingDir: config.workdir,
    Env: config.env,
    Labels: config.labels,
  };
  if (config.ports.length > 0) {
    patch.ExposedPorts = Object.fromEntries(
      config.ports.map((p) => [p.includes('/') ? p : `${p}/tcp`, {} as Record<string, never>]),
    );
  }
  if (config.healthcheck) {
    patch.Healthcheck = {
      Test: ['CMD', ...config.healthcheck],
      Interval: 30_000_000_000,
      Timeout: 5_000_000_000,
      StartPeriod: 5_000_000_000,
      Retries: 3,
    };
  }
  if (config.stopSignal) patch.StopSignal = config.stopSignal;
  if (config.volumes && config.volumes.length > 0) {
    patch.Volumes = Object.fromEntries(config.volumes.map((v) => [v, {} as Record<string, never>]));
  }
  return setContainerConfig(image, patch);
}
