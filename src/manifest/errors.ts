/** The one error type the manifest module raises. */

/**
 * - `invalid`: not a usable manifest (bad JSON, wrong shape, media type
 *   mismatch, refused URL, ...).
 * - `schema1`: a Docker schema 1 manifest; never accepted.
 * - `unsupported-media-type`: the Content-Type names something that is not
 *   one of the four manifest types we store.
 * - `digest-invalid`: a descriptor's digest is malformed or uses an algorithm
 *   we cannot verify.
 */
export type ManifestErrorKind = 'invalid' | 'schema1' | 'unsupported-media-type' | 'digest-invalid';

/** Registry error code a kind maps to (what the reference implementation answers). */
export type ManifestErrorCode = 'MANIFEST_INVALID' | 'DIGEST_INVALID';

export class ManifestError extends Error {
  constructor(
    readonly kind: ManifestErrorKind,
    message: string,
    /** Machine-readable detail for the error body, e.g. `{ path: 'layers[2].digest' }`. */
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ManifestError';
  }

  /**
   * The code of the OCI error table (both are 400s). Distribution answers
   * schema 1 and unknown Content-Types with MANIFEST_INVALID as well.
   */
  get code(): ManifestErrorCode {
    return this.kind === 'digest-invalid' ? 'DIGEST_INVALID' : 'MANIFEST_INVALID';
  }
}

/** Schema 1 is refused with the same, actionable message wherever it is detected. */
export function schema1Error(how: string): ManifestError {
  return new ManifestError(
    'schema1',
    `Docker image manifest schema 1 is not supported (${how}). It was deprecated in 2017 and its ` +
      'content cannot be verified. Push the image with a current client (Docker 1.10 or later, podman, ' +
      'buildah, crane, oras), or convert it, e.g. `skopeo copy --format v2s2 SRC DEST` (Docker schema 2) ' +
      'or `skopeo copy --format oci SRC DEST`.',
    { reason: 'schema1' },
  );
}
