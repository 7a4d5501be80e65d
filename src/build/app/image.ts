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
}

/** The base (OS + Node) with the two app layers and the container config. */
export function assembleAppImage(
  base: Image,
  layers: { nodeModules: Layer; app: Layer },
  config: AppImageConfig,
  describe: { nodeModules: string; app: string },
): Image {
  let image = setImageConfig(base, { created: config.created });
  image = appendLayers(
    image,
    { layer: layers.nodeModules, history: { created: config.created, created_by: describe.nodeModules } },
    { layer: layers.app, history: { created: config.created, created_by: describe.app } },
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
  return setContainerConfig(image, patch);
}
