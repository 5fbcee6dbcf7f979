/** Per-request state handed to handlers: parsed route, query, logger, abort signal, URL building. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RouteMatch } from './router.js';

export interface UrlOptions {
  /** `http.host`: the externally reachable base URL (scheme://host[:port]) when set. */
  host?: string;
  /** `http.prefix` without a trailing slash ('' when none). */
  prefix: string;
  /** `http.relativeurls`. */
  relative: boolean;
}

export class RequestContext {
  readonly query: URLSearchParams;
  private readonly controller = new AbortController();
  /** Set by the auth layer: who is asking. */
  user?: string;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly id: string,
    readonly match: RouteMatch,
    rawQuery: string,
    readonly log: Logger,
    private readonly urls: UrlOptions,
  ) {
    this.query = new URLSearchParams(rawQuery);
    // A client that goes away aborts the storage work done on its behalf.
    res.once('close', () => {
      if (!res.writableFinished) this.controller.abort(new Error('client disconnected'));
    });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  /** A URL for a registry path (`/v2/...`), relative or absolute as configured. */
  url(path: string): string {
    const full = `${this.urls.prefix}${path}`;
    if (this.urls.relative) return full;
    return `${this.baseURL()}${full}`;
  }

  private baseURL(): string {
    if (this.urls.host) return this.urls.host.replace(/\/+$/, '');
    const forwardedProto = headerValue(this.req.headers['x-forwarded-proto']);
    const forwardedHost = headerValue(this.req.headers['x-forwarded-host']);
    const encrypted = (this.req.socket as { encrypted?: boolean }).encrypted === true;
    const proto = forwardedProto?.split(',')[0]?.trim() || (encrypted ? 'https' : 'http');
    const host = forwardedHost?.split(',')[0]?.trim() || this.req.headers.host || 'localhost';
    return `${proto}://${host}`;
  }
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
