/**
 * The composition root: from a validated Configuration to a running registry (storage driver,
 * descriptor cache, storage registry, HTTP app, upload purger). Nothing else wires components.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Configuration } from './config/index.js';
import { combineCacheObservers, type Composition, type Installer } from './composition.js';
import type { Namespace } from './distribution/services.js';
import { INSTALLERS } from './features.js';
import { createRequestListener, type AppOptions } from './http/app.js';
import { listen, type RunningServer } from './http/server.js';
import { UploadState } from './http/upload-state.js';
import { createLogger } from './observability/logger.js';
import type { BlobDescriptorCacheProvider } from './storage/cache/cache.js';
import { InMemoryBlobDescriptorCache } from './storage/cache/memory.js';
import type { StorageDriver } from './storage/driver/driver.js';
import { createDriver } from './storage/driver/factory.js';
import { startUploadPurger } from './storage/purge.js';
import { Registry } from './storage/registry.js';

export interface StartOptions {
  logger?: Logger;
  /** Use this driver instead of building the configured one (tests). */
  driver?: StorageDriver;
  /** Extra installers after the configured features (tests). */
  installers?: Installer[];
}

export interface RunningRegistry {
  registry: Registry;
  server: RunningServer;
  logger: Logger;
  /** Base URL of the listener, e.g. http://127.0.0.1:5000. */
  url: string;
  composition: Composition;
  /** Stop: finish in-flight requests up to `http.draintimeout`, then close everything. */
  close(): Promise<void>;
}

function compilePatterns(patterns: string[] | undefined, key: string): RegExp[] | undefined {
  if (!patterns || patterns.length === 0) return undefined;
  return patterns.map((p, i) => {
    try {
      return new RegExp(p);
    } catch (err) {
      throw new Error(`${key}[${i}]: invalid regular expression ${JSON.stringify(p)}: ${(err as Error).message}`, { cause: err });
    }
  });
}

function createCache(config: Configuration, logger: Logger): BlobDescriptorCacheProvider | undefined {
  const { blobdescriptor, blobdescriptorsize } = config.storage.cache;
  if (blobdescriptor === undefined) return undefined;
  if (blobdescriptor === 'redis') {
    logger.warn('storage.cache.blobdescriptor: redis is not available in this build yet; using the in-memory cache');
  }
  return new InMemoryBlobDescriptorCache(blobdescriptorsize > 0 ? blobdescriptorsize : Number.MAX_SAFE_INTEGER);
}

/** Normalise `http.prefix` to '' or '/something' (no trailing slash). */
function normalisePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  const trimmed = `/${prefix.replace(/^\/+|\/+$/g, '')}`;
  return trimmed === '/' ? '' : trimmed;
}

/** Build the app options from the configuration (exported for in-process tests). */
export function buildApp(config: Configuration, namespace: Namespace, logger: Logger): AppOptions {
  let secret = config.http.secret;
  if (!secret) {
    secret = randomBytes(32).toString('hex');
    logger.warn('http.secret is not set: generated a random one; instances behind a load balancer must share a configured secret');
  }
  return {
    namespace,
    logger,
    urls: { host: config.http.host || undefined, prefix: normalisePrefix(config.http.prefix), relative: config.http.relativeurls },
    deleteEnabled: config.storage.delete.enabled,
    readOnly: config.storage.maintenance.readonly.enabled,
    redirect: !config.storage.redirect.disable,
    uploadState: new UploadState(secret),
    headers: config.http.headers ?? {},
    catalogMaxEntries: config.catalog.maxentries > 0 ? config.catalog.maxentries : 1000,
    maxTags: config.tags.maxtags,
    accessLog: !config.log.accesslog.disabled,
    manifestPolicy: {
      urls: {
        allow: compilePatterns(config.validation.manifests.urls.allow, 'validation.manifests.urls.allow'),
        deny: compilePatterns(config.validation.manifests.urls.deny, 'validation.manifests.urls.deny'),
        disabled: !config.validation.enabled,
      },
    },
  };
}

export async function startRegistry(config: Configuration, opts: StartOptions = {}): Promise<RunningRegistry> {
  const logger = opts.logger ?? createLogger({ level: config.log.level, formatter: config.log.formatter, fields: config.log.fields });
  const installers = [...INSTALLERS, ...(opts.installers ?? [])];
  const comp: Composition = {
    config,
    logger,
    driver: opts.driver ?? (await createDriver(config.storage.driver)),
    cache: undefined,
    cacheObservers: [],
    gates: [],
    decorators: [],
    routes: [],
    debugRoutes: [],
    requestObservers: [],
    healthChecks: [],
    metricSources: [],
    onClose: [],
  };
  const closeAll = async () => {
    for (const fn of [...comp.onClose].reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.error({ err }, 'error while closing');
      }
    }
  };
  try {
    for (const i of installers) await i.storage?.(comp);
    comp.cache ??= createCache(config, logger);
    const cache = comp.cache;
    if (cache?.close) comp.onClose.push(() => cache.close?.());
    const registry = new Registry({
      driver: comp.driver,
      cache,
      cacheName: config.storage.cache.blobdescriptor,
      cacheObserver: combineCacheObservers(comp.cacheObservers),
      tagConcurrencyLimit: config.storage.tag.concurrencylimit > 0 ? config.storage.tag.concurrencylimit : 8,
    });
    comp.registry = registry;
    comp.namespace = registry;
    for (const i of installers) await i.app?.(comp);

    const app = buildApp(config, comp.namespace, logger);
    app.gates = comp.gates;
    app.decorators = comp.decorators;
    app.routes = comp.routes;
    app.canMountFrom = comp.canMountFrom;
    const observers = comp.requestObservers;
    if (observers.length > 0) app.onFinished = (info) => observers.forEach((o) => o(info));

    const purging = config.storage.maintenance.uploadpurging;
    if (purging.enabled && !app.readOnly) {
      const stop = startUploadPurger({
        driver: comp.driver,
        ageMs: purging.age,
        intervalMs: purging.interval,
        dryRun: purging.dryrun,
        onResult: (r) => {
          if (r.purged.length > 0 || r.errors.length > 0) logger.info({ purged: r.purged.length, dryRun: purging.dryrun, errors: r.errors.length }, 'upload purge finished');
        },
        onError: (err) => logger.error({ err }, 'upload purge failed'),
      });
      comp.onClose.push(stop);
    }

    const tls = config.http.tls.certificate ? { certificate: config.http.tls.certificate, key: config.http.tls.key ?? '', clientcas: config.http.tls.clientcas, minimumtls: config.http.tls.minimumtls } : undefined;
    const server = await listen({ addr: config.http.addr, net: config.http.net, tls }, createRequestListener(app));
    const scheme = tls ? 'https' : 'http';
    const host = server.address.startsWith('::') || server.address.startsWith('0.0.0.0') ? '127.0.0.1' : server.address.split(':').slice(0, -1).join(':');
    const url = config.http.net === 'unix' ? `unix:${server.address}` : `${scheme}://${host.includes(':') ? `[${host}]` : host}:${server.port}`;
    comp.url = url;
    for (const i of installers) await i.start?.(comp);
    logger.info({ addr: server.address, storage: comp.driver.name, cache: config.storage.cache.blobdescriptor ?? 'none', features: installers.map((i) => i.name) }, 'listening');

    return {
      registry,
      server,
      logger,
      url,
      composition: comp,
      async close() {
        await server.close(config.http.draintimeout);
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
