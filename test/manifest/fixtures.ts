/**
 * Manifests shaped like the ones real clients push. Digests are made up
 * (digests of short labels) but well-formed; sizes are plausible.
 */
import { digestOf } from '../../src/digest/digest.js';

export const d = (label: string) => digestOf(label);

/** JSON with the 3-space indent Docker and skopeo use, as bytes. */
export const body = (value: unknown, indent: number | string = 3) => Buffer.from(JSON.stringify(value, null, indent));

/** `skopeo copy --format v2s2` / `docker push`: Docker schema 2. */
export const dockerSchema2 = {
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1469, digest: d('config') },
  layers: [
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 3408729, digest: d('layer-1') },
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 32, digest: d('layer-2') },
  ],
};

/** `skopeo copy --format oci`, podman, buildah: OCI image manifest. */
export const ociImage = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('config'), size: 1469 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('layer-1'), size: 3408729 }],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
};

/** Older buildah / containers-image wrote OCI manifests without the optional mediaType. */
export const ociImageNoMediaType = {
  schemaVersion: 2,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('config'), size: 1469 },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: d('layer-1'), size: 3000000 }],
};

/** `docker manifest push` / Docker Hub style manifest list. */
export const dockerManifestList = {
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
  manifests: [
    {
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      size: 525,
      digest: d('amd64'),
      platform: { architecture: 'amd64', os: 'linux' },
    },
    {
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      size: 525,
      digest: d('arm-v7'),
      platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
    },
    {
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      size: 1125,
      digest: d('windows'),
      platform: { architecture: 'amd64', os: 'windows', 'os.version': '10.0.20348.2227' },
    },
  ],
};

/** `docker buildx build --push` with provenance: OCI index plus attestation manifests. */
export const buildxIndex = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: d('arm64'),
      size: 673,
      platform: { architecture: 'arm64', os: 'linux' },
    },
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: d('attestation'),
      size: 566,
      annotations: {
        'vnd.docker.reference.digest': d('arm64'),
        'vnd.docker.reference.type': 'attestation-manifest',
      },
      platform: { architecture: 'unknown', os: 'unknown' },
    },
  ],
};

/** Windows base image layers are foreign: clients fetch them from mcr.microsoft.com. */
export const windowsForeign = {
  schemaVersion: 2,
  mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
  config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 3028, digest: d('win-config') },
  layers: [
    {
      mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
      size: 1718332879,
      digest: d('win-base'),
      urls: [`https://mcr.microsoft.com/v2/windows/servercore/blobs/${d('win-base')}`],
    },
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 7834, digest: d('win-app') },
  ],
};

/** `cosign sign`: a signature stored as an OCI image manifest. */
export const cosignSignature = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 233, digest: d('cosign-config') },
  layers: [
    {
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      size: 250,
      digest: d('cosign-payload'),
      annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQDk...' },
    },
  ],
};

/** `oras attach` (1.x): an OCI 1.1 artifact, empty config, artifactType and subject. */
export const orasArtifact = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  artifactType: 'application/vnd.example.sbom.v1',
  config: {
    mediaType: 'application/vnd.oci.empty.v1+json',
    digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    size: 2,
    data: 'e30=',
  },
  layers: [
    {
      mediaType: 'application/spdx+json',
      digest: d('sbom'),
      size: 4200,
      annotations: { 'org.opencontainers.image.title': 'sbom.spdx.json' },
    },
  ],
  subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('subject'), size: 1024 },
  annotations: { 'org.opencontainers.image.created': '2024-05-01T12:00:00Z' },
};

/** `helm push`: a chart as an OCI image manifest with Helm's own config type. */
export const helmChart = {
  schemaVersion: 2,
  config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d('helm-config'), size: 117 },
  layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: d('chart'), size: 3523 }],
  annotations: { 'org.opencontainers.image.title': 'mychart', 'org.opencontainers.image.version': '0.1.0' },
};

/** A Docker schema 1 signed manifest, as Docker < 1.10 pushed. */
export const schema1Signed = {
  schemaVersion: 1,
  name: 'library/hello',
  tag: 'latest',
  architecture: 'amd64',
  fsLayers: [{ blobSum: d('s1-layer') }],
  history: [{ v1Compatibility: '{"id":"abc"}' }],
  signatures: [{ header: { alg: 'ES256' }, signature: 'xyz', protected: 'abc' }],
};
