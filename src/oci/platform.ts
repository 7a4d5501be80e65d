import { DistillError } from '../errors.js';
import type { Platform } from './types.js';

/**
 * Parses `os/arch[/variant]` (`linux/arm64/v8`, `linux/amd64`) into a Platform. `arm64` without a
 * variant means v8, as containerd normalizes it.
 */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '' || !/^[a-zA-Z0-9._-]+$/.test(p))) {
    throw new DistillError(
      'PLATFORM_INVALID',
      `"${s}" is not a platform: write it as os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8`,
    );
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform(variant === undefined ? { os, architecture } : { os, architecture, variant });
}

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', x86: '386', aarch64: 'arm64', armhf: 'arm' };

/** Canonical form: Go architecture names, arm64 variant v8 made explicit, arm variant default v7. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const architecture = ARCH_ALIASES[p.architecture.toLowerCase()] ?? p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === 'arm64' && (variant === undefined || variant === '8')) variant = 'v8';
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (architecture === 'arm' && variant !== undefined && /^\d$/.test(variant)) variant = `v${variant}`;
  const out: Platform = { os, architecture };
  if (variant !== undefined) out.variant = variant;
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = p['os.features'];
  return out;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/** True when `candidate` satisfies `wanted` (os, architecture and, after normalization, variant). */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return false;
  if (w.variant !== undefined && c.variant !== undefined && w.variant !== c.variant) return false;
  if (w['os.version'] !== undefined && c['os.version'] !== undefined && w['os.version'] !== c['os.version']) {
    return false;
  }
  return true;
}
