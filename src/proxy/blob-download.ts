/**
 * One upstream download of one blob, shared by every client that asks for it while it runs.
 *
 * The upstream body arrives in chunks. Each chunk goes, as the very same buffer, to the hasher
 * (on the thread pool), to the storage writer (copying sinks) and into the spool file (see
 * spool-file.ts: O_DIRECT, every appended byte readable at once), and it stays in a small window
 * of recent chunks. Readers lease bytes at their position: from the window while they keep up,
 * from the spool when they are behind (a late joiner starts at byte 0). The blob handler sends a
 * lease straight to the client's socket and releases it once the kernel has it (see
 * src/http/chunk-response.ts); other consumers read a stream.
 *
 * From a plain-HTTP upstream on a LargeReadAgent socket, the body is read by the berth_io addon
 * into recycled buffers (src/http/native-body.ts), bypassing Node's HTTP parser, which would copy
 * every byte into fresh memory: a buffer goes back to the reader once it has left the window, is
 * hashed and no lease holds it. The download keeps pace with its most advanced reader (unless
 * that one stalls), so a client that keeps up is served from memory; slower ones read the spool
 * and slow nobody. Memory stays bounded by the window, the hashing window and the spool's staging
 * buffers, whatever the blob size. A private spool is unlinked as soon as it is opened, so a
 * crash leaves nothing behind; an adopted one is an ordinary upload.
 *
 * Clients get every byte as soon as it arrives; the digest is checked by a hasher running
 * beside them, and only a verified blob is published in storage. A short or long download fails
 * every reader still reading (their connections are cut mid-body); a wrong one is never stored,
 * and a client that already has all of it rejects it by its digest, as registry clients do.
 * (Holding the last byte back until the digest is verified would cap every first pull at the
 * speed of SHA-256 on one core, a fraction of what the network and disks deliver here.)
 */
import { unlink } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { BadContentError } from '../client/errors.js';
import { algorithmOf, type Digest } from '../digest/digest.js';
import { createHasher } from '../digest/resumable.js';
import type { Descriptor } from '../distribution/types.js';
import { nativeSocketBody } from '../http/native-body.js';
import { OCTET_STREAM } from '../storage/blob-store.js';
import { attachChunkSource, type LeasedChunk } from '../util/chunk-source.js';
import { isLargeReadSocket } from '../util/large-read-agent.js';
import { waitFor } from '../util/wait-for.js';
import type { RecyclingSource } from '../util/recycling-source.js';
import { consumeInBatches } from './batched-body.js';
import type { BlobSink } from './blob-sink.js';
import { ByteChannel } from './byte-channel.js';
import { SpoolFile } from './spool-file.js';

/** The reason downloads are aborted with on shutdown (not worth a warning each). */
export const SHUTDOWN = 'the registry is shutting down';
const READ_CHUNK = 1 << 20;
/** Bytes of upstream body queued while the chunks before them are handed on (stream bodies). */
const BATCH_HIGH_WATER = 4 << 20;
/** Recent chunks kept for readers that keep up; older bytes are read from the spool. */
const WINDOW = 8 << 20;
/** Bytes handed to the storage writer and not yet written. */
const STORAGE_HIGH_WATER = 8 << 20;
/** Bytes handed to the hasher and not yet hashed (the download waits above this). */
const HASH_HIGH_WATER = 16 << 20;
/**
 * The download waits while its leader (its most advanced reader) is more than LEAD behind, and
 * the window never drops bytes the leader has yet to read, so a client that keeps up is served
 * from memory rather than from the spool. (Before, the lead was a whole window and the window
 * dropped bytes by size alone: the batch that arrived before the leader moved on pushed its next
 * bytes out, and a client that hashes what it receives read about 40% of a gigabyte back from the
 * spool.) A reader that has not moved for STALL_MS is no leader: it holds nothing up.
 */
