// Every route of the API with every method it answers, the actions each needs, and the users of
// the matrix tests with the grants the access rules below give them.
import { ROUTE_METHODS, type RouteName } from '../../src/http/router.js';
import { sha256 } from './helpers.js';

export const REPO = 'matrix/repo';
const DIGEST = sha256('matrix');
const UPLOAD = '0b7d3c36-7bd4-4f05-9bd0-8e4b2b6f5d10';

export interface RouteCase {
  route: RouteName;
  method: string;
  path: string;
  /** Repository actions, or `catalog`; empty: authentication alone. */
  needs: string[];
  /** The scope a Bearer challenge names ('' for none). */
  scope: string;
}

const PATHS: Record<RouteName, string> = {
  base: '/v2/',
  catalog: '/v2/_catalog',
  tags: `/v2/${REPO}/tags/list`,
  manifest: `/v2/${REPO}/manifests/latest`,
  blob: `/v2/${REPO}/blobs/${DIGEST}`,
  'upload-start': `/v2/${REPO}/blobs/uploads/`,
  upload: `/v2/${REPO}/blobs/uploads/${UPLOAD}`,
  referrers: `/v2/${REPO}/referrers/${DIGEST}`,
};

function needsOf(route: RouteName, method: string): string[] {
  if (route === 'base') return [];
  if (route === 'catalog') return ['catalog'];
  if (method === 'GET' || method === 'HEAD') return ['pull'];
  if (method === 'DELETE') return ['delete'];
  return ['pull', 'push'];
}

/** Built from the router's own table, so a route added later is covered (or fails here). */
export const CASES: RouteCase[] = (Object.keys(ROUTE_METHODS) as RouteName[]).flatMap((route) =>
  ROUTE_METHODS[route].map((method) => {
    const needs = needsOf(route, method);
    const path = route === 'manifest' && method === 'DELETE' ? `/v2/${REPO}/manifests/${DIGEST}` : PATHS[route];
    const scope = route === 'base' ? '' : route === 'catalog' ? 'registry:catalog:*' : `repository:${REPO}:${needs.join(',')}`;
    return { route, method, path, needs, scope };
  }),
);

/** Users of the matrix: password is the name reversed. */
export const USERS: Record<string, string[]> = {
  admin: ['pull', 'push', 'delete', 'catalog'],
  puller: ['pull'],
  pusher: ['pull', 'push'],
  deleter: ['delete'],
  lister: ['catalog'],
  // Everything, but on another repository: a grant for A is no grant for B.
  outsider: [],
};

export const passwordOf = (user: string): string => [...user].reverse().join('') + '-pw';

export const MATRIX_ACCESS = {
  groups: { cleaners: ['deleter'] },
  rules: [
    { users: ['admin'], repositories: ['**'], actions: ['*'], catalog: true },
    { users: ['puller'], repositories: ['matrix/*'], actions: ['pull'] },
    { users: ['pusher'], repositories: ['matrix/**'], actions: ['pull', 'push'] },
    { groups: ['cleaners'], repositories: ['matrix/repo'], actions: ['delete'] },
    { users: ['lister'], catalog: true },
    { users: ['outsider'], repositories: ['other/**'], actions: ['*'] },
  ],
};

export function allowed(user: string, c: RouteCase): boolean {
  const grants = USERS[user] ?? [];
  return c.needs.every((n) => grants.includes(n));
}

/** Request body and headers that get each case past parsing when it is let through. */
export function requestInit(c: RouteCase): { headers: Record<string, string>; body?: string } {
  if (c.method === 'PUT' && c.route === 'manifest') return { headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{}' };
  if (c.method === 'PATCH' || c.method === 'PUT') return { headers: { 'content-type': 'application/octet-stream' }, body: 'x' };
  return { headers: {} };
}
