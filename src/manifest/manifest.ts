/**
 * Parsing and validation of pushed (or stored) manifests: OCI image manifest
 * and index, Docker schema 2 manifest and manifest list. Schema 1 is refused.
 *
 * How the media type is decided, given the Content-Type of a PUT and the
 * `mediaType` field of the body:
 *   - Content-Type parameters are ignored and its type is compared without
 *     regard to case. A schema 1 type → `schema1`; any other type that is
 *     not one of the four manifest types → `unsupported-media-type`.
 *   - Both present and different → `invalid`.
 *   - Body without `mediaType`: allowed for the OCI types (the field is
 *     optional there) and taken from the Content-Type; the Docker types
 *     require it in the body.
 *   - No Content-Type: taken from the body's `mediaType`, else inferred the
 *     way manifests read back from storage are (a `manifests` array → OCI
 *     index, a `config` → OCI image manifest). The reference implementation
 *     refuses such a PUT; accepting it makes this one function serve both
 *     the PUT path and the read path, and no client is known to rely on the
 *     refusal.
 */
import { ManifestError, schema1Error } from './errors.js';
import {
  invalid,
  isJsonObject,
  parseAnnotations,
  parseDescriptor,
  parseMediaTypeField,
  type Descriptor,
  type JsonObject,
} from './descriptor.js';
import {
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_ARTIFACT_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_LAYER_ZSTD,
  MEDIA_TYPE_OCI_MANIFEST,
  isForeignLayerMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  type ManifestMediaType,
} from './media-types.js';

/** Largest manifest body accepted on PUT (the reference implementation's limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

interface ManifestCommon {
  mediaType: ManifestMediaType;
  schemaVersion: 2;
  /** OCI only (Docker types have no such fields; they are ignored there). */
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
  /**
   * What must already be in the repository for the PUT to succeed. Image:
   * the config and every layer except foreign ones that clients fetch from
   * their `urls` (see {@link urlChecks}). Index: every child manifest.
   * The subject is never included: it may be pushed later.
   */
  references(): Descriptor[];
  /** Descriptors whose `urls` must pass `validateURLs` before the PUT succeeds. */
  urlChecks(): Descriptor[];
}

export interface ImageManifest extends ManifestCommon {
  kind: 'image';
  mediaType: typeof MEDIA_TYPE_OCI_MANIFEST | typeof MEDIA_TYPE_DOCKER_MANIFEST;
  config: Descriptor;
  layers: Descriptor[];
}

export interface IndexManifest extends ManifestCommon {
  kind: 'index';
  mediaType: typeof MEDIA_TYPE_OCI_INDEX | typeof MEDIA_TYPE_DOCKER_MANIFEST_LIST;
  manifests: Descriptor[];
}

export type Manifest = ImageManifest | IndexManifest;

const OCI_LAYER_TYPES = new Set<string>([MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_LAYER_ZSTD]);

/**
 * Which descriptors of an image have their `urls` checked, and which must
 * exist as blobs. This follows the reference implementation:
 *   - Docker schema 2: a foreign layer must carry urls, they are checked,
 *     and its blob need not exist. On every other descriptor urls are
 *     ignored and the blob must exist.
 *   - OCI: urls on layers of the OCI layer types (tar, +gzip, +zstd and their
 *     nondistributable forms) are checked; a nondistributable layer with urls
 *     need not exist, every other descriptor must. (Distribution omits the
 *     zstd types from this rule; treating them like the others is our choice.)
 */
function imageURLChecks(m: ImageManifest): Descriptor[] {
  if (m.mediaType === MEDIA_TYPE_DOCKER_MANIFEST) return m.layers.filter((l) => isForeignLayerMediaType(l.mediaType));
  return m.layers.filter(
    (l) => (l.urls?.length ?? 0) > 0 && (OCI_LAYER_TYPES.has(l.mediaType) || isForeignLayerMediaType(l.mediaType)),
  );
}

function imageReferences(m: ImageManifest): Descriptor[] {
  const docker = m.mediaType === MEDIA_TYPE_DOCKER_MANIFEST;
  const fetchedElsewhere = (l: Descriptor) =>
    isForeignLayerMediaType(l.mediaType) && (docker || (l.urls?.length ?? 0) > 0);
  return [m.config, ...m.layers.filter((l) => !fetchedElsewhere(l))];
}

/** Media type of a Content-Type header value: parameters dropped, lowercased; undefined when absent. */
export function contentTypeMediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const base = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return base === '' ? undefined : base;
}

