/** Media types of manifests and of the blobs they reference. */

// Manifests this registry stores.
export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

// Docker schema 1, refused on push.
export const MEDIA_TYPE_DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** The OCI 1.1-rc "artifact manifest", withdrawn before 1.1 was released; refused on push. */
export const MEDIA_TYPE_OCI_ARTIFACT_MANIFEST = 'application/vnd.oci.artifact.manifest.v1+json';

// OCI blobs.
export const MEDIA_TYPE_OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const MEDIA_TYPE_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_TYPE_OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar';
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
export const MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD = 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd';

// Docker blobs.
export const MEDIA_TYPE_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MEDIA_TYPE_DOCKER_PLUGIN_CONFIG = 'application/vnd.docker.plugin.v1+json';
export const MEDIA_TYPE_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const MEDIA_TYPE_DOCKER_LAYER_UNCOMPRESSED = 'application/vnd.docker.image.rootfs.diff.tar';
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

/** The four manifest media types accepted on push and served on pull. */
export type ManifestMediaType =
  | typeof MEDIA_TYPE_OCI_MANIFEST
  | typeof MEDIA_TYPE_OCI_INDEX
  | typeof MEDIA_TYPE_DOCKER_MANIFEST
  | typeof MEDIA_TYPE_DOCKER_MANIFEST_LIST;

export const MANIFEST_MEDIA_TYPES: readonly ManifestMediaType[] = [
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
];

export function isManifestMediaType(mediaType: string): mediaType is ManifestMediaType {
  return (MANIFEST_MEDIA_TYPES as readonly string[]).includes(mediaType);
}

/** Image manifests (config + layers), as opposed to indexes. */
export function isImageMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_OCI_MANIFEST || mediaType === MEDIA_TYPE_DOCKER_MANIFEST;
}

/** Indexes / manifest lists (a list of child manifests). */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_OCI_INDEX || mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST;
}

export function isSchema1MediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_DOCKER_SCHEMA1 || mediaType === MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED;
}

/** Layers that clients may fetch from the descriptor's `urls` instead of the registry. */
export function isForeignLayerMediaType(mediaType: string): boolean {
  return (
    mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER ||
    mediaType === MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE ||
    mediaType === MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_GZIP ||
    mediaType === MEDIA_TYPE_OCI_LAYER_NONDISTRIBUTABLE_ZSTD
  );
}

/**
 * Media type grammar of RFC 6838 §4.2 as the OCI image spec requires for
 * descriptors: `type/subtype`, each a restricted name of 1-127 characters,
 * no parameters. (The image spec's own published regex has a stray range
 * `&-^` that admits '/', ';' and more; this is the grammar it meant.)
 */
const MEDIA_TYPE_GRAMMAR = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isValidMediaType(mediaType: string): boolean {
  return typeof mediaType === 'string' && MEDIA_TYPE_GRAMMAR.test(mediaType);
}
