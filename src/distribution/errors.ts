/**
 * Domain errors of the registry. They say what went wrong in registry terms; the HTTP layer maps
 * each class to an OCI error code in one table (src/http/errors.ts) and nowhere else.
 */
import type { Digest } from '../digest/digest.js';

export abstract class RegistryError extends Error {
  /** Extra detail for the OCI error's `detail` field. */
  detail?: unknown;
  constructor(message: string, detail?: unknown) {
    super(message);
    this.name = new.target.name;
    if (detail !== undefined) this.detail = detail;
  }
}

export class BlobUnknownError extends RegistryError {
  constructor(readonly digest: string) {
    super('blob unknown to registry', { digest });
  }
}

export class BlobUploadUnknownError extends RegistryError {
  constructor(readonly id?: string) {
    super('blob upload unknown to registry', id ? { uuid: id } : undefined);
  }
}

export class BlobUploadInvalidError extends RegistryError {}

export class DigestInvalidError extends RegistryError {}

export class SizeInvalidError extends RegistryError {}

/** A chunk that does not start where the upload ends; the upload stays usable. */
export class RangeInvalidError extends RegistryError {
  constructor(readonly currentSize: number, detail?: unknown) {
    super('requested range not satisfiable', detail ?? { size: currentSize });
  }
}

export class ManifestUnknownError extends RegistryError {
  constructor(readonly reference: string) {
    super('manifest unknown', { reference });
  }
}

export class ManifestInvalidError extends RegistryError {}

export class ManifestBlobUnknownError extends RegistryError {
  constructor(readonly digest: Digest | string) {
    super('blob unknown to registry', { digest });
  }
}

export class NameUnknownError extends RegistryError {
  constructor(readonly repository: string) {
    super('repository name not known to registry', { name: repository });
  }
}

export class UnsupportedError extends RegistryError {}

/** The registry is in read-only maintenance mode. */
export class ReadOnlyError extends RegistryError {
  constructor() {
    super('the registry is in read-only mode');
  }
}

export class TooManyRequestsError extends RegistryError {}
