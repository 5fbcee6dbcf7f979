/**
 * The registry's health: named checks, each run periodically and judged with a threshold of
 * consecutive failures (as the reference's periodic threshold checkers: one success resets the
 * count), plus statuses pushed from outside (the Redis cache reports its outages as they happen).
 *
 * Critical checks (the `health:` section, storage) take the API out of service while they fail;
 * advisory ones (Redis, whose outage the registry rides out) are only reported.
 */

export interface CheckOptions {
  intervalMs: number;
  /** Consecutive failures before the check counts as failing (at least 1). */
  threshold: number;
  /** Does a failure take the API out of service? */
  critical: boolean;
  /** Give up on one run after this long. Default: the interval. */
  timeoutMs?: number;
}

interface Entry {
  name: string;
  run?: () => Promise<void>;
  opts: CheckOptions;
  failures: number;
  lastError: Error | undefined;
  timer: NodeJS.Timeout | undefined;
}

function withTimeout(run: () => Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`check timed out after ${ms} ms`)), ms);
  });
  return Promise.race([run(), timeout]).finally(() => clearTimeout(timer));
}

export class HealthRegistry {
  private readonly entries = new Map<string, Entry>();
  private started = false;

  /** Add a periodic check; a name already taken gets a numeric suffix. Returns the name used. */
  register(name: string, run: () => Promise<void>, opts: CheckOptions): string {
    const normalised = { ...opts, threshold: Math.max(1, opts.threshold) };
    // A status reported before the check was registered belongs to it.
    const reported = this.entries.get(name);
    let entry: Entry;
    if (reported && !reported.run) {
      entry = Object.assign(reported, { run, opts: normalised });
    } else {
      entry = { name: this.uniqueName(name), run, opts: normalised, failures: 0, lastError: undefined, timer: undefined };
      this.entries.set(entry.name, entry);
    }
    if (this.started) this.schedule(entry, 0);
    return entry.name;
  }

  /** Set the status of a check driven from outside: an error while failing, undefined when fine. */
  report(name: string, err: Error | undefined, critical = false): void {
    let entry = this.entries.get(name);
    if (!entry) {
      entry = { name, opts: { intervalMs: 0, threshold: 1, critical }, failures: 0, lastError: undefined, timer: undefined };
      this.entries.set(name, entry);
    }
    this.record(entry, err);
  }

  /** Run every check now, then on its interval. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const entry of this.entries.values()) this.schedule(entry, 0);
  }

  stop(): void {
    this.started = false;
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
  }

  /** Every failing check, name → message (what /debug/health shows). */
  failing(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.entries.values()) {
      if (this.isFailing(e)) out[e.name] = e.lastError?.message ?? 'failed';
    }
    return out;
  }

  /** False while a critical check fails. */
  get serving(): boolean {
    for (const e of this.entries.values()) if (e.opts.critical && this.isFailing(e)) return false;
    return true;
  }

  /** Run every periodic check once, now (tests, and start-up before serving). */
  async runAll(): Promise<void> {
    await Promise.all([...this.entries.values()].filter((e) => e.run).map((e) => this.runOnce(e)));
  }

  private isFailing(e: Entry): boolean {
    return e.failures >= e.opts.threshold;
  }

  private record(e: Entry, err: Error | undefined): void {
    if (err) {
      e.lastError = err;
      if (e.failures < e.opts.threshold) e.failures++;
    } else {
      e.failures = 0;
      e.lastError = undefined;
    }
  }

  private async runOnce(e: Entry): Promise<void> {
    if (!e.run) return;
    try {
      await withTimeout(e.run, e.opts.timeoutMs ?? Math.max(1000, e.opts.intervalMs));
      this.record(e, undefined);
    } catch (err) {
      this.record(e, err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Runs never overlap: the next one is scheduled when the previous one has finished. */
  private schedule(e: Entry, delayMs: number): void {
    if (!e.run || e.opts.intervalMs <= 0) return;
    e.timer = setTimeout(() => {
      void this.runOnce(e).then(() => {
        if (this.started) this.schedule(e, e.opts.intervalMs);
      });
    }, delayMs);
    e.timer.unref();
  }

  private uniqueName(name: string): string {
    if (!this.entries.has(name)) return name;
    let i = 2;
    while (this.entries.has(`${name}#${i}`)) i++;
    return `${name}#${i}`;
  }
}
