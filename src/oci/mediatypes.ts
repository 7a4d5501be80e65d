/** Media types of the OCI image spec and of Docker's image manifest v2 schema 2. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export type Compression = 'none' | 'gzip' | 'zstd';

const IMAGE_MANIFESTS = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const INDEXES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);

export function isImageManifest(mediaType: string | undefined): boolean {
  return mediaType !== undefined && IMAGE_MANIFESTS.has(mediaType);
}

export function isIndex(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEXES.has(mediaType);
}

/** What compression a layer media type declares; undefined for a type that is not a layer we know. */
export function layerCompression(mediaType: string): Compression | undefined {
  switch (mediaType) {
    case MediaType.OciLayer:
    case MediaType.DockerLayer:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
      return 'none';
    case MediaType.OciLayerGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerForeignLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
      return 'gzip';
    case MediaType.OciLayerZstd:
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'zstd';
    default:
      return undefined;
  }
}

/** The layer media type for a compression, in the OCI or the Docker family. */
export function layerMediaType(compression: Compression, family: 'oci' | 'docker' = 'oci'): string {
  if (family === 'docker') {
    if (compression === 'zstd') return MediaType.OciLayerZstd; // Docker has no zstd type of its own
    return compression === 'gzip' ? MediaType.DockerLayerGzip : MediaType.DockerLayer;
  }
  if (compression === 'gzip') return MediaType.OciLayerGzip;
  if (compression === 'zstd') return MediaType.OciLayerZstd;
  return MediaType.OciLayer;
}
