/**
 * The access controller contract and the pieces every controller shares: reading credentials from
 * the Authorization header and raising the reference's 401/403 answers with their challenges.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../http/errors.js';
import { recordsDetail, type AccessRecord, type Authorization } from './access.js';

export interface AccessController {
  /** Resolve with what the caller may do, or throw an HttpError (401 with a challenge, or 403). */
  authorize(req: IncomingMessage, records: readonly AccessRecord[]): Promise<Authorization> | Authorization;
  close?(): void | Promise<void>;
}

/** Go's %q for the ASCII strings realms and services are: a double-quoted, escaped string. */
export function quote(text: string): string {
  return JSON.stringify(text);
}

export function unauthorized(records: readonly AccessRecord[], challenge: string, message?: string): HttpError {
  return new HttpError('UNAUTHORIZED', message, recordsDetail(records), 401, { 'WWW-Authenticate': challenge });
}

export function denied(records: readonly AccessRecord[]): HttpError {
  return new HttpError('DENIED', undefined, recordsDetail(records), 403);
}

export interface BasicCredentials {
  user: string;
  password: string;
}

/** The `Authorization` header's scheme and value (scheme lower-cased), if any. */
export function authorizationHeader(req: IncomingMessage): { scheme: string; value: string } | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space <= 0) return { scheme: header.toLowerCase(), value: '' };
  return { scheme: header.slice(0, space).toLowerCase(), value: header.slice(space + 1).trim() };
}

/** Basic credentials from a header value (`base64(user:password)`); undefined when malformed. */
export function parseBasic(value: string): BasicCredentials | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Basic credentials of a request: undefined when none are sent, null when malformed. */
export function basicCredentials(req: IncomingMessage): BasicCredentials | null | undefined {
  const auth = authorizationHeader(req);
  if (!auth) return undefined;
  if (auth.scheme !== 'basic') return null;
  return parseBasic(auth.value) ?? null;
}

/** The URL clients reach this server on: `http.host` when configured, else from the request. */
export function externalBase(req: IncomingMessage, host: string | undefined): string {
  if (host) return host.replace(/\/+$/, '');
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = first(req.headers['x-forwarded-proto']) || (encrypted ? 'https' : 'http');
  const h = first(req.headers['x-forwarded-host']) || req.headers.host || 'localhost';
  return `${proto}://${h}`;
}
