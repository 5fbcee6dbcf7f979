/**
 * The route table of the Distribution API. Repository names contain slashes, so routes are
 * recognised by their fixed suffix; the name is whatever stands between `/v2/` and it (the last
 * occurrence wins, as with the reference's greedy patterns). Compiled once, matched without
 * allocation-heavy machinery: HEAD/GET throughput is bound by this path.
 */

export type RouteName =
  | 'base'
  | 'catalog'
  | 'tags'
  | 'manifest'
  | 'blob'
  | 'upload-start'
  | 'upload'
  | 'referrers';

export interface RouteMatch {
  route: RouteName;
  /** Repository name, raw from the URL (validated by the handler layer). */
  name?: string;
  /** Tag or digest for manifests, digest for blobs and referrers, upload id for uploads. */
  ref?: string;
}

/** Methods each route answers; anything else is 405. */
export const ROUTE_METHODS: Record<RouteName, readonly string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET', 'HEAD'],
  tags: ['GET', 'HEAD'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  'upload-start': ['POST'],
  upload: ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET', 'HEAD'],
};

const PATTERNS: [RegExp, RouteName][] = [
  [/^\/v2\/(.+)\/tags\/list$/, 'tags'],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, 'manifest'],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, 'upload-start'],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, 'upload'],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, 'blob'],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, 'referrers'],
];

/** Match a path (already stripped of `http.prefix` and the query). Undefined: not an API route. */
export function matchRoute(path: string): RouteMatch | undefined {
  if (path === '/v2/' || path === '/v2') return { route: 'base' };
  if (!path.startsWith('/v2/')) return undefined;
  if (path === '/v2/_catalog') return { route: 'catalog' };
  for (const [pattern, route] of PATTERNS) {
    const m = pattern.exec(path);
    if (m) return { route, name: m[1], ref: m[2] };
  }
  return undefined;
}
