/**
 * The request dispatcher: route, check the method, validate the name, apply read-only mode, call
 * one handler, and turn whatever it throws into an OCI error. Handlers stay thin; the framework is
 * Node's own http module, so upload bodies arrive as raw streams and nothing is buffered for us.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { parseRepositoryName } from '../reference/reference.js';
import type { Namespace, Repository } from '../distribution/services.js';
import { RequestContext, type UrlOptions } from './context.js';
import { HttpError, toWireError } from './errors.js';
import { handleBase, handleCatalog, handleTags } from './handlers/listing.js';
import { handleBlob } from './handlers/blobs.js';
import { handleUpload, handleUploadStart } from './handlers/uploads.js';
import { handleManifest } from './handlers/manifests.js';
import { handleReferrers } from './handlers/referrers.js';
import { ROUTE_METHODS, matchRoute, type RouteName } from './router.js';
import type { UploadState } from './upload-state.js';
import type { ManifestPolicy } from './handlers/manifests.js';
import { accessLogger } from '../observability/access-log.js';

export interface AppOptions {
  /** Where repositories come from: the storage registry, or a proxy in front of it. */
  namespace: Namespace;
  /**
   * Wrappers applied to every repository a request opens, in order (notifications, metrics):
   * cross-cutting behaviour lives here, never in the handlers.
   */
  decorators?: ((repo: Repository, ctx: RequestContext) => Repository)[];
  logger: Logger;
  urls: UrlOptions;
  /** `storage.delete.enabled`. */
  deleteEnabled: boolean;
  /** `storage.maintenance.readonly.enabled`. */
  readOnly: boolean;
  /** Answer blob GETs with a redirect when the driver offers a URL (`storage.redirect.disable` false). */
  redirect: boolean;
  /** Signs and checks the `_state` of upload URLs. */
  uploadState: UploadState;
  /** `http.headers`: extra headers on every response. */
  headers: Record<string, string[]>;
  /** `catalog.maxentries`. */
  catalogMaxEntries: number;
  /** `tags.maxtags` (0: no cap). */
  maxTags: number;
  manifestPolicy: ManifestPolicy;
  /** Consulted before every API request (health gate, auth); may throw an HttpError or write and return false. */
  gates?: ((ctx: RequestContext) => Promise<boolean | void> | boolean | void)[];
  /** May a cross-repository mount read from `from`? (auth: pull on the source). Default yes. */
  canMountFrom?: (ctx: RequestContext, from: string) => Promise<boolean> | boolean;
  /** Handlers for paths outside the API (token endpoint): offered every request not under `<prefix>/v2`. */
  routes?: ((req: IncomingMessage, res: ServerResponse, path: string) => boolean | Promise<boolean>)[];
  /** Request accounting for metrics: called once per finished request. */
  onFinished?: (info: { route: RouteName | 'unknown'; method: string; status: number; durationMs: number }) => void;
  /** Write an access-log entry per request (`log.accesslog.disabled` false). Default true. */
  accessLog?: boolean;
}

export type Handler = (app: AppOptions, ctx: RequestContext) => Promise<void>;

/** The repository a handler works on, with every configured decorator applied. */
export function openRepository(app: AppOptions, ctx: RequestContext, name: string): Repository {
  let repo = app.namespace.repository(name);
  for (const decorate of app.decorators ?? []) repo = decorate(repo, ctx);
  return repo;
}

const HANDLERS: Record<RouteName, Handler> = {
  base: handleBase,
  catalog: handleCatalog,
  tags: handleTags,
  manifest: handleManifest,
  blob: handleBlob,
  'upload-start': handleUploadStart,
  upload: handleUpload,
  referrers: handleReferrers,
};

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function createRequestListener(app: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const staticHeaders: [string, string[]][] = Object.entries(app.headers);
  const access = app.accessLog === false ? undefined : accessLogger(app.logger);
  return (req, res) => {
    const started = performance.now();
    const id = headerId(req.headers['x-request-id']) ?? randomUUID();
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.setHeader('X-Request-Id', id);
    for (const [name, values] of staticHeaders) res.setHeader(name, values);

    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    let path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const rawQuery = q === -1 ? '' : rawUrl.slice(q + 1);
    const method = req.method ?? 'GET';
    let routeName: RouteName | 'unknown' = 'unknown';

    const log = app.logger.child({ reqId: id });
    res.once('finish', () => {
      const durationMs = performance.now() - started;
      app.onFinished?.({ route: routeName, method, status: res.statusCode, durationMs });
      access?.info(
        { reqId: id, method, url: rawUrl, route: routeName, status: res.statusCode, ms: Math.round(durationMs * 10) / 10, remote: req.socket.remoteAddress, ua: req.headers['user-agent'] },
        'request',
      );
    });

    const fail = (err: unknown) => {
      const wire = toWireError(err);
      if (wire.internal) log.error({ err }, 'request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = Buffer.from(JSON.stringify(wire.body));
      res.writeHead(wire.status, { 'Content-Type': 'application/json', 'Content-Length': String(body.length), ...wire.headers });
      res.end(method === 'HEAD' ? undefined : body);
    };

    // Paths outside the API (the token endpoint) go to the extra routes first.
    const apiRoot = `${app.urls.prefix}/v2`;
    if (app.routes && app.routes.length > 0 && path !== apiRoot && !path.startsWith(`${apiRoot}/`)) {
      const rawPath = path;
      void (async () => {
        for (const route of app.routes ?? []) {
          if (await route(req, res, rawPath)) return;
        }
        fail(new HttpError('UNSUPPORTED', 'unknown API endpoint', { path: rawPath.slice(0, 300) }, 404));
      })().catch(fail);
      return;
    }
    if (app.urls.prefix) {
      if (!path.startsWith(app.urls.prefix)) return fail(new HttpError('UNSUPPORTED', 'unknown API endpoint', undefined, 404));
      path = path.slice(app.urls.prefix.length) || '/';
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return fail(new HttpError('NAME_INVALID', 'malformed URL encoding', undefined, 400));
    }
    const match = matchRoute(decoded);
    if (!match) return fail(new HttpError('UNSUPPORTED', 'unknown API endpoint', { path: decoded.slice(0, 300) }, 404));
    routeName = match.route;
    if (!ROUTE_METHODS[match.route].includes(method)) {
      return fail(new HttpError('UNSUPPORTED', `method ${method} not allowed here`, undefined, 405, { Allow: ROUTE_METHODS[match.route].join(', ') }));
    }

    const ctx = new RequestContext(req, res, id, match, rawQuery, log, app.urls);
    const run = async () => {
      if (match.name !== undefined) parseRepositoryName(match.name);
      for (const gate of app.gates ?? []) {
        if ((await gate(ctx)) === false) return;
      }
      if (app.readOnly && MUTATING.has(method)) throw new HttpError('UNSUPPORTED', 'the registry is in read-only mode');
      await HANDLERS[match.route](app, ctx);
    };
    run().catch(fail);
  };
}

function headerId(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v && /^[A-Za-z0-9._:-]{1,128}$/.test(v) ? v : undefined;
}
