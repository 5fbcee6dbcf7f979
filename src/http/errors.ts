/**
 * The one place where errors become HTTP: the OCI error code table and the mapping from domain
 * errors to `{"errors":[{code,message,detail}]}` with the right status.
 */
import { DigestError } from '../digest/digest.js';
import * as E from '../distribution/errors.js';
import { ManifestError } from '../manifest/errors.js';
import { NameInvalidError, TagInvalidError } from '../reference/reference.js';
import { InvalidPathError } from '../storage/driver/errors.js';

export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'The operation is unsupported.' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNKNOWN: { status: 500, message: 'unknown error' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error already expressed in wire terms (for checks done in the HTTP layer itself). */
export class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly detail?: unknown,
    /** Override of the code's usual status (e.g. 413 for an oversized manifest). */
    readonly status?: number,
    readonly headers?: Record<string, string>,
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'HttpError';
  }
}

export interface WireError {
  status: number;
  headers?: Record<string, string>;
  body: { errors: { code: ErrorCode; message: string; detail?: unknown }[] };
  /** True when the cause is ours (a 5xx worth logging with its stack). */
  internal: boolean;
}

const DOMAIN: [new (...args: never[]) => Error, ErrorCode][] = [
  [E.BlobUnknownError, 'BLOB_UNKNOWN'],
  [E.BlobUploadUnknownError, 'BLOB_UPLOAD_UNKNOWN'],
  [E.BlobUploadInvalidError, 'BLOB_UPLOAD_INVALID'],
  [E.DigestInvalidError, 'DIGEST_INVALID'],
  [E.SizeInvalidError, 'SIZE_INVALID'],
  [E.RangeInvalidError, 'RANGE_INVALID'],
  [E.ManifestUnknownError, 'MANIFEST_UNKNOWN'],
  [E.ManifestInvalidError, 'MANIFEST_INVALID'],
  [E.ManifestBlobUnknownError, 'MANIFEST_BLOB_UNKNOWN'],
  [E.NameUnknownError, 'NAME_UNKNOWN'],
  [NameInvalidError, 'NAME_INVALID'],
  [TagInvalidError, 'TAG_INVALID'],
  [E.UnsupportedError, 'UNSUPPORTED'],
  [E.ReadOnlyError, 'UNSUPPORTED'],
  [E.TooManyRequestsError, 'TOOMANYREQUESTS'],
  [DigestError, 'DIGEST_INVALID'],
  [InvalidPathError, 'NAME_INVALID'],
];

function wire(code: ErrorCode, message: string, detail: unknown, status?: number, headers?: Record<string, string>): WireError {
  const entry: { code: ErrorCode; message: string; detail?: unknown } = { code, message };
  if (detail !== undefined) entry.detail = detail;
  return { status: status ?? ERROR_CODES[code].status, headers, body: { errors: [entry] }, internal: code === 'UNKNOWN' };
}

/** Turn anything thrown by a handler into the OCI error format. */
export function toWireError(err: unknown): WireError {
  if (err instanceof HttpError) return wire(err.code, err.message, err.detail, err.status, err.headers);
  if (err instanceof ManifestError) return wire(err.code, err.message, err.detail);
  if (err instanceof Error) {
    for (const [cls, code] of DOMAIN) {
      if (err instanceof cls) {
        const detail = err instanceof E.RegistryError ? err.detail : undefined;
        return wire(code, err.message, detail);
      }
    }
    if (err.name === 'AbortError') return wire('UNKNOWN', 'request aborted', undefined, 499);
  }
  return wire('UNKNOWN', 'internal server error', undefined);
}
