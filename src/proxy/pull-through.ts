/**
 * The state of one pull-through cache instance: its upstreams, the downloads and manifest
 * fetches in flight (single-flight maps, per instance, never module globals), the expiry
 * schedule, and the spool directory. The proxied repositories (proxy-repository.ts) are cheap
 * per-request views over this.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Digest } from '../digest/digest.js';
import type { BlobDescriptorService } from '../storage/cache/cache.js';
import type { StorageDriver } from '../storage/driver/driver.js';
import type { Registry } from '../storage/registry.js';
import type { CallOptions, Descriptor } from '../distribution/types.js';
import { BlobDownload, SHUTDOWN, type DownloadDeps } from './blob-download.js';
import { AdoptingSink, CopyingSink, type BlobSink } from './blob-sink.js';
import { expireItems } from './expiry.js';
import { TTLScheduler, type EntryKind } from './scheduler.js';
import type { Upstream } from './upstream.js';

export interface PullThroughOptions {
  /** The local storage registry: where cached content lives. */
  registry: Registry;
  /** The global blob descriptor cache, when there is one (kept in step on expiry). */
  cache?: BlobDescriptorService;
  logger: Logger;
  upstreams: Upstream[];
  /**
   * The host directory of the filesystem driver's root, when storage is the plain filesystem
   * driver: downloads then spool straight into their upload file (see blob-sink.ts).
   */
  filesystemRoot?: string;
  /** Directory for private spool files (other drivers); default a fresh one under the OS temp dir. */
  spoolDir?: string;
  /** Delay before the schedule is written after a change (tests). */
  schedulerSaveDelayMs?: number;
}

export class PullThroughCache {
  readonly registry: Registry;
  readonly driver: StorageDriver;
  readonly logger: Logger;
  /** Longest prefix first, so `ghcr.io/acme` wins over `ghcr.io`. */
  readonly upstreams: Upstream[];
  readonly scheduler: TTLScheduler | undefined;
  private readonly downloads = new Map<string, BlobDownload>();
  private readonly fetches = new Map<string, Promise<unknown>>();
  private spool: string | undefined;
  private ownSpool = false;
  private closed = false;

  constructor(private readonly opts: PullThroughOptions) {
    this.registry = opts.registry;
    this.driver = opts.registry.driver;
    this.logger = opts.logger;
    this.upstreams = [...opts.upstreams].sort((a, b) => b.prefix.length - a.prefix.length);
    if (this.upstreams.some((u) => u.ttl > 0)) {
      this.scheduler = new TTLScheduler({
        driver: this.driver,
        logger: opts.logger,
        saveDelayMs: opts.schedulerSaveDelayMs,
        accept: (item) => this.upstreamFor(item.repository) !== undefined,
        onExpire: (items) => expireItems(items, { local: this.registry, driver: this.driver, cache: opts.cache, logger: opts.logger, busy: (d) => this.busy(d) }),
      });
    }
  }

  async start(): Promise<void> {
    if (this.opts.spoolDir) {
      this.spool = this.opts.spoolDir;
    } else if (!this.opts.filesystemRoot) {
      this.spool = await mkdtemp(join(tmpdir(), 'berth-proxy-spool-'));
      this.ownSpool = true;
    }
    await this.scheduler?.start();
  }

  /** The upstream serving a local repository name, if it is proxied. */
  upstreamFor(name: string): Upstream | undefined {
    return this.upstreams.find((u) => u.serves(name));
  }

  /** For logs: where downloads spool. */
  get spoolLocation(): string {
    return this.opts.filesystemRoot ? 'in the storage upload directory' : this.spoolDir;
  }

  get spoolDir(): string {
    if (!this.spool) throw new Error('pull-through cache not started');
    return this.spool;
  }

  /** Where a download into `repository` stores its blob. */
  sink(repository: string, link: (descriptor: Descriptor, opts?: CallOptions) => Promise<void>): BlobSink {
    const target = { driver: this.driver, repository, link };
    return this.opts.filesystemRoot ? new AdoptingSink(target, this.opts.filesystemRoot) : new CopyingSink(target, this.spoolDir);
  }

  /** Schedule pulled-through content for expiry under its upstream's TTL (0: never). */
  schedule(upstream: Upstream, repository: string, digest: Digest, kind: EntryKind): void {
    if (upstream.ttl > 0) this.scheduler?.add({ repository, digest, kind }, upstream.ttl);
  }

  /** The running download of `digest` into `repository`, if any. */
  runningDownload(repository: string, digest: Digest): BlobDownload | undefined {
    const d = this.downloads.get(`${repository}@${digest}`);
    return d && !d.error ? d : undefined;
  }

  /** Join the download of `digest` into `repository`, starting it if none runs. */
  download(repository: string, digest: Digest, deps: () => DownloadDeps): BlobDownload {
    const key = `${repository}@${digest}`;
    let d = this.downloads.get(key);
    // A failed download may still be winding down; whoever comes now gets a fresh one.
    if (!d || d.error) {
      if (this.closed) throw new Error('pull-through cache is shutting down');
      const created = new BlobDownload(deps());
      this.downloads.set(key, created);
      const forget = () => {
        if (this.downloads.get(key) === created) this.downloads.delete(key);
      };
      created.done.then(forget, forget);
      d = created;
    }
    return d;
  }

  /** Run `fn` once for concurrent callers with the same key. */
  singleFlight<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.fetches.get(key);
    if (running) return running as Promise<T>;
    const p = fn().finally(() => this.fetches.delete(key));
    this.fetches.set(key, p);
    return p;
  }

  /** Is a download of this digest (into any repository) running? */
  busy(digest: Digest): boolean {
    for (const d of this.downloads.values()) if (d.digest === digest) return true;
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = [...this.downloads.values()];
    for (const d of running) d.abort(new Error(SHUTDOWN));
    await Promise.allSettled(running.map((d) => d.done));
    await this.scheduler?.stop();
    for (const u of this.upstreams) u.close();
    if (this.ownSpool && this.spool) await rm(this.spool, { recursive: true, force: true }).catch(() => undefined);
  }
}
