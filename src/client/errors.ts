/** What a registry answered when it did not answer what we asked for. */

export interface ResponseErrorInfo {
  /** The OCI error code from the body (`MANIFEST_UNKNOWN`, `TOOMANYREQUESTS`, ...), when it sent one. */
  code?: string;
  detail?: unknown;
  /** The `Retry-After` header, as sent. */
  retryAfter?: string;
}

export class RegistryResponseError extends Error {
  readonly code?: string;
  readonly detail?: unknown;
  readonly retryAfter?: string;

  constructor(
    readonly status: number,
    message: string,
    info: ResponseErrorInfo = {},
  ) {
    super(message);
    this.name = 'RegistryResponseError';
    this.code = info.code;
    this.detail = info.detail;
    this.retryAfter = info.retryAfter;
  }
}

/** The bytes a registry sent are not what was asked for (wrong digest, too large, unparseable). */
export class BadContentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadContentError';
  }
}
