/**
 * The expiry schedule of pulled-through content, persisted where and how the reference keeps it:
 * `/scheduler-state.json` at the driver root, a JSON object keyed by `<name>@<digest>` whose values
 * are `{"Key": "<name>@<digest>", "ExpiryData": "<RFC 3339 time>", "EntryType": 0|1}` (0 blob,
 * 1 manifest). A registry restarted mid-TTL reads it back and expires on time; entries already due
 * expire right after start.
 *
 * One timer for the soonest entry rather than one per entry: everything due when it fires is
 * handed to the expiry callback as one batch, so the cleanup can share its storage walks.
 * Changes are written back shortly after they happen and on stop.
 */
import type { Logger } from 'pino';
import { parseDigest, type Digest } from '../digest/digest.js';
import { isValidRepositoryName } from '../reference/reference.js';
import type { StorageDriver } from '../storage/driver/driver.js';
import { PathNotFoundError } from '../storage/driver/errors.js';
import { SCHEDULER_STATE_PATH } from '../storage/paths.js';

export type EntryKind = 'blob' | 'manifest';

export interface ScheduledItem {
  repository: string;
  digest: Digest;
  kind: EntryKind;
}

interface Entry extends ScheduledItem {
  key: string;
  /** Epoch milliseconds. */
  expiry: number;
}

interface StateEntry {
  Key: string;
  ExpiryData: string;
  EntryType: number;
}

const ENTRY_TYPES: Record<EntryKind, number> = { blob: 0, manifest: 1 };
/** Longer delays overflow setTimeout; the timer simply re-arms. */
const MAX_DELAY = 2 ** 31 - 1;
const RETRY_DELAY = 60_000;
/**
 * The timer fires this long after the soonest expiry, so that entries added together (a pulled
 * image's manifest and blobs, a millisecond apart) expire in one batch: each batch costs one walk
 * of the repositories to find which bytes nobody links any more.
 */
const COALESCE_MS = 100;

export interface SchedulerOptions {
  driver: StorageDriver;
  logger: Logger;
  /** Remove what expired; resolves to the items that could not be removed (retried later). */
  onExpire: (items: ScheduledItem[]) => Promise<ScheduledItem[]>;
  /** Entries read back from storage that fail this are dropped (their repository is no longer proxied). */
  accept?: (item: ScheduledItem) => boolean;
  /** Delay between a change and writing the state. Default 1 s. */
  saveDelayMs?: number;
  now?: () => number;
}

