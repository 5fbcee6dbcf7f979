/**
 * The registry's Prometheus metrics, one set per running registry (its own prom-client Registry,
 * no module globals, so two registries in one process never mix their numbers).
 *
 * Names follow the reference where it has the metric (`registry_http_requests_total`,
 * `registry_http_request_duration_seconds`, `registry_storage_action_seconds`,
 * `registry_storage_cache_total`), so existing dashboards keep working; the rest are berth's.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { renderSamples, type MetricSource } from './samples.js';
import type { AppOptions } from '../http/app.js';
import type { CacheObserver } from '../storage/cache/cache.js';

/** Seconds: from sub-millisecond cache hits to multi-minute uploads. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** berth's route names as the reference's handler labels. */
const HANDLER_NAMES: Record<string, string> = {
  base: 'base',
  catalog: 'catalog',
  tags: 'tags',
  manifest: 'manifest',
  blob: 'blob',
  'upload-start': 'blob_upload',
  upload: 'blob_upload_chunk',
  referrers: 'referrers',
  unknown: 'unknown',
};

export type RequestInfo = Parameters<NonNullable<AppOptions['onFinished']>>[0];

export class RegistryMetrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'handler' | 'method' | 'code'>;
  readonly httpDuration: Histogram<'handler' | 'method' | 'code'>;
  readonly bytesPushed: Counter<'kind'>;
  readonly bytesPulled: Counter<'kind'>;
  readonly cache: Counter<'cache' | 'type'>;
  readonly storageSeconds: Histogram<'driver' | 'action'>;
  readonly storageErrors: Counter<'driver' | 'action' | 'error'>;
  readonly uploadsInProgress: Gauge;
  readonly uploads: Counter<'event'>;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: 'registry_http_requests_total',
      help: 'HTTP requests served, by handler, method and status code',
      labelNames: ['handler', 'method', 'code'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'registry_http_request_duration_seconds',
      help: 'Time to serve an HTTP request, by handler, method and status code',
      labelNames: ['handler', 'method', 'code'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.bytesPushed = new Counter({ name: 'registry_bytes_pushed_total', help: 'Bytes received from clients (blob uploads, manifests)', labelNames: ['kind'], registers });
    this.bytesPulled = new Counter({ name: 'registry_bytes_pulled_total', help: 'Bytes served to clients (blobs, manifests)', labelNames: ['kind'], registers });
    this.cache = new Counter({
      name: 'registry_storage_cache_total',
      help: 'Blob descriptor cache lookups by cache and outcome (Request, Hit, Miss, Error)',
      labelNames: ['cache', 'type'],
      registers,
    });
    this.storageSeconds = new Histogram({
      name: 'registry_storage_action_seconds',
      help: 'Time taken by storage driver operations, by driver and action',
      labelNames: ['driver', 'action'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.storageErrors = new Counter({
      name: 'registry_storage_action_errors_total',
      help: 'Storage driver operations that failed, by driver, action and error',
      labelNames: ['driver', 'action', 'error'],
      registers,
    });
    this.uploadsInProgress = new Gauge({ name: 'registry_uploads_in_progress', help: 'Upload requests currently receiving data', registers });
    this.uploads = new Counter({ name: 'registry_uploads_total', help: 'Upload sessions by event (started, completed, cancelled)', labelNames: ['event'], registers });
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Request accounting, for AppOptions.onFinished. */
  observeRequest(info: RequestInfo): void {
    const labels = { handler: HANDLER_NAMES[info.route] ?? info.route, method: info.method, code: String(info.status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, info.durationMs / 1000);
  }

  /** Cache accounting, for the composition's cache observers. */
  cacheObserver(): CacheObserver {
    return {
      hit: (cache) => {
        this.cache.inc({ cache, type: 'Request' });
        this.cache.inc({ cache, type: 'Hit' });
      },
      miss: (cache) => {
        this.cache.inc({ cache, type: 'Request' });
        this.cache.inc({ cache, type: 'Miss' });
      },
      error: (cache) => this.cache.inc({ cache, type: 'Error' }),
    };
  }

  /** Features whose metrics are computed at scrape time (see samples.ts). */
  readonly sources: MetricSource[] = [];

  /** The exposition text and its content type. */
  async expose(): Promise<{ contentType: string; body: string }> {
    const extra = renderSamples(this.sources.flatMap((s) => s.samples()));
    return { contentType: this.registry.contentType, body: (await this.registry.metrics()) + extra };
  }
}
