/**
 * Access records: what a request needs, in the reference's terms. A record names a resource
 * (`repository:<name>` or `registry:catalog`) and one action. The registry derives them from the
 * route and method; challenges and token scopes are written from them.
 */
import type { RouteMatch } from '../http/router.js';

export interface AccessRecord {
  /** `repository` or `registry`. */
  type: string;
  name: string;
  /** `pull`, `push`, `delete`, or `*` (the catalog). */
  action: string;
}

/** The outcome of authorizing one request: who asked, and what they may do. */
export interface Authorization {
  /** undefined: anonymous. */
  user?: string;
  allows(record: AccessRecord): boolean;
}

export const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'] as const;
export type RepositoryAction = (typeof REPOSITORY_ACTIONS)[number];

export const CATALOG_RECORD: AccessRecord = Object.freeze({ type: 'registry', name: 'catalog', action: '*' });

/**
 * The records a request needs: GET/HEAD pull; POST/PUT/PATCH pull and push; DELETE delete; the
 * catalog `registry:catalog:*`; the base route none (authentication alone).
 */
export function accessRecordsFor(match: RouteMatch, method: string): AccessRecord[] {
  if (match.route === 'base') return [];
  if (match.route === 'catalog') return [CATALOG_RECORD];
  const name = match.name ?? '';
  switch (method) {
    case 'GET':
    case 'HEAD':
      return [{ type: 'repository', name, action: 'pull' }];
    case 'POST':
    case 'PUT':
    case 'PATCH':
      return [
        { type: 'repository', name, action: 'pull' },
        { type: 'repository', name, action: 'push' },
      ];
    case 'DELETE':
      return [{ type: 'repository', name, action: 'delete' }];
    default:
      // The router answers other methods with 405 before any gate; deny anyway.
      return [{ type: 'repository', name, action: method.toLowerCase() }];
  }
}

/** `repository:foo:pull,push registry:catalog:*`: one scope per resource, actions in order of appearance. */
export function scopeOf(records: readonly AccessRecord[]): string {
  const byResource = new Map<string, string[]>();
  for (const r of records) {
    const key = `${r.type}:${r.name}`;
    const actions = byResource.get(key);
    if (!actions) byResource.set(key, [r.action]);
    else if (!actions.includes(r.action)) actions.push(r.action);
  }
  return [...byResource].map(([resource, actions]) => `${resource}:${actions.join(',')}`).join(' ');
}

/** The error detail the reference sends with a 401: the records, in Go's field names. */
export function recordsDetail(records: readonly AccessRecord[]): unknown {
  if (records.length === 0) return undefined;
  return records.map((r) => ({ Type: r.type, Class: '', Name: r.name, Action: r.action }));
}

export interface RequestedScope {
  type: string;
  /** `repository(plugin):...` carries a class; kept for the token, ignored for decisions. */
  class?: string;
  name: string;
  actions: string[];
}

const TYPE_PATTERN = /^([a-z0-9]+)(?:\(([a-z0-9]+)\))?$/;

/**
 * Parse one scope of the token protocol, `type[(class)]:name:action[,action]`. The name may itself
 * contain colons (a registry host with a port), so the actions are what follows the last colon.
 */
export function parseScope(scope: string): RequestedScope | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const typeMatch = TYPE_PATTERN.exec(scope.slice(0, first));
  if (!typeMatch) return undefined;
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (name === '' || actions.length === 0) return undefined;
  return { type: typeMatch[1] as string, ...(typeMatch[2] ? { class: typeMatch[2] } : {}), name, actions };
}

/** Every scope in a list of `scope` parameters, each of which may hold several separated by spaces. */
export function parseScopes(params: readonly string[]): RequestedScope[] {
  const out: RequestedScope[] = [];
  for (const param of params) {
    for (const part of param.split(' ')) {
      if (part === '') continue;
      const scope = parseScope(part);
      if (scope) out.push(scope);
    }
  }
  return out;
}
