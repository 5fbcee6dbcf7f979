/**
 * One configured endpoint: its ignore rules, its durable queue, and the background loop that
 * delivers the queue in order.
 *
 * Retries follow the reference's circuit breaker: a failed envelope is sent again at once until
 * `threshold` attempts in a row have failed; from then on each new attempt waits until `backoff`
 * has passed since the last failure. The same envelope is retried until it is accepted (or until
 * the queue bound drops its events), so nothing behind it overtakes it.
 */
import type { Logger } from 'pino';
import type { NotificationEndpoint } from '../config/index.js';
import { DurableQueue, type QueuedEvent } from './durable-queue.js';
import type { Event } from './event.js';
import { postEvents, type DeliveryResult, type HttpSinkOptions } from './http-sink.js';

/** Events per POST when a backlog has built up (the reference sends one at a time). */
export const MAX_BATCH_EVENTS = 32;
const MAX_BATCH_BYTES = 1024 * 1024;
/** Repeated log lines (drops) are summarised at most this often. */
const LOG_EVERY_MS = 10_000;

export interface EndpointStatus {
  name: string;
  /** The endpoint URL without any password. */
  url: string;
  /** Events waiting in the queue. */
  pending: number;
  /** Events offered to this endpoint since start (after the ignore rules). */
  events: number;
  /** Events the endpoint accepted. */
  delivered: number;
  /** Events in attempts the endpoint refused (non-2xx/3xx); a retried event counts again. */
  failed: number;
  /** Events in attempts that got no answer (refused connection, timeout). */
  errors: number;
  /** Events dropped because the queue was at `notifications.queue.maxevents`. */
  dropped: number;
  /** Events skipped by `ignore` / `ignoredmediatypes`. */
  ignored: number;
  /** Events that could not be written to the queue (disk errors) or were unreadable from it. */
  lost: number;
  /** Status of the last answer, null before any. */
  lastStatus: number | null;
  lastError: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  consecutiveFailures: number;
  /** Set while waiting out `backoff`. */
  backoffUntil: string | null;
  /** Answers by status code: how many events each covered. */
  statuses: Record<string, number>;
}

export interface EndpointOptions {
  config: NotificationEndpoint;
  /** Directory name of this endpoint's queue. */
  queueDirectory: string;
  maxEvents: number;
  segmentBytes?: number;
  logger: Logger;
}

export class Endpoint {
  readonly name: string;
  private readonly queue: DurableQueue;
  private readonly sink: HttpSinkOptions;
  private readonly threshold: number;
  private readonly backoffMs: number;
  private readonly ignoredMediaTypes: Set<string>;
  private readonly ignoredActions: Set<string>;
  private readonly log: Logger;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly stats: Omit<EndpointStatus, 'name' | 'url' | 'pending' | 'backoffUntil'> = {
    events: 0, delivered: 0, failed: 0, errors: 0, dropped: 0, ignored: 0, lost: 0,
    lastStatus: null, lastError: null, lastSuccess: null, lastFailure: null, consecutiveFailures: 0, statuses: {},
  };
  private backoffUntil = 0;
  private lastFailureAt = 0;
  private unloggedDrops = 0;
  private lastDropLog = 0;

  constructor(opts: EndpointOptions) {
    const c = opts.config;
    this.name = c.name;
    this.log = opts.logger.child({ endpoint: c.name });
    // Zero or negative values mean the reference's defaults.
    this.threshold = c.threshold > 0 ? c.threshold : 10;
    this.backoffMs = c.backoff > 0 ? c.backoff : 1000;
    this.sink = { url: c.url ?? '', headers: c.headers ?? {}, timeoutMs: c.timeout > 0 ? c.timeout : 1000 };
    this.ignoredMediaTypes = new Set([...c.ignoredmediatypes, ...c.ignore.mediatypes]);
    this.ignoredActions = new Set(c.ignore.actions);
    this.queue = new DurableQueue({
      directory: opts.queueDirectory,
      maxEvents: opts.maxEvents,
      segmentBytes: opts.segmentBytes,
      onDrop: (n) => this.dropped(n),
      onCorrupt: (n) => {
        this.stats.lost += n;
        this.log.warn({ lines: n }, 'notifications: skipped unreadable queue entries (torn by a crash?)');
      },
      onError: (err, what) => this.log.error({ err, what }, 'notifications: queue write failed'),
    });
    if (this.queue.pending > 0) this.log.info({ pending: this.queue.pending }, 'notifications: resuming delivery of queued events');
  }

