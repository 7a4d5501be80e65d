import { hostPlatform } from '../../host.js';
import type { AppPlan } from '../../plan/app.js';
import { debianArch, debianToNodeArch } from '../../plan/base.js';
import { crossInstall } from './cross.js';
import type { AppBuildDeps } from './deps.js';
import type { Toolchain } from './install.js';

/**
 * What the install runs with: the plan's Node release for the host and its package manager at
 * the plan's exact version. A foreign architecture's packages are installed by the host's Node
 * of the same version (same ABI); with native routes for it in the plan, the target's release
 * too (its headers for node-gyp, its bin/node for emulated install scripts; cross.ts).
 */
export async function toolchainFor(plan: AppPlan, deps: AppBuildDeps, arch?: string): Promise<Toolchain> {
  const { node, packageManager: pm } = plan;
  const hostNode = debianToNodeArch(debianArch(hostPlatform()));
  deps.step?.(`toolchain: Node ${node.version} (linux/${hostNode}) and ${pm.name} ${pm.spec}`);
  const target = arch !== undefined && crossInstall(plan, arch) ? debianToNodeArch(arch) : undefined;
  if (target !== undefined) deps.step?.(`toolchain: Node ${node.version} headers for linux/${target}`);
  const [nodeDir, tool, targetNodeDir] = await Promise.all([
    deps.sources.nodeToolchain(node.version, hostNode),
    deps.sources.packageManager(pm.name, pm.version, node.version),
    target !== undefined ? deps.sources.nodeToolchain(node.version, target) : undefined,
  ]);
  return {
    nodeDir,
    pm: tool,
    cacheDir: deps.store.area('pm-cache'),
    ...(targetNodeDir !== undefined && { targetNodeDir }),
  };
}
