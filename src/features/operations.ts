/**
 * Running the registry in production: the Redis blob descriptor cache, health checks with the API
 * gate, Prometheus metrics (instrumented driver, request/cache/transfer accounting) and the debug
 * server that exposes them.
 *
 *   storage: wrap the driver with metrics; provide the Redis cache (`storage.cache.blobdescriptor: redis`)
 *   app:     health checks from `health:`, the 503 gate, debug routes, request observers, decorators
 *   start:   fold in other features' health checks, start checking, start the debug server
 */
import type { Composition, Installer } from '../composition.js';
import { fileCheck, httpCheck, storageDriverCheck, tcpCheck } from '../health/checks.js';
import { HealthRegistry } from '../health/health-registry.js';
import { healthGate, healthRoute } from '../health/http.js';
import { metricsRoute, startDebugServer } from '../observability/debug-server.js';
import { instrumentDriver } from '../observability/instrumented-driver.js';
import { RegistryMetrics } from '../observability/metrics.js';
import { repositoryMetricsDecorator } from '../observability/repository-metrics.js';
import type { RedisBlobDescriptorCache } from '../storage/cache/redis.js';

/** How often the advisory Redis check pings when nothing else has told us about Redis. */
const REDIS_CHECK_INTERVAL_MS = 10_000;
/** Interval for checks other features register without one. */
const DEFAULT_CHECK_INTERVAL_MS = 10_000;

interface OperationsState {
  health: HealthRegistry;
  metrics?: RegistryMetrics;
  redis?: RedisBlobDescriptorCache;
}

// State per running registry: the installer object is shared by every registry in the process.
const states = new WeakMap<Composition, OperationsState>();

function stateOf(comp: Composition): OperationsState {
  let state = states.get(comp);
  if (!state) {
    state = { health: new HealthRegistry() };
    states.set(comp, state);
  }
  return state;
}

function setUpMetrics(comp: Composition, state: OperationsState): void {
  const { debug } = comp.config.http;
  if (!debug.prometheus.enabled) return;
  if (!debug.addr) {
    comp.logger.warn('http.debug.prometheus.enabled is set but http.debug.addr is not: metrics are not served');
    return;
  }
  const metrics = new RegistryMetrics();
  state.metrics = metrics;
  comp.driver = instrumentDriver(comp.driver, metrics);
  comp.cacheObservers.push(metrics.cacheObserver());
}

async function setUpRedisCache(comp: Composition, state: OperationsState): Promise<void> {
  const { config } = comp;
  if (config.storage.cache.blobdescriptor !== 'redis' || !config.redis) return;
  // Loaded only when configured: the client library is not small.
  const [{ RedisBlobDescriptorCache }, { createRedisClient, hasPoolSettings }] = await Promise.all([
    import('../storage/cache/redis.js'),
    import('../storage/cache/redis-client.js'),
  ]);
  if (hasPoolSettings(config.redis)) {
    comp.logger.info('redis pool settings have no effect: berth multiplexes commands over one connection per redis node');
  }
  const logger = comp.logger.child({ component: 'redis-cache' });
  const cache = new RedisBlobDescriptorCache(createRedisClient(config.redis), {
    logger,
    onAvailabilityChange: (err) => state.health.report('redis', err),
  });
  // Not in use until the first connection answers; the cache reports when it is.
  state.health.report('redis', new Error('connecting to redis'));
  state.redis = cache;
  comp.cache = cache;
}

function registerConfiguredChecks(comp: Composition, health: HealthRegistry): void {
  const { health: cfg } = comp.config;
  if (cfg.storagedriver.enabled) {
    health.register(`storagedriver_${comp.driver.name}`, storageDriverCheck(comp.driver), {
      intervalMs: cfg.storagedriver.interval,
      threshold: cfg.storagedriver.threshold,
      critical: true,
    });
  }
  for (const f of cfg.file) {
    health.register(f.file, fileCheck(f.file), { intervalMs: f.interval, threshold: f.threshold, critical: true });
  }
  for (const h of cfg.http) {
    health.register(h.uri, httpCheck({ uri: h.uri, statuscode: h.statuscode, headers: h.headers, timeoutMs: h.timeout }), {
      intervalMs: h.interval,
      threshold: h.threshold,
      critical: true,
      timeoutMs: h.timeout,
    });
  }
  for (const t of cfg.tcp) {
    health.register(t.addr, tcpCheck(t.addr, t.timeout), { intervalMs: t.interval, threshold: t.threshold, critical: true, timeoutMs: t.timeout });
  }
}

export const operationsInstaller: Installer = {
  name: 'operations',

  async storage(comp) {
    const state = stateOf(comp);
    setUpMetrics(comp, state);
    await setUpRedisCache(comp, state);
  },

  app(comp) {
    const state = stateOf(comp);
    const { health, metrics, redis } = state;
    registerConfiguredChecks(comp, health);
    if (redis) {
      // Advisory: a Redis outage is reported, but the registry keeps serving from storage.
      health.register('redis', () => redis.availability.check(), { intervalMs: REDIS_CHECK_INTERVAL_MS, threshold: 1, critical: false });
    }
    // First among the gates: an unhealthy registry answers 503 before anything else looks at the request.
    comp.gates.unshift(healthGate(health));
    comp.debugRoutes.push(healthRoute(health));
    if (metrics) {
      comp.debugRoutes.push(metricsRoute(metrics, comp.config.http.debug.prometheus.path || '/metrics'));
      // Read at scrape time, so features installed after this one are included too.
      metrics.sources.push({ samples: () => comp.metricSources.flatMap((s) => s.samples()) });
      comp.requestObservers.push((info) => metrics.observeRequest(info));
      comp.decorators.push(repositoryMetricsDecorator(metrics));
    }
  },

  async start(comp) {
    const { health } = stateOf(comp);
    for (const check of comp.healthChecks) {
      health.register(check.name, () => check.check(), { intervalMs: DEFAULT_CHECK_INTERVAL_MS, threshold: 1, critical: true });
    }
    health.start();
    comp.onClose.push(() => health.stop());
    const addr = comp.config.http.debug.addr;
    if (addr) {
      const server = await startDebugServer(addr, comp.debugRoutes, comp.logger);
      comp.logger.info({ addr: server.address }, 'debug server listening');
      comp.onClose.push(() => server.close(0));
    }
  },
};
