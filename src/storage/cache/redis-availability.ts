/**
 * Whether Redis may be asked right now. The cache is an optimisation, so an unreachable or stalled
 * Redis must cost requests nothing: after the first failure every cache call fails at once
 * (callers fall through to storage) until a background probe gets an answer again. Each outage is
 * logged once when it starts and once when it ends, and reported to whoever watches (health).
 *
 * Invalidations that could not reach Redis during an outage are remembered (bounded) and applied
 * before the cache is trusted again, so a blob deleted while Redis was away is not served from a
 * stale entry afterwards.
 */
import type { Logger } from 'pino';
import type { RedisClient } from './redis-client.js';

export class CacheUnavailableError extends Error {
  constructor(cause?: Error) {
    super(`redis cache unavailable${cause ? `: ${cause.message}` : ''}`, { cause });
    this.name = 'CacheUnavailableError';
  }
}

export interface AvailabilityOptions {
  logger?: Logger;
  /** How often to probe while Redis is away. Default 500 ms. */
  probeIntervalMs?: number;
  /** Invalidations kept for replay during an outage. Default 10000. */
  maxPendingRepairs?: number;
  /** How long a health check waits for the first connection. Default 5 s. */
  startTimeoutMs?: number;
  /** Called on every transition: an error when Redis became unavailable, undefined when it is in use. */
  onChange?: (err: Error | undefined) => void;
}

type State = 'starting' | 'up' | 'down' | 'closed';

/** A reply from the server (wrong type, out of memory...) says nothing about reachability. */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

export class RedisAvailability {
  private state: State = 'starting';
  private lastError: Error | undefined;
  private socketError: Error | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private readonly repairs = new Map<string, () => Promise<unknown>>();
  private repairsDropped = false;
  private readonly log: Logger | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly client: RedisClient,
    private readonly opts: AvailabilityOptions = {},
  ) {
    this.log = opts.logger;
    client.on('ready', () => void this.probe());
    client.on('error', (err: Error) => {
      this.socketError = err;
    });
    client.on('close', () => {
      if (this.state === 'up' || this.state === 'starting') this.markDown(this.socketError ?? new Error('connection to redis closed'));
    });
  }

  get available(): boolean {
    return this.state === 'up';
  }

  /** Why Redis is not in use (undefined while it is). */
  get error(): Error | undefined {
    return this.state === 'up' ? undefined : (this.lastError ?? new Error('redis is not connected yet'));
  }

  /** Resolve once Redis answered (tests, start-up); reject after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    if (this.state === 'up') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(this.error ?? new Error('redis not ready')), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Run a Redis operation when Redis is in use; any connection failure starts an outage. */
  async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.state !== 'up') throw new CacheUnavailableError(this.error);
    try {
      return await op();
    } catch (err) {
      if (!isReplyError(err)) this.markDown(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /**
   * Run an invalidation; when it cannot reach Redis, keep it (under `key`, deduplicated) for
   * when Redis returns. Still rejects, so the caller knows this attempt failed.
   */
  async invalidate(key: string, op: () => Promise<unknown>): Promise<void> {
    try {
      await this.run(op);
    } catch (err) {
      if (isReplyError(err)) throw err;
      this.remember(key, op);
      throw err;
    }
  }

  /** Ping Redis now (health checks); a failure starts an outage. */
  async check(): Promise<void> {
    if (this.state === 'starting') await this.ready(this.opts.startTimeoutMs ?? 5000);
    if (this.state !== 'up') throw this.error ?? new Error('redis unavailable');
    await this.run(() => this.client.ping());
  }

  close(): void {
    this.state = 'closed';
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  private remember(key: string, op: () => Promise<unknown>): void {
    if (this.repairs.has(key)) return;
    if (this.repairs.size >= (this.opts.maxPendingRepairs ?? 10000)) {
      this.repairsDropped = true;
      return;
    }
    this.repairs.set(key, op);
  }

  private markDown(err: Error): void {
    if (this.state === 'closed') return;
    this.lastError = err;
    if (this.state === 'down') return;
    const wasUp = this.state === 'up';
    this.state = 'down';
    this.log?.warn(
      { error: err.message },
      wasUp ? 'redis unavailable: serving blob descriptors from storage until it returns' : 'redis not reachable: serving blob descriptors from storage until it is',
    );
    this.opts.onChange?.(err);
    this.probeTimer ??= setInterval(() => void this.probe(), this.opts.probeIntervalMs ?? 500);
    this.probeTimer.unref();
  }

  /** Ask Redis directly (bypassing the state); on an answer, replay invalidations and go back up. */
  private async probe(): Promise<void> {
    if (this.probing || this.state === 'up' || this.state === 'closed') return;
    this.probing = true;
    try {
      await this.client.ping();
      for (const [key, op] of [...this.repairs]) {
        await op();
        this.repairs.delete(key);
      }
    } catch (err) {
      if (this.state === 'starting') this.markDown(err instanceof Error ? err : new Error(String(err)));
      else if (err instanceof Error) this.lastError = err;
      return;
    } finally {
      this.probing = false;
    }
    if ((this.state as State) === 'closed') return; // closed while probing
    const wasDown = this.state === 'down';
    this.state = 'up';
    this.lastError = undefined;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    if (wasDown) {
      this.log?.info('redis available again: the blob descriptor cache is in use');
      if (this.repairsDropped) {
        this.log?.warn('more deletions happened during the redis outage than could be remembered; some cache entries may be stale');
        this.repairsDropped = false;
      }
    } else {
      this.log?.info('redis connected: the blob descriptor cache is in use');
    }
    this.opts.onChange?.(undefined);
    for (const w of this.waiters.splice(0)) w();
  }
}