export class TTLScheduler {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private saveTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private running: Promise<void> | undefined;
  private writing: Promise<void> = Promise.resolve();
  private started = false;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly opts: SchedulerOptions) {
    this.now = opts.now ?? Date.now;
  }

  static key(repository: string, digest: string): string {
    return `${repository}@${digest}`;
  }

  /** Read the saved state and arm the timer. */
  async start(): Promise<void> {
    if (this.started) throw new Error('scheduler already started');
    this.started = true;
    let raw: Buffer | undefined;
    try {
      raw = await this.opts.driver.getContent(SCHEDULER_STATE_PATH);
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
    if (raw) this.load(raw);
    this.arm();
  }

  private load(raw: Buffer): void {
    let doc: unknown;
    try {
      doc = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      this.opts.logger.error({ err, path: SCHEDULER_STATE_PATH }, 'proxy: the expiry schedule is not valid JSON; starting with an empty schedule');
      return;
    }
    if (typeof doc !== 'object' || doc === null) return;
    let dropped = 0;
    for (const value of Object.values(doc as Record<string, Partial<StateEntry>>)) {
      const entry = fromState(value);
      if (!entry || (this.opts.accept && !this.opts.accept(entry))) {
        dropped++;
        continue;
      }
      this.entries.set(entry.key, entry);
    }
    if (dropped > 0) {
      this.dirty = true;
      this.scheduleSave();
      this.opts.logger.warn({ dropped }, 'proxy: dropped expiry entries that are malformed or name repositories no longer proxied');
    }
    this.opts.logger.info({ entries: this.entries.size }, 'proxy: expiry schedule loaded');
  }

  /** Schedule (or re-schedule) removal of an item after `ttlMs`. */
  add(item: ScheduledItem, ttlMs: number): void {
    if (this.stopped) return;
    const key = TTLScheduler.key(item.repository, item.digest);
    const entry: Entry = { ...item, key, expiry: this.now() + ttlMs };
    this.entries.set(key, entry);
    this.dirty = true;
    this.scheduleSave();
    if (entry.expiry < this.timerAt) this.arm();
  }

  has(repository: string, digest: string): boolean {
    return this.entries.has(TTLScheduler.key(repository, digest));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Stop the timers, let a running expiry finish, and write the state. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.saveTimer);
    await this.running;
    if (this.dirty) await this.save();
    await this.writing;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped || this.running || this.entries.size === 0) return;
    let soonest = Infinity;
    for (const e of this.entries.values()) if (e.expiry < soonest) soonest = e.expiry;
    this.timerAt = soonest;
    const delay = Math.min(Math.max(0, soonest - this.now()) + COALESCE_MS, MAX_DELAY);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.running = this.fire().finally(() => {
        this.running = undefined;
        this.arm();
      });
    }, delay);
    this.timer.unref();
  }

  private async fire(): Promise<void> {
    const now = this.now();
    const due = [...this.entries.values()].filter((e) => e.expiry <= now);
    if (due.length === 0) return;
    let failed: ScheduledItem[];
    try {
      failed = await this.opts.onExpire(due.map(({ repository, digest, kind }) => ({ repository, digest, kind })));
    } catch (err) {
      this.opts.logger.error({ err }, 'proxy: expiry failed; retrying later');
      failed = due;
    }
    const retry = new Set(failed.map((i) => TTLScheduler.key(i.repository, i.digest)));
    for (const e of due) {
      // An entry re-added while the expiry ran has a new expiry: keep it.
      if (this.entries.get(e.key) !== e) continue;
      if (retry.has(e.key)) e.expiry = this.now() + RETRY_DELAY;
      else this.entries.delete(e.key);
    }
    this.dirty = true;
    this.scheduleSave();
  }

  private scheduleSave(): void {
    if (this.saveTimer || this.stopped) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, this.opts.saveDelayMs ?? 1000);
    this.saveTimer.unref();
  }

  /** Write the state; writes are serialised, and a failure leaves the state dirty for the next try. */
  private save(): Promise<void> {
    this.dirty = false;
    const state: Record<string, StateEntry> = {};
    for (const e of [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      state[e.key] = { Key: e.key, ExpiryData: new Date(e.expiry).toISOString(), EntryType: ENTRY_TYPES[e.kind] };
    }
    const body = JSON.stringify(state);
    this.writing = this.writing.then(() =>
      this.opts.driver.putContent(SCHEDULER_STATE_PATH, body).catch((err: unknown) => {
        this.opts.logger.error({ err }, 'proxy: could not write the expiry schedule');
        this.dirty = true;
        this.scheduleSave();
      }),
    );
    return this.writing;
  }
}

function fromState(value: Partial<StateEntry> | undefined): Entry | undefined {
  if (!value || typeof value.Key !== 'string') return undefined;
  const at = value.Key.lastIndexOf('@');
  if (at <= 0) return undefined;
  const repository = value.Key.slice(0, at);
  if (!isValidRepositoryName(repository)) return undefined;
  let digest: Digest;
  try {
    digest = parseDigest(value.Key.slice(at + 1)).digest;
  } catch {
    return undefined;
  }
  const kind: EntryKind | undefined = value.EntryType === 0 ? 'blob' : value.EntryType === 1 ? 'manifest' : undefined;
  const expiry = typeof value.ExpiryData === 'string' ? Date.parse(value.ExpiryData) : NaN;
  if (!kind || !Number.isFinite(expiry)) return undefined;
  return { repository, digest, kind, key: value.Key, expiry };
}
