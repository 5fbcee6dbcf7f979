/**
 * One upstream download of one blob, shared by every client that asks for it while it runs.
 *
 * The upstream body is read in batches. Each batch is handed, as the very same buffers, to every
 * client that has caught up ("live" clients), to the storage writer (copying sinks), to the hasher
 * (on the thread pool) and to the spool file (see spool-file.ts: O_DIRECT, and every appended byte
 * readable at once). A client that is behind (a late joiner starts at byte 0, a slow one falls
 * back) reads the spool at its own pace until it catches up. A private spool is unlinked as soon
 * as it is opened, so a crash leaves nothing behind; an adopted one is an ordinary upload. Memory
 * stays bounded by a few batches whatever the blob size, and a slow client slows nobody else.
 *
 * Clients get every byte as soon as it arrives; the digest is checked by a hasher running
 * beside them, and only a verified blob is published in storage. A short or long download fails
 * every reader still reading (their connections are cut mid-body); a wrong one is never stored,
 * and a client that already has all of it rejects it by its digest, as registry clients do.
 * (Holding the last byte back until the digest is verified would cap every first pull at the
 * speed of SHA-256 on one core, a fraction of what the network and disks deliver here.)
 */
import { unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { BadContentError } from '../client/errors.js';
import { algorithmOf, type Digest } from '../digest/digest.js';
import { createHasher } from '../digest/resumable.js';
import type { Descriptor } from '../distribution/types.js';
import { OCTET_STREAM } from '../storage/blob-store.js';
import { consumeInBatches } from './batched-body.js';
import type { BlobSink } from './blob-sink.js';
import { ByteChannel } from './byte-channel.js';
import { SpoolFile } from './spool-file.js';

/** The reason downloads are aborted with on shutdown (not worth a warning each). */
export const SHUTDOWN = 'the registry is shutting down';
const READ_CHUNK = 1 << 20;
/** Bytes of upstream body queued while the spool write before them runs. */
const BATCH_HIGH_WATER = 4 << 20;
/** A live client with this much not yet taken gets no more batches (it reads the spool later). */
const LIVE_LIMIT = 2 << 20;
/** Bytes handed to the storage writer and not yet written. */
const STORAGE_HIGH_WATER = 8 << 20;
/** Bytes handed to the hasher and not yet hashed (the download waits above this). */
const HASH_HIGH_WATER = 16 << 20;

export interface DownloadDeps {
  digest: Digest;
  /** What a HEAD said about the size, when one was made. */
  expectedSize?: number;
  /** Open the upstream body. */
  fetch(signal: AbortSignal): Promise<{ size?: number; body: Readable }>;
  /** Where the blob is stored (and where the spool file goes). */
  sink: BlobSink;
  logger: Logger;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class BlobDownload {
  /** Resolves once the upstream answered (the size is known); rejects if it never does. */
  readonly ready: Promise<Descriptor>;
  /** Resolves once the blob is verified and stored. */
  readonly done: Promise<Descriptor>;
  private readonly readyD = deferred<Descriptor>();
  private readonly controller = new AbortController();
  private readonly live = new Set<SpoolReader>();
  private spool: SpoolFile | undefined;
  private size = 0;
  /** Bytes received from the upstream (handed to live readers, storage and the spool). */
  private received = 0;
  private change = deferred<void>();
  private verified = false;
  private failure: Error | undefined;
  private refs = 1;

  constructor(private readonly deps: DownloadDeps) {
    this.ready = this.readyD.promise;
    this.done = this.run();
    this.done.catch(() => undefined);
  }

  get digest(): Digest {
    return this.deps.digest;
  }

  /** A stream of the blob from `offset`; only after `ready`. */
  reader(offset = 0): Readable {
    if (this.failure) throw this.failure;
    if (!this.spool) throw new Error('download not ready');
    this.refs++;
    return new SpoolReader(this, offset);
  }

  /** Give up (server shutdown). */
  abort(reason: Error): void {
    this.fail(reason);
  }

  // ---- for SpoolReader ---------------------------------------------------------------------

  get total(): number {
    return this.size;
  }

  /** Bytes a reader can read from the spool now. */
  get available(): number {
    return this.spool?.size ?? 0;
  }

  /** Bytes received from the upstream so far. */
  get arrived(): number {
    return this.received;
  }

  /** Resolves at the next change (more bytes in the spool, or failure). */
  changed(): Promise<void> {
    return this.change.promise;
  }

  private notify(): void {
    const current = this.change;
    this.change = deferred<void>();
    current.resolve();
  }

  /** Set once the download has failed; it is then no use to anyone joining. */
  get error(): Error | undefined {
    return this.failure;
  }

  readAt(position: number, length: number): Promise<Buffer> {
    if (!this.spool) return Promise.reject(new Error('the spool file is closed'));
    return this.spool.readAt(position, length);
  }

  /** A reader that has caught up gets the next batches handed to it directly. */
  goLive(reader: SpoolReader): void {
    this.live.add(reader);
  }

  leaveLive(reader: SpoolReader): void {
    this.live.delete(reader);
  }

  release(): void {
    if (--this.refs === 0) {
      const spool = this.spool;
      this.spool = undefined;
      void spool?.close();
    }
  }

  // ---- the download ------------------------------------------------------------------------

  private fail(err: Error): void {
    if (this.failure || this.verified) return;
    this.failure = err;
    this.controller.abort(err);
    this.readyD.reject(err);
    for (const r of [...this.live]) r.destroy(err);
    this.live.clear();
    this.notify();
  }

  private async run(): Promise<Descriptor> {
    const { digest, logger, sink } = this.deps;
    const signal = this.controller.signal;
    const started = Date.now();
    let stored: Promise<void> | undefined;
    const toStorage = new ByteChannel(STORAGE_HIGH_WATER);
    try {
      const res = await this.deps.fetch(signal);
      const size = res.size ?? this.deps.expectedSize;
      if (size === undefined) {
        res.body.destroy();
        throw new BadContentError(`upstream sent blob ${digest} without a length`);
      }
      if (this.deps.expectedSize !== undefined && this.deps.expectedSize !== size) {
        res.body.destroy();
        throw new BadContentError(`upstream announced ${this.deps.expectedSize} bytes for ${digest} on HEAD but ${size} on GET`);
      }
      const { spoolPath, adopt } = await sink.prepare(signal);
      const spool = await SpoolFile.create(spoolPath);
      this.spool = spool;
      // A private spool disappears with the process; an adopted one is an ordinary upload until published.
      if (!adopt) await unlink(spoolPath);
      this.size = size;
      const descriptor: Descriptor = { digest, size, mediaType: OCTET_STREAM };
      this.readyD.resolve(descriptor);

      // The hash runs on the thread pool beside everything else, from the very buffers received.
      const hasher = createHasher(algorithmOf(digest));
      const hashing = new Window(HASH_HIGH_WATER);
      if (!adopt) {
        // A storage failure leaves the clients alone: they still get the blob, it just is not cached.
        stored = sink.write(toStorage, signal);
        stored.catch((err: unknown) => {
          toStorage.abandon();
          if (!this.failure) logger.warn({ err, digest }, 'proxy: could not store a pulled-through blob; clients are still served');
        });
      }

      await consumeInBatches(res.body, BATCH_HIGH_WATER, async (chunks, bytes) => {
        if (this.failure) throw this.failure;
        if (this.received + bytes > size) throw new BadContentError(`upstream sent more than the ${size} bytes announced for ${digest}`);
        const start = this.received;
        this.received += bytes;
        // Live readers, storage and the hasher get the batch while it goes to the spool (whose
        // readers can read it from the moment append is called).
        for (const r of [...this.live]) r.deliver(start, chunks);
        const spooled = spool.append(chunks);
        this.notify();
        const hashed = hashing.add(hasher.updateInBackground(chunks), bytes);
        await Promise.all([spooled, hashed, adopt ? undefined : toStorage.push(chunks)]);
      });
      if (this.failure) throw this.failure;
      if (this.received !== size) throw new BadContentError(`upstream sent ${this.received} of ${size} bytes of ${digest}`);
      await spool.finish();
      toStorage.end();
      await hasher.settled();
      const actual = hasher.digest();
      if (actual !== digest) throw new BadContentError(`upstream sent content of digest ${actual} for ${digest}`);
      this.verified = true;
      await stored;
      await sink.publish(descriptor, signal);
      logger.info({ digest, size, ms: Date.now() - started }, 'proxy: blob pulled through and stored');
      return descriptor;
    } catch (err) {
      const error = signal.aborted && this.failure ? this.failure : (err as Error);
      this.fail(error);
      toStorage.end(error);
      await stored?.catch(() => undefined);
      await sink.discard();
      if (error.message !== SHUTDOWN) logger.warn({ err: error, digest }, 'proxy: blob download failed; nothing stored');
      throw error;
    } finally {
      this.release();
    }
  }
}

/** Work in flight with a byte budget: add() resolves once what is still running fits in it. */
class Window {
  private readonly running: { done: Promise<void>; bytes: number }[] = [];
  private bytes = 0;

  constructor(private readonly high: number) {}

  async add(done: Promise<void>, bytes: number): Promise<void> {
    this.running.push({ done, bytes });
    this.bytes += bytes;
    while (this.bytes > this.high) {
      const oldest = this.running.shift() as { done: Promise<void>; bytes: number };
      this.bytes -= oldest.bytes;
      await oldest.done;
    }
  }
}

/**
 * A client's view of a download: the spool from an offset while it is behind, then the download's
 * batches as they arrive once it has caught up (until its own buffer is full: then back to the
 * spool).
 */
class SpoolReader extends Readable {
  private pos: number;
  private busy = false;
  private live = false;
  private released = false;

  constructor(
    private readonly download: BlobDownload,
    offset: number,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.pos = offset;
  }

  override _read(): void {
    if (!this.busy && !this.live) void this.pump();
  }

  /**
   * A batch at `start` from the download (only while live; it starts at or before `pos`). A client
   * that has not taken what it was given before leaves live mode and reads the spool when it
   * wants more, so what waits in memory for one client stays under LIVE_LIMIT plus one batch.
   */
  deliver(start: number, chunks: Buffer[]): void {
    if (this.readableLength >= LIVE_LIMIT) {
      this.setLive(false);
      return;
    }
    let at = start;
    for (const chunk of chunks) {
      const end = at + chunk.length;
      if (end > this.pos) {
        this.push(at >= this.pos ? chunk : chunk.subarray(this.pos - at));
        this.pos = end;
      }
      at = end;
    }
    if (this.pos >= this.download.total) {
      this.setLive(false);
      this.push(null);
    }
  }

  private setLive(live: boolean): void {
    this.live = live;
    if (live) this.download.goLive(this);
    else this.download.leaveLive(this);
  }

  private async pump(): Promise<void> {
    this.busy = true;
    const d = this.download;
    try {
      while (!this.destroyed) {
        if (this.pos >= d.total) {
          this.push(null);
          return;
        }
        if (d.error) {
          this.destroy(d.error);
          return;
        }
        const limit = d.available;
        if (this.pos < limit) {
          const chunk = await d.readAt(this.pos, Math.min(READ_CHUNK, limit - this.pos));
          if (this.destroyed) return;
          this.pos += chunk.length;
          if (!this.push(chunk)) return;
          continue;
        }
        if (this.pos >= d.arrived) {
          // Caught up: the next batches come straight from the download.
          this.setLive(true);
          return;
        }
        // Behind live, ahead of the spool: the batch being written holds our next bytes.
        await d.changed();
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.busy = false;
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.setLive(false);
    if (!this.released) {
      this.released = true;
      this.download.release();
    }
    cb(err);
  }
}
