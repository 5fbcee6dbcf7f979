/**
 * A typed client for the read side of the OCI Distribution API: manifests (HEAD/GET), blobs
 * (HEAD/GET, streamed, redirects followed), tag lists (all pages). Authentication is automatic
 * (see auth.ts): each call names its repository, the client asks for that repository's `pull`
 * scope when the registry wants a token, and a 401 is answered once with fresh credentials.
 */
import type { Readable } from 'node:stream';
import { Authenticator, type Credentials } from './auth.js';
import { BadContentError, RegistryResponseError } from './errors.js';
import { drain, header, HttpTransport, readAll, type HttpResponse, type TransportOptions } from './http.js';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Manifests above this are refused (the registry's own cap is 4 MiB). */
const MANIFEST_LIMIT = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;
const MAX_TAG_PAGES = 1000;

export interface RegistryClientOptions extends TransportOptions {
  /** Base URL of the registry, e.g. `https://registry-1.docker.io`. */
  url: string;
  credentials?: Credentials;
  /** The clock token lifetimes are measured with (tests). */
  now?: () => number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ManifestHead {
  /** `Docker-Content-Digest`, when the registry sent it. */
  digest?: string;
  mediaType?: string;
  size?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType?: string;
  digest?: string;
}

export interface BlobResponse {
  /** From Content-Length, when the registry sent one. */
  size?: number;
  body: Readable;
}

export class RegistryClient {
  readonly base: URL;
  private readonly transport: HttpTransport;
  private readonly auth: Authenticator;

  constructor(opts: RegistryClientOptions) {
    this.base = new URL(opts.url.replace(/\/+$/, ''));
    this.transport = new HttpTransport(opts);
    this.auth = new Authenticator(this.transport, opts.credentials, opts.now);
  }

  async headManifest(repo: string, reference: string, opts: CallOptions = {}): Promise<ManifestHead> {
    const res = await this.send('HEAD', repo, `manifests/${reference}`, { Accept: MANIFEST_ACCEPT }, opts.signal);
    drain(res.body);
    const length = header(res.headers, 'content-length');
    return {
      digest: header(res.headers, 'docker-content-digest'),
      mediaType: mediaTypeOf(header(res.headers, 'content-type')),
      size: length !== undefined ? Number(length) : undefined,
    };
  }

  async getManifest(repo: string, reference: string, opts: CallOptions = {}): Promise<FetchedManifest> {
    const res = await this.send('GET', repo, `manifests/${reference}`, { Accept: MANIFEST_ACCEPT }, opts.signal);
    let bytes: Buffer;
    try {
      bytes = await readAll(res.body, MANIFEST_LIMIT);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw new BadContentError(`manifest ${repo}:${reference}: ${(err as Error).message}`);
    }
    return { bytes, mediaType: mediaTypeOf(header(res.headers, 'content-type')), digest: header(res.headers, 'docker-content-digest') };
  }

  async headBlob(repo: string, digest: string, opts: CallOptions = {}): Promise<{ size: number }> {
    const res = await this.send('HEAD', repo, `blobs/${digest}`, {}, opts.signal);
    drain(res.body);
    const size = Number(header(res.headers, 'content-length'));
    if (!Number.isSafeInteger(size) || size < 0) throw new BadContentError(`HEAD blob ${repo}@${digest}: no usable Content-Length`);
    return { size };
  }

  /** Open a blob; the caller reads (or destroys) the body. */
  async getBlob(repo: string, digest: string, opts: CallOptions = {}): Promise<BlobResponse> {
    const res = await this.send('GET', repo, `blobs/${digest}`, {}, opts.signal);
    const length = header(res.headers, 'content-length');
    const size = length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined;
    return { size, body: res.body };
  }

  /** Every tag, following `Link` pagination. */
  async listTags(repo: string, opts: CallOptions = {}): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `tags/list`;
    for (let page = 0; next !== undefined && page < MAX_TAG_PAGES; page++) {
      const res = await this.send('GET', repo, next, { Accept: 'application/json' }, opts.signal);
      const body = await readAll(res.body, 16 << 20);
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(body.toString('utf8')) as typeof doc;
      } catch {
        throw new BadContentError(`tag list of ${repo} is not JSON`);
      }
      if (Array.isArray(doc.tags)) tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
      next = nextPage(header(res.headers, 'link'), this.repoURL(repo, 'tags/list'));
    }
    return tags;
  }

  close(): void {
    this.transport.close();
  }

  private repoURL(repo: string, rest: string): URL {
    const path = this.base.pathname.replace(/\/+$/, '');
    return new URL(`${this.base.origin}${path}/v2/${repo}/${rest}`);
  }

  /**
   * One API call: authenticate as the registry asks, answer one 401 with fresh credentials,
   * follow redirects (dropping Authorization when they leave the registry's origin), and turn
   * any non-2xx answer into a RegistryResponseError.
   */
  private async send(method: 'GET' | 'HEAD', repo: string, rest: string, headers: Record<string, string>, signal?: AbortSignal): Promise<HttpResponse> {
    const scope = `repository:${repo}:pull`;
    let url = rest.startsWith('http') ? new URL(rest) : this.repoURL(repo, rest);
    let retried = false;
    for (let hops = 0; ; ) {
      const sameOrigin = url.origin === this.base.origin;
      const authorization = sameOrigin ? await this.auth.authorization(scope, signal) : undefined;
      const res = await this.transport.request({ method, url, signal, headers: { ...headers, ...(authorization ? { Authorization: authorization } : {}) } });
      if (res.status === 401 && sameOrigin && !retried) {
        drain(res.body);
        retried = true;
        if (this.auth.challenged(res.headers['www-authenticate'], scope, authorization !== undefined)) continue;
        throw await responseError(method, url, res);
      }
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        drain(res.body);
        if (++hops > MAX_REDIRECTS) throw new RegistryResponseError(502, `too many redirects from ${url.origin}${url.pathname}`);
        url = new URL(res.headers.location, url);
        continue;
      }
      if (res.status < 200 || res.status >= 300) throw await responseError(method, url, res);
      return res;
    }
  }
}

async function responseError(method: string, url: URL, res: HttpResponse): Promise<RegistryResponseError> {
  const retryAfter = header(res.headers, 'retry-after');
  const what = `${method} ${url.origin}${url.pathname} answered ${res.status}`;
  if (method === 'HEAD') {
    drain(res.body);
    return new RegistryResponseError(res.status, what, { retryAfter });
  }
  let body: Buffer;
  try {
    body = await readAll(res.body, 64 * 1024);
  } catch {
    return new RegistryResponseError(res.status, what, { retryAfter });
  }
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown; detail?: unknown }[] };
    const first = doc.errors?.[0];
    if (first && typeof first.code === 'string') {
      const message = typeof first.message === 'string' ? `${what}: ${first.code} ${first.message}` : `${what}: ${first.code}`;
      return new RegistryResponseError(res.status, message, { code: first.code, detail: first.detail, retryAfter });
    }
  } catch {
    // not an OCI error body
  }
  return new RegistryResponseError(res.status, what, { retryAfter });
}

/** The next page from a `Link: <url>; rel="next"` header, resolved against the current URL. */
function nextPage(link: string | undefined, current: URL): string | undefined {
  if (!link) return undefined;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link);
  if (!m || !m[1]) return undefined;
  return new URL(m[1], current).href;
}

function mediaTypeOf(contentType: string | undefined): string | undefined {
  const t = contentType?.split(';')[0]?.trim();
  return t || undefined;
}
