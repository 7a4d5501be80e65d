import type { Published } from '../media/publish.js';
import type { Image } from '../oci/image.js';

/**
 * What to do next with a built image, after `distill build`: "Run it" only where the image now
 * is in Docker, publishing the ports it exposes; "Load it into Docker" and "Push it" when it went
 * to a layout or an archive.
 */
export function publishFlags(image: Image | undefined): string[] {
  const ports = Object.keys(image?.config.value.config?.ExposedPorts ?? {});
  return ports.map((p) => {
    const [port, proto] = p.split('/');
    return `-p ${port}:${port}${proto !== undefined && proto !== 'tcp' ? `/${proto}` : ''}`;
  });
}

export function nextSteps(published: readonly Published[], name: string): string[] {
  const inDocker = published.find((p) => p.inDocker);
  if (inDocker !== undefined) {
    const loaded = inDocker.ref.slice('docker-daemon:'.length);
    return [`Run it:               docker run --rm ${[...publishFlags(inDocker.image), loaded].join(' ')}`];
  }
  const first = published[0]?.ref;
  if (first !== undefined && /^(oci|oci-archive|docker-archive):/.test(first)) {
    return [
      `Load it into Docker:  distill copy ${first} docker-daemon:${name}`,
      `Push it:              distill copy ${first} docker://REGISTRY/${name}`,
    ];
  }
  return [];
}
