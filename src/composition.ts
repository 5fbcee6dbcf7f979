/**
 * How features plug into the registry without touching each other's code. The composition root
 * (registry-server.ts) builds a Composition and runs every installer of src/features.ts through
 * three phases:
 *
 *   storage: wrap the driver (metrics, storage middleware), provide the descriptor cache (redis)
 *   app:     after the storage registry exists: replace/wrap the namespace (proxy), add request
 *            gates (health, auth), repository decorators (notifications), extra routes (token
 *            server), request observers (metrics), debug-server routes, health checks
 *   start:   after the main listener is up (debug server, background delivery)
 *
 * Close hooks run in reverse order of registration on shutdown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Configuration } from './config/index.js';
import type { Namespace, Repository } from './distribution/services.js';
import type { AppOptions } from './http/app.js';
import type { RequestContext } from './http/context.js';
import type { BlobDescriptorCacheProvider, CacheObserver } from './storage/cache/cache.js';
import type { StorageDriver } from './storage/driver/driver.js';
import type { MetricSource } from './observability/samples.js';
import type { Registry } from './storage/registry.js';

/** A route outside `/v2/` (the token endpoint) or on the debug server. Answer true when handled. */
export type RawRoute = (req: IncomingMessage, res: ServerResponse, path: string) => boolean | Promise<boolean>;

/** A named health check; it throws (or rejects) while unhealthy. */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

export interface Composition {
  readonly config: Configuration;
  readonly logger: Logger;
  /** Storage phase: the driver everything uses; installers may wrap it. */
  driver: StorageDriver;
  /** Storage phase: the blob descriptor cache (undefined: none). */
  cache: BlobDescriptorCacheProvider | undefined;
  /** Cache metrics callbacks, combined from every installer. */
  cacheObservers: CacheObserver[];
  /** App phase: the storage registry (set before the app phase). */
  registry?: Registry;
  /** App phase: what handlers open repositories from; installers may wrap it. */
  namespace?: Namespace;
  gates: NonNullable<AppOptions['gates']>;
  decorators: ((repo: Repository, ctx: RequestContext) => Repository)[];
  /** Requests whose path is not under the API prefix's /v2/ are offered to these first. */
  routes: RawRoute[];
  /** Routes served by the debug server (`http.debug.addr`). */
  debugRoutes: RawRoute[];
  requestObservers: NonNullable<AppOptions['onFinished']>[];
  healthChecks: HealthCheck[];
  /** Metrics computed at scrape time, served with the Prometheus metrics when enabled. */
  metricSources: MetricSource[];
  /** Set by the auth installer: may a mount read from the source repository? */
  canMountFrom?: AppOptions['canMountFrom'];
  /** Start phase: the main listener's base URL. */
  url?: string;
  onClose: (() => Promise<void> | void)[];
}

export interface Installer {
  name: string;
  storage?(comp: Composition): void | Promise<void>;
  app?(comp: Composition): void | Promise<void>;
  start?(comp: Composition): void | Promise<void>;
}

/** Fan a list of cache observers out into one. */
export function combineCacheObservers(observers: CacheObserver[]): CacheObserver {
  return {
    hit: (c) => observers.forEach((o) => o.hit?.(c)),
    miss: (c) => observers.forEach((o) => o.miss?.(c)),
    error: (c, e) => observers.forEach((o) => o.error?.(c, e)),
  };
}
