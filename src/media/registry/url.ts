import { DistillError } from '../../errors.js';
import { DOCKER_HUB } from '../../ref/docker.js';

/** Where Docker Hub's registry API really lives (`docker.io` is only the name users write). */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** `host:port` → `host` (handles `[::1]:5000`). */
export function hostnameOf(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

/** True for `localhost`, 127.0.0.0/8 and `::1`, with or without a port. */
export function isLoopbackHost(host: string): boolean {
  const name = hostnameOf(host).toLowerCase();
  if (name === 'localhost' || name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/**
 * The base URL of a registry's API. The scheme rule is simple and predictable on purpose:
 * HTTPS by default; plain HTTP for loopback hosts (a registry on 127.0.0.1 is on this machine,
 * nothing crosses a network; this is how test and CI registries run) and for any host when the
 * user passed `--insecure`. There is no silent fallback from HTTPS to HTTP.
 */
export function registryBaseUrl(host: string, insecure = false): string {
  const apiHost = host === DOCKER_HUB ? DOCKER_HUB_API_HOST : host;
  return `${insecure || isLoopbackHost(apiHost) ? 'http' : 'https'}://${apiHost}`;
}

/**
 * Refuses a plain-HTTP URL to a non-loopback host unless `insecure`: used for every URL a
 * registry hands us (token realms, upload locations, blob redirects), so credentials and
 * content never leave the machine unencrypted behind the user's back.
 */
export function assertSchemeAllowed(url: URL, insecure: boolean, registry: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && (insecure || isLoopbackHost(url.host))) return;
  if (url.protocol === 'http:') {
    throw new DistillError(
      'INSECURE_REFUSED',
      `registry ${registry} sent distill to plain-HTTP address ${url.origin}; pass --insecure only if you trust the network between you and it`,
    );
  }
  throw new DistillError('REGISTRY', `registry ${registry} sent distill to unsupported address ${url.href}`);
}