function unsupported(mediaType: string, source: string): ManifestError {
  if (mediaType === MEDIA_TYPE_OCI_ARTIFACT_MANIFEST) {
    return new ManifestError(
      'unsupported-media-type',
      `${source} ${mediaType} is not supported: the OCI artifact manifest was withdrawn before OCI 1.1. ` +
        `Push an image manifest (${MEDIA_TYPE_OCI_MANIFEST}) with an artifactType instead (oras 1.0 and later do this).`,
      { mediaType },
    );
  }
  return new ManifestError(
    'unsupported-media-type',
    `${source} ${JSON.stringify(mediaType.slice(0, 200))} is not a manifest media type this registry accepts; ` +
      `send the manifest's own media type, one of: ${MANIFEST_MEDIA_TYPES.join(', ')}`,
    { mediaType: mediaType.slice(0, 200) },
  );
}

/** Read a JSON object from the body, or fail as `invalid`. */
function parseBody(body: Buffer): JsonObject {
  if (body.length > MAX_MANIFEST_BYTES) {
    throw new ManifestError('invalid', `manifest is ${body.length} bytes; the limit is ${MAX_MANIFEST_BYTES} bytes (4 MiB)`, {
      size: body.length,
    });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ManifestError('invalid', `manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(doc)) throw new ManifestError('invalid', 'manifest must be a JSON object');
  return doc;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** Decide the manifest's media type from header and body (rules in the file comment). */
function decideMediaType(doc: JsonObject, headerType: string | undefined): ManifestMediaType {
  if (headerType !== undefined && !isManifestMediaType(headerType)) throw unsupported(headerType, 'Content-Type');
  const bodyType = doc.mediaType;
  if (bodyType !== undefined && typeof bodyType !== 'string') {
    throw invalid('mediaType', 'must be a string');
  }
  if (bodyType !== undefined && isSchema1MediaType(bodyType)) throw schema1Error(`mediaType is ${bodyType}`);

  if (headerType !== undefined) {
    if (bodyType !== undefined && bodyType !== headerType) {
      throw new ManifestError(
        'invalid',
        `manifest invalid: the body's mediaType ${JSON.stringify(bodyType.slice(0, 200))} does not match the Content-Type ${headerType}; ` +
          'send the Content-Type the manifest declares',
        { path: 'mediaType', mediaType: bodyType.slice(0, 200), contentType: headerType },
      );
    }
    if (bodyType === undefined && (headerType === MEDIA_TYPE_DOCKER_MANIFEST || headerType === MEDIA_TYPE_DOCKER_MANIFEST_LIST)) {
      throw invalid('mediaType', `is required in a Docker manifest; it must be ${JSON.stringify(headerType)}`);
    }
    return headerType;
  }

  if (bodyType !== undefined) {
    if (!isManifestMediaType(bodyType)) throw unsupported(bodyType, 'mediaType');
    return bodyType;
  }
  if (present(doc.manifests)) return MEDIA_TYPE_OCI_INDEX;
  if (present(doc.config)) return MEDIA_TYPE_OCI_MANIFEST;
  throw new ManifestError(
    'unsupported-media-type',
    'cannot tell what kind of manifest this is: it has no mediaType, no config and no manifests; ' +
      "set the Content-Type header to the manifest's media type",
  );
}

function checkSchemaVersion(doc: JsonObject): void {
  const v = doc.schemaVersion;
  if (v === undefined) throw invalid('schemaVersion', 'is required and must be 2');
  if (v !== 2) throw invalid('schemaVersion', `must be 2, not ${String(JSON.stringify(v)).slice(0, 50)}`);
}

/** annotations, artifactType and subject: read for the OCI types only. */
function ociExtras(doc: JsonObject, mediaType: ManifestMediaType): Pick<ManifestCommon, 'annotations' | 'artifactType' | 'subject'> {
  const extras: Pick<ManifestCommon, 'annotations' | 'artifactType' | 'subject'> = {};
  if (mediaType !== MEDIA_TYPE_OCI_MANIFEST && mediaType !== MEDIA_TYPE_OCI_INDEX) return extras;
  if (doc.annotations !== undefined) extras.annotations = parseAnnotations(doc.annotations, 'annotations');
  if (doc.artifactType !== undefined) extras.artifactType = parseMediaTypeField(doc.artifactType, 'artifactType');
  if (doc.subject !== undefined) extras.subject = parseDescriptor(doc.subject, 'subject');
  return extras;
}

