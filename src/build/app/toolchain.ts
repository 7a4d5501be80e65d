import { hostPlatform } from '../../host.js';
import type { AppPlan } from '../../plan/app.js';
import { debianArch, debianToNodeArch } from '../../plan/base.js';
import type { AppBuildDeps } from './deps.js';
import type { Toolchain } from './install.js';

/**
 * What the install runs with: the plan's Node release for the host and its package manager at
 * the plan's exact version. A foreign architecture's packages are installed by the host's Node
 * of the same version (same ABI); anything that compiles would compile for the host, which the
 * native check then reports.
 */
export async function toolchainFor(plan: AppPlan, deps: AppBuildDeps): Promise<Toolchain> {
  const { node, packageManager: pm } = plan;
  const hostNode = debianToNodeArch(debianArch(hostPlatform()));
  deps.step?.(`toolchain: Node ${node.version} (linux/${hostNode}) and ${pm.name} ${pm.spec}`);
  const [nodeDir, tool] = await Promise.all([
    deps.sources.nodeToolchain(node.version, hostNode),
    deps.sources.packageManager(pm.name, pm.version, node.version),
  ]);
  return { nodeDir, pm: tool, cacheDir: deps.store.area('pm-cache') };
}
