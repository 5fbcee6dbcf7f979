/**
 * The reference's `redirect` storage middleware: content is fetched from another host that serves
 * the storage tree under the same paths (a CDN or a web server in front of the storage), so a blob
 * GET is redirected to `baseurl` + the driver path, e.g.
 * https://cdn.example.com/docker/registry/v2/blobs/sha256/ab/ab12.../data.
 */
import type { RedirectOptions, StorageDriver } from '../driver.js';
import { throwIfAborted, validatePath } from '../errors.js';
import { DriverWrapper } from './wrapper.js';

export interface RedirectMiddlewareOptions {
  /** Scheme and host (and optionally a path prefix) of the server that serves the content. */
  baseurl: URL;
}

/** Check the middleware's `options` as configured; errors name the key. */
export function parseRedirectOptions(options: Record<string, unknown>, key: string): RedirectMiddlewareOptions {
  return { baseurl: parseBaseURL(options.baseurl, `${key}.baseurl`) };
}

/** An absolute http(s) URL with a host. */
export function parseBaseURL(value: unknown, key: string): URL {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${key}: required, the base URL redirects point to`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Error(`${key}: ${JSON.stringify(value)} is not an absolute URL`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) throw new Error(`${key}: expected an http or https URL with a host, got ${JSON.stringify(value)}`);
  if (url.search || url.hash) throw new Error(`${key}: a query or fragment makes no sense here, got ${JSON.stringify(value)}`);
  return url;
}

/** `base` with `path` (absolute) appended to its path, whether or not that ends with a slash. */
export function underBase(base: URL, path: string): URL {
  const url = new URL(base.href);
  url.pathname = base.pathname.replace(/\/+$/, '') + path;
  return url;
}

export class RedirectMiddleware extends DriverWrapper {
  readonly #base: URL;

  constructor(inner: StorageDriver, options: RedirectMiddlewareOptions) {
    super(inner);
    this.#base = options.baseurl;
  }

  override async redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined> {
    validatePath(this.name, path);
    throwIfAborted(opts?.signal);
    return underBase(this.#base, path).href;
  }
}