  /** Does this endpoint want the event at all (`ignore.mediatypes`, `ignoredmediatypes`, `ignore.actions`)? */
  accepts(event: Event): boolean {
    const mediaType = event.target.mediaType;
    return !(mediaType !== undefined && this.ignoredMediaTypes.has(mediaType)) && !this.ignoredActions.has(event.action);
  }

  /** Queue a serialised event; never throws (a request must not fail because of notifications). */
  enqueue(event: Event, serialised: string): void {
    if (!this.accepts(event)) {
      this.stats.ignored++;
      return;
    }
    try {
      this.queue.append(serialised);
      this.stats.events++;
    } catch (err) {
      this.stats.lost++;
      this.log.error({ err, eventId: event.id }, 'notifications: could not queue an event; it is lost for this endpoint');
    }
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.log.error({ err }, 'notifications: delivery loop stopped'));
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
    await this.queue.close();
  }

  status(): EndpointStatus {
    return {
      name: this.name,
      url: redact(this.sink.url),
      pending: this.queue.pending,
      ...this.stats,
      statuses: { ...this.stats.statuses },
      backoffUntil: this.backoffUntil > Date.now() ? new Date(this.backoffUntil).toISOString() : null,
    };
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      try {
        const batch = await this.queue.next(MAX_BATCH_EVENTS, MAX_BATCH_BYTES, signal);
        if (batch.length > 0) await this.deliver(batch, signal);
      } catch (err) {
        // A disk error reading the queue: the events stay there; try again after a pause.
        this.log.error({ err }, 'notifications: could not read the queue; retrying');
        await sleep(this.backoffMs, signal);
      }
    }
  }

  /** Send one batch until it is accepted, dropped by the bound, or delivery stops. */
  private async deliver(batch: QueuedEvent[], signal: AbortSignal): Promise<void> {
    let records = batch;
    while (!signal.aborted) {
      records = records.filter((r) => r.seq > this.queue.ackedSeq);
      if (records.length === 0) return;
      if (this.stats.consecutiveFailures >= this.threshold) {
        const wait = this.lastFailureAt + this.backoffMs - Date.now();
        if (wait > 0) {
          this.backoffUntil = Date.now() + wait;
          await sleep(wait, signal);
          continue;
        }
      }
      const result = await postEvents(this.sink, records.map((r) => r.data), signal);
      if (signal.aborted) return;
      this.record(result, records.length);
      if (result.ok) {
        this.queue.ack(records.at(-1)!.seq);
        return;
      }
    }
  }

  private record(result: DeliveryResult, count: number): void {
    const now = new Date();
    if (result.status !== undefined) {
      this.stats.lastStatus = result.status;
      this.stats.statuses[String(result.status)] = (this.stats.statuses[String(result.status)] ?? 0) + count;
    }
    if (result.ok) {
      if (this.stats.consecutiveFailures > 0) this.log.info({ failures: this.stats.consecutiveFailures }, 'notifications: endpoint accepts events again');
      this.stats.delivered += count;
      this.stats.lastSuccess = now.toISOString();
      this.stats.consecutiveFailures = 0;
      this.backoffUntil = 0;
      return;
    }
    if (result.status !== undefined) this.stats.failed += count;
    else this.stats.errors += count;
    this.stats.lastError = result.error ?? `status ${result.status}`;
    this.stats.lastFailure = now.toISOString();
    this.lastFailureAt = now.getTime();
    this.stats.consecutiveFailures++;
    const failures = this.stats.consecutiveFailures;
    // Log the first failure and each time the breaker starts (another) backoff, not every retry.
    if (failures === 1 || (failures >= this.threshold && (failures - this.threshold) % this.threshold === 0)) {
      this.log.warn(
        { status: result.status, error: result.error, failures, pending: this.queue.pending, backoffMs: failures >= this.threshold ? this.backoffMs : 0 },
        'notifications: endpoint did not accept events; retrying',
      );
    }
  }

  private dropped(n: number): void {
    this.stats.dropped += n;
    this.unloggedDrops += n;
    const now = Date.now();
    if (now - this.lastDropLog >= LOG_EVERY_MS) {
      this.log.warn({ dropped: this.unloggedDrops, total: this.stats.dropped }, 'notifications: queue full (notifications.queue.maxevents); dropped the oldest events');
      this.unloggedDrops = 0;
      this.lastDropLog = now;
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