const LEAD = WINDOW / 2;
const STALL_MS = 2_000;
const PACE_LIMIT = 4 * WINDOW;
/** Buffers a natively read body keeps for reuse: enough for the window and the hashing window. */
const NATIVE_KEEP = 32;
/** An upstream that sends nothing for this long fails the download (natively read bodies). */
const NATIVE_IDLE_LIMIT_MS = 60_000;

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

/** A received chunk and who still uses it. */
interface Recent {
  /** Blob offset of chunk[0]. */
  at: number;
  chunk: Buffer;
  leases: number;
  hashed: boolean;
  /** Out of the window: no new leases. */
  retired: boolean;
}

/**
 * The body natively, when the upstream's response allows it: plain HTTP on a LargeReadAgent
 * socket (which buffers nothing outside the parser), no transfer encoding, the announced length.
 */
function nativeBody(body: Readable, size: number): RecyclingSource | undefined {
  if (!(body instanceof IncomingMessage) || !isLargeReadSocket(body.socket)) return undefined;
  if (body.headers['transfer-encoding'] !== undefined || Number(body.headers['content-length']) !== size) return undefined;
  if (body.complete || body.readableFlowing === true || body.readableDidRead) return undefined;
  const source = nativeSocketBody(body.socket, body, size, { keep: NATIVE_KEEP, idleLimitMs: NATIVE_IDLE_LIMIT_MS });
  // The transport's idle timer watches Node's reads, and there are none any more.
  if (source) body.setTimeout(0);
  return source;
}

export class BlobDownload {
  /** Resolves once the upstream answered (the size is known); rejects if it never does. */
  readonly ready: Promise<Descriptor>;
  /** Resolves once the blob is verified and stored. */
  readonly done: Promise<Descriptor>;
  private readonly readyD = deferred<Descriptor>();
  private readonly controller = new AbortController();
  private spool: SpoolFile | undefined;
  private size = 0;
  /** Bytes received from the upstream (all of them in the spool too). */
  private received = 0;
  private readonly recent: Recent[] = [];
  private recentBytes = 0;
  /** Where leased buffers go back to, when they are the body reader's own. */
  private recycler: RecyclingSource | undefined;
  /** Fired when bytes arrive or the download fails. */
  private readonly change = new Pulse();
  /** Readers now reading, and a pulse for when one of them moves on or goes. */
  private readonly readers = new Set<SpoolReader>();
  private readonly progress = new Pulse();
  private verified = false;
  /** Bytes readers have read back from the spool (behind the window). */
  private servedFromSpool = 0;
  private failure: Error | undefined;
  private refs = 1;
  /** From `ready` until the first reader comes (the client that started the download), one is expected at 0. */
  private firstReaderDue: number | undefined;

  constructor(private readonly deps: DownloadDeps) {
    this.ready = this.readyD.promise;
    this.done = this.run();
    this.done.catch(() => undefined);
  }

  get digest(): Digest {
    return this.deps.digest;
  }

  /** Whether chunks are the native reader's recycled buffers (stream readers must copy them). */
  get recycling(): boolean {
    return this.recycler !== undefined;
  }

  /** A stream of the blob from `offset` (also a ChunkSource); only after `ready`. */
  reader(offset = 0): Readable {
    if (this.failure) throw this.failure;
    if (!this.spool) throw new Error('download not ready');
    this.refs++;
    const reader = new SpoolReader(this, offset);
    this.readers.add(reader);
    this.firstReaderDue = undefined;
    return reader;
  }

  /** A reader moved on, or left (then it no longer paces the download). */
  readerMoved(reader: SpoolReader, gone = false): void {
    if (gone) this.readers.delete(reader);
    this.progress.fire();
  }

