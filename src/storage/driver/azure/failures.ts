/** Turning what the Azure SDK throws into the driver contract's errors. */
import { PathNotFoundError, StorageDriverError } from '../errors.js';

export const NAME = 'azure';

interface AzureErrorShape {
  name?: string;
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

function shape(err: unknown): AzureErrorShape {
  return typeof err === 'object' && err !== null ? (err as AzureErrorShape) : {};
}

export function statusOf(err: unknown): number | undefined {
  return shape(err).statusCode;
}

/** The service's error code (`BlobNotFound`, `ConditionNotMet`, ...); HEAD answers carry it only in a header. */
export function errorCodeOf(err: unknown): string | undefined {
  const s = shape(err);
  return s.details?.errorCode ?? s.code;
}

/** A 404 about the blob itself (not about the container, which is a configuration problem). */
export function isBlobNotFound(err: unknown): boolean {
  return statusOf(err) === 404 && errorCodeOf(err) !== 'ContainerNotFound';
}

export function isConditionNotMet(err: unknown): boolean {
  return statusOf(err) === 412;
}

export interface FailureContext {
  op: string;
  path: string;
  container: string;
  signal?: AbortSignal;
  /** Map a missing blob to PathNotFoundError (default true). */
  missingMeansNotFound?: boolean;
}

/**
 * The error to throw for `err`: the caller's abort reason when its signal fired; PathNotFoundError
 * for a missing blob; otherwise a StorageDriverError naming the operation and the service's code
 * (the SDK error, whose message can carry request details, is kept only as `cause`).
 */
export function failure(err: unknown, ctx: FailureContext): Error {
  if (ctx.signal?.aborted) return ctx.signal.reason as Error;
  if (err instanceof StorageDriverError) return err;
  const code = errorCodeOf(err);
  const status = statusOf(err);
  if (status === 404 && code === 'ContainerNotFound') {
    return new StorageDriverError(`${NAME}: container ${JSON.stringify(ctx.container)} does not exist`, NAME, ctx.path, { cause: err });
  }
  if (status === 404 && (ctx.missingMeansNotFound ?? true)) return new PathNotFoundError(NAME, ctx.path, { cause: err });
  const what = [status, code].filter((x) => x !== undefined).join(' ') || shape(err).name || 'error';
  return new StorageDriverError(`${NAME}: ${ctx.op} ${ctx.path} failed (${what})`, NAME, ctx.path, { cause: err });
}
