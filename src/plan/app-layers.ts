import type { AppPlan, PlannedLayer } from './app.js';
import { TINI_BINARY, TINI_PACKAGE } from './layout.js';
import { writableLayer } from './writable.js';

/**
 * The layers of an app plan, bottom to top, each with what it holds, what its cache key is made
 * of and its history line: what `--plan` shows and the build makes.
 */
export function plannedLayers(plan: Omit<AppPlan, 'layers'>): PlannedLayer[] {
  const { base, node, packageManager: pm, buildScript } = plan;
  const layers: PlannedLayer[] = [];
  if (base.kind === 'image') {
    layers.push({ name: 'os', holds: `the layers of ${base.ref}`, key: ['its manifest digest'] });
  } else {
    layers.push({
      name: 'os',
      holds: 'Debian packages (OS): libc, libstdc++, libgcc, time zones, CA bundle',
      key: ['the locked packages'],
    });
    if (base.config.packages.length > 0) {
      layers.push({
        name: 'packages',
        holds: `Debian packages: ${base.config.packages.map((p) => (p === TINI_PACKAGE && plan.entrypoint[0] === TINI_BINARY ? `${p} (the init, PID 1)` : p)).join(' ')}`,
        key: ['the locked packages'],
      });
    }
    if (base.config.debug)
      layers.push({ name: 'debug', holds: 'busybox toolbox (--debug)', key: ['busybox-static'] });
  }
  layers.push(
    {
      name: 'node',
      holds: `Node.js ${node.version}${node.strip ? ', bin/node stripped of debug sections and static symbols' : ''}`,
      key: [`bin/node${node.strip ? ' (stripped)' : ''} and LICENSE of the release`],
      createdBy: `distill build: Node.js ${node.version}`,
    },
    {
      name: 'node_modules',
      holds: `node_modules (${pm.name} ${pm.spec}, production only${plan.prune?.on ? ', pruned' : ''}${plan.prune?.trace ? ', traced' : ''})`,
      key: [
        'package.json, lockfiles, .npmrc, .yarnrc*, pnpm workspace and patches',
        `${pm.name}@${pm.spec}`,
        `Node ${node.version} and its ABI`,
        'platform',
        base.kind === 'image' ? base.ref : 'the locked packages',
        plan.prune?.on ? `the prune rules, version ${plan.prune.rulesVersion}` : 'no prune (--no-prune)',
        ...(plan.prune?.trace ? ['--trace: its entries and globs, and every file of the app'] : []),
        ...(plan.install.wholeApp !== undefined ? [`every file of the app (${plan.install.wholeApp})`] : []),
        ...(buildScript !== undefined
          ? [
              `the full install "${buildScript}" runs on is kept by the same key (the base aside): a code change reruns only "${buildScript}", and this layer is reused when "${buildScript}" leaves node_modules as the install made it`,
            ]
          : []),
      ],
      createdBy: `distill build: node_modules (${pm.name} ${pm.spec}, production${plan.prune?.on ? ', pruned' : ''}${plan.prune?.trace ? ', traced' : ''})`,
    },
    {
      name: 'app',
      holds: `app files${buildScript !== undefined ? ` after "${buildScript}"` : ''}`,
      key: [],
      createdBy: `distill build: app files${buildScript !== undefined ? ` after ${buildScript}` : ''}`,
    },
  );
  if (plan.writable !== undefined) layers.push(writableLayer(plan.writable, plan.user));
  return layers;
}