  /**
   * Where the leader is: the most advanced reader that moved within STALL_MS and is at most
   * PACE_LIMIT behind (one further back, a late joiner or one that stalled and fell back, reads
   * the spool at its own pace); until the first reader comes, 0 for it. -1 when there is none.
   */
  private leader(): number {
    const now = Date.now();
    let front = this.firstReaderDue !== undefined && now - this.firstReaderDue < STALL_MS ? 0 : -1;
    for (const r of this.readers) if (now - r.movedAt < STALL_MS && r.position > front) front = r.position;
    return front >= 0 && this.received - front <= PACE_LIMIT ? front : -1;
  }

  /** Wait while the leader is more than LEAD behind what arrived. */
  private async pace(): Promise<void> {
    while (!this.failure) {
      const front = this.leader();
      if (front < 0 || this.received - front <= LEAD) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.progress.wait(), new Promise<void>((r) => (timer = setTimeout(r, STALL_MS)))]);
      clearTimeout(timer);
    }
  }

  /** Give up (server shutdown). */
  abort(reason: Error): void {
    this.fail(reason);
  }

  // ---- for readers -------------------------------------------------------------------------

  get total(): number {
    return this.size;
  }

  /** Set once the download has failed; it is then no use to anyone joining. */
  get error(): Error | undefined {
    return this.failure;
  }

  /**
   * The bytes at `position` (< total), waiting for them to arrive: a view of a recent chunk while
   * it is in the window, else a fresh read of the spool. Release the lease when done.
   */
  async lease(position: number, signal?: AbortSignal): Promise<LeasedChunk> {
    while (true) {
      if (this.failure) throw this.failure;
      signal?.throwIfAborted();
      if (position < this.received) {
        const entry = this.recent.find((e) => position >= e.at && position < e.at + e.chunk.length);
        if (entry) {
          entry.leases++;
          let released = false;
          return {
            bytes: entry.chunk.subarray(position - entry.at),
            release: () => {
              if (released) return;
              released = true;
              entry.leases--;
              this.maybeRecycle(entry);
            },
          };
        }
        const spool = this.spool;
        if (!spool) throw new Error('the spool file is closed');
        const bytes = await spool.readAt(position, READ_CHUNK);
        this.servedFromSpool += bytes.length;
        return { bytes, release: () => undefined };
      }
      await waitFor(this.change.wait(), signal);
    }
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
    this.change.fire();
  }

  private maybeRecycle(entry: Recent): void {
    if (entry.retired && entry.hashed && entry.leases === 0) this.recycler?.recycle(entry.chunk);
  }

  /** Chunks received: into the window (older ones retire), the spool and the hasher. */
  private take(chunks: Buffer[]): Recent[] {
    const entries: Recent[] = [];
    for (const chunk of chunks) {
      const entry: Recent = { at: this.received, chunk, leases: 0, hashed: false, retired: false };
      entries.push(entry);
      this.recent.push(entry);
      this.recentBytes += chunk.length;
      this.received += chunk.length;
    }
    const front = this.leader();
    while (this.recent.length > 1) {
      const oldest = this.recent[0] as Recent;
      if (this.recentBytes - oldest.chunk.length < WINDOW || (front >= 0 && oldest.at + oldest.chunk.length > front)) break;
      const old = this.recent.shift() as Recent;
      this.recentBytes -= old.chunk.length;
      old.retired = true;
      this.maybeRecycle(old);
    }
    return entries;
  }

  private async run(): Promise<Descriptor> {
    const { digest, logger, sink } = this.deps;
    const signal = this.controller.signal;
    const started = Date.now();
    let stored: Promise<void> | undefined;
    let upstreamBody: Readable | undefined;
    const toStorage = new ByteChannel(STORAGE_HIGH_WATER);
    try {
      const res = await this.deps.fetch(signal);
      upstreamBody = res.body;
      const size = res.size ?? this.deps.expectedSize;
      if (size === undefined) throw new BadContentError(`upstream sent blob ${digest} without a length`);
      if (this.deps.expectedSize !== undefined && this.deps.expectedSize !== size) {
        throw new BadContentError(`upstream announced ${this.deps.expectedSize} bytes for ${digest} on HEAD but ${size} on GET`);
      }
      const { spoolPath, adopt } = await sink.prepare(signal);
      const spool = await SpoolFile.create(spoolPath);
      this.spool = spool;
      // A private spool disappears with the process; an adopted one is an ordinary upload until published.
      if (!adopt) await unlink(spoolPath);
      this.size = size;
      const descriptor: Descriptor = { digest, size, mediaType: OCTET_STREAM };

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
      const onChunks = async (chunks: Buffer[], bytes: number): Promise<void> => {
        if (this.failure) throw this.failure;
        if (this.received + bytes > size) throw new BadContentError(`upstream sent more than the ${size} bytes announced for ${digest}`);
        const entries = this.take(chunks);
        const spooled = spool.append(chunks);
        this.change.fire();
        const hashed = hasher.updateInBackground(chunks).then(() => {
          for (const e of entries) {
            e.hashed = true;
            this.maybeRecycle(e);
          }
        });
        await Promise.all([spooled, hashing.add(hashed, bytes), adopt ? undefined : toStorage.push(chunks)]);
        await this.pace();
      };

      // Natively read buffers are recycled only where nothing else keeps them (a copying sink's
      // writer holds chunks in its own queue).
      const native = adopt ? nativeBody(res.body, size) : undefined;
      this.recycler = native;
      this.firstReaderDue = Date.now();
      this.readyD.resolve(descriptor);
      if (native) {
        for await (const chunk of native) {
          if (chunk.length > 0) await onChunks([chunk as Buffer], chunk.length);
        }
      } else {
        await consumeInBatches(res.body, BATCH_HIGH_WATER, onChunks);
      }
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
      logger.info({ digest, size, ms: Date.now() - started, native: native !== undefined, servedFromSpool: this.servedFromSpool }, 'proxy: blob pulled through and stored');
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
      // A natively read connection is unusable afterwards; a stream read to its end is reused.
      if (this.recycler || this.failure) upstreamBody?.destroy();
      this.release();
    }
  }
}