function parseImage(doc: JsonObject, mediaType: ImageManifest['mediaType']): ImageManifest {
  // A body that also looks like an index is ambiguous: its digest could be
  // served as either kind. Refused since distribution 2.8 (CVE-2021-41190).
  if (present(doc.manifests)) {
    throw invalid('manifests', 'is not allowed in an image manifest (expected a manifest but found an index)');
  }
  if (doc.config === undefined) throw invalid('config', 'is required in an image manifest');
  const config = parseDescriptor(doc.config, 'config');
  // Go tools serialise an empty layer list as null; both it and absence mean none.
  let layers: Descriptor[] = [];
  if (present(doc.layers)) {
    if (!Array.isArray(doc.layers)) throw invalid('layers', 'must be an array of descriptors');
    layers = doc.layers.map((l: unknown, i: number) => parseDescriptor(l, `layers[${i}]`));
  }
  const manifest: ImageManifest = {
    kind: 'image',
    mediaType,
    schemaVersion: 2,
    config,
    layers,
    ...ociExtras(doc, mediaType),
    references: () => imageReferences(manifest),
    urlChecks: () => imageURLChecks(manifest),
  };
  return manifest;
}

function parseIndex(doc: JsonObject, mediaType: IndexManifest['mediaType']): IndexManifest {
  if (present(doc.config) || present(doc.layers)) {
    throw invalid(present(doc.config) ? 'config' : 'layers', 'is not allowed in an index (expected an index but found a manifest)');
  }
  if (!Array.isArray(doc.manifests)) throw invalid('manifests', 'is required in an index and must be an array of descriptors');
  const manifests = doc.manifests.map((entry: unknown, i: number) => {
    const child = parseDescriptor(entry, `manifests[${i}]`, { platform: true });
    if (!isManifestMediaType(child.mediaType)) {
      throw invalid(
        `manifests[${i}].mediaType`,
        `${JSON.stringify(child.mediaType)} is not allowed: an index may only list manifests of the types ${MANIFEST_MEDIA_TYPES.join(', ')}`,
      );
    }
    return child;
  });
  const manifest: IndexManifest = {
    kind: 'index',
    mediaType,
    schemaVersion: 2,
    manifests,
    ...ociExtras(doc, mediaType),
    references: () => manifest.manifests.slice(),
    urlChecks: () => [],
  };
  return manifest;
}

/**
 * Parse and validate a manifest. `contentType` is the request's Content-Type
 * on a PUT, or undefined when reading stored bytes back (they carry no type).
 * Throws {@link ManifestError}.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): Manifest {
  const headerType = contentTypeMediaType(contentType);
  // Settle schema 1 from the header before reading the body, so the answer
  // does not depend on what else is wrong with it.
  if (headerType !== undefined && isSchema1MediaType(headerType)) throw schema1Error(`Content-Type is ${headerType}`);
  const doc = parseBody(body);
  if (doc.schemaVersion === 1) throw schema1Error('schemaVersion is 1');
  const mediaType = decideMediaType(doc, headerType);
  checkSchemaVersion(doc);
  return isIndexMediaType(mediaType)
    ? parseIndex(doc, mediaType as IndexManifest['mediaType'])
    : parseImage(doc, mediaType as ImageManifest['mediaType']);
}

/**
 * Media type of stored manifest bytes, for the Content-Type of a GET: the
 * body's `mediaType` when it has one, else an OCI index if it lists
 * `manifests`, else an OCI image manifest (how distribution reads them back).
 */
export function storedManifestMediaType(body: Buffer): ManifestMediaType {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return MEDIA_TYPE_OCI_MANIFEST;
  }
  if (!isJsonObject(doc)) return MEDIA_TYPE_OCI_MANIFEST;
  if (typeof doc.mediaType === 'string' && isManifestMediaType(doc.mediaType)) return doc.mediaType;
  return present(doc.manifests) ? MEDIA_TYPE_OCI_INDEX : MEDIA_TYPE_OCI_MANIFEST;
}

/**
 * The artifact type the referrers API reports for a manifest: its
 * `artifactType`, else (image manifests only) its config's media type.
 */
export function effectiveArtifactType(m: Manifest): string | undefined {
  if (m.artifactType !== undefined) return m.artifactType;
  return m.kind === 'image' ? m.config.mediaType : undefined;
}
