/**
 * Which of an image's layers is which planned layer (os, node, node_modules, app...): what an SBOM
 * of a build ties its components to. Apart from build.ts so that a remembered SBOM (decision
 * 0032) finds its layers without loading what makes components (purls, licences).
 */
import type { AppPlan, PlannedLayer } from '../plan/app.js';
import type { BasePlan } from '../plan/base-plan.js';

export type LayerName = PlannedLayer['name'];

/** Where each planned layer of an app is among the image's layers (a `--base` image's come first). */
export function appLayerDigests(
  plan: AppPlan,
  layers: readonly string[],
): Partial<Record<LayerName, string>> {
  const own = plan.base.kind === 'image' ? plan.layers.filter((l) => l.name !== 'os') : plan.layers;
  const out: Partial<Record<LayerName, string>> = {};
  const start = layers.length - own.length;
  if (start < 0) return out;
  own.forEach((l, i) => {
    out[l.name] = layers[start + i]!;
  });
  return out;
}

/** Where each layer of a base image is (build/base: os, packages, files, debug, node, in order). */
export function baseLayerDigests(
  plan: BasePlan,
  arch: string,
  layers: readonly string[],
): Partial<Record<LayerName, string>> {
  const locked = plan.lock.architectures[arch] ?? [];
  const names: (LayerName | 'files')[] = ['os'];
  if (locked.some((p) => p.role === 'extra')) names.push('packages');
  if (plan.config.files.length > 0) names.push('files');
  if (plan.lock.request.debug && locked.some((p) => p.name === 'busybox-static')) names.push('debug');
  if (plan.lock.node !== undefined && names.length < layers.length) names.push('node');
  const out: Partial<Record<LayerName, string>> = {};
  if (names.length !== layers.length) return out;
  names.forEach((n, i) => {
    if (n !== 'files') out[n] = layers[i]!;
  });
  return out;
}