/** A promise for the next fire(), renewed at every fire. */
class Pulse {
  private next = deferred<void>();

  wait(): Promise<void> {
    return this.next.promise;
  }

  fire(): void {
    const current = this.next;
    this.next = deferred<void>();
    current.resolve();
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
 * A client's view of a download from an offset: a stream, and a ChunkSource for senders that
 * release what they were lent (the blob handler). Use one or the other.
 */
class SpoolReader extends Readable {
  private pos: number;
  private busy = false;
  private released = false;
  /** When this reader last moved on (Date.now()). */
  movedAt = Date.now();

  constructor(
    private readonly download: BlobDownload,
    offset: number,
  ) {
    super({ highWaterMark: READ_CHUNK });
    this.pos = offset;
    attachChunkSource(this, { next: (signal) => this.next(signal) });
  }

  private async next(signal?: AbortSignal): Promise<LeasedChunk | null> {
    if (this.pos >= this.download.total) return null;
    const lease = await this.download.lease(this.pos, signal);
    this.pos += lease.bytes.length;
    this.movedAt = Date.now();
    this.download.readerMoved(this);
    return lease;
  }

  get position(): number {
    return this.pos;
  }

  override _read(): void {
    if (!this.busy) void this.pump();
  }

  private async pump(): Promise<void> {
    this.busy = true;
    try {
      while (!this.destroyed) {
        const lease = await this.next();
        if (this.destroyed) {
          lease?.release();
          return;
        }
        if (!lease) {
          this.push(null);
          return;
        }
        // A stream keeps what it is given: recycled memory is copied, the rest handed over.
        const bytes = this.download.recycling ? Buffer.from(lease.bytes) : Buffer.from(lease.bytes.buffer, lease.bytes.byteOffset, lease.bytes.byteLength);
        lease.release();
        if (!this.push(bytes)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.busy = false;
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.released) {
      this.released = true;
      this.download.readerMoved(this, true);
      this.download.release();
    }
    cb(err);
  }
}
