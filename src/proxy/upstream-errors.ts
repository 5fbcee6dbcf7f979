/**
 * Upstream failures in the registry's terms. Two questions: may a cached copy stand in for the
 * answer (the upstream is down, slow, overloaded or broken: yes; it said "no such thing": no),
 * and what does the client see when nothing cached can stand in.
 */
import { BadContentError, RegistryResponseError } from '../client/errors.js';
import { UnreachableError } from '../client/http.js';
import { BlobUnknownError, ManifestUnknownError, NameUnknownError } from '../distribution/errors.js';
import { ERROR_CODES, HttpError, type ErrorCode } from '../http/errors.js';

/** True for trouble a cached copy should paper over: no answer, 5xx, 429, refused credentials, bad content. */
export function cacheMayAnswer(err: unknown): boolean {
  if (err instanceof UnreachableError || err instanceof BadContentError) return true;
  if (err instanceof RegistryResponseError) return err.status !== 404 && err.status !== 400;
  return false;
}

/** The upstream said the thing does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof RegistryResponseError && err.status === 404;
}

export type Subject = { kind: 'blob'; digest: string } | { kind: 'manifest'; reference: string } | { kind: 'tags'; name: string };

/** What the client sees for an upstream failure (anything that is not an upstream failure passes through). */
export function clientError(err: unknown, subject: Subject, upstream: string): unknown {
  if (err instanceof UnreachableError) {
    return new HttpError('UNAVAILABLE', 'the upstream registry is unavailable', { upstream, reason: err.message }, 503);
  }
  if (err instanceof BadContentError) {
    return new HttpError('UNAVAILABLE', 'the upstream registry sent unusable content', { upstream, reason: err.message }, 502);
  }
  if (!(err instanceof RegistryResponseError)) return err;
  const { status } = err;
  if (status === 404) {
    if (subject.kind === 'tags') return new NameUnknownError(subject.name);
    return subject.kind === 'blob' ? new BlobUnknownError(subject.digest) : new ManifestUnknownError(subject.reference);
  }
  if (status === 429) {
    return new HttpError('TOOMANYREQUESTS', 'the upstream registry is rate limiting requests', { upstream }, 429, err.retryAfter ? { 'Retry-After': err.retryAfter } : undefined);
  }
  if (status === 401 || status === 403) {
    return new HttpError('DENIED', 'the upstream registry denied access', { upstream, reason: err.message }, 403);
  }
  if (status >= 500) return new HttpError('UNAVAILABLE', 'the upstream registry failed', { upstream, reason: err.message }, 502);
  if (err.code && err.code in ERROR_CODES) return new HttpError(err.code as ErrorCode, err.message, err.detail, status);
  return new HttpError('UNAVAILABLE', 'the upstream registry refused the request', { upstream, reason: err.message }, 502);
}
