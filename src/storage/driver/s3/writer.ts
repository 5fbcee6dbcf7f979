/**
 * The S3 FileWriter: bytes stream into a multipart upload in parts of `chunksize`, and close()
 * completes it, so between writers the content is an ordinary object that stat, reader and any
 * other process see. A writer that continues an object (append) makes the existing bytes the
 * first parts of its upload:
 *
 *  - at least 5 MiB (S3's minimum part) are copied server-side with UploadPartCopy, guarded by the
 *    ETag seen at open so a replaced object is never stitched in;
 *  - less than that is read back into the first part's buffer (under 5 MiB, once per writer).
 *
 * Nothing is sent until there is something to send: an append writer closed without new bytes
 * costs nothing, and content below one part goes out as a single PutObject on close.
 *
 * Memory: one part filling plus at most MAX_INFLIGHT parts being uploaded, each at most
 * `chunksize`. Part buffers come from (and go back to) a small pool shared by the driver's writers;
 * a writer's first buffer starts small and doubles, so small uploads don't take whole parts.
 *
 * Background part uploads are not tied to any caller's signal (a client that disconnects midway
 * still gets what arrived persisted by close()); they are bounded by the client's timeouts and
 * stopped by cancel(). A per-call signal aborts that call's own waiting and requests.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { CallOptions, FileWriter } from '../driver.js';
import { StorageDriverError, throwIfAborted } from '../errors.js';
import { failure, isNotFound, NAME, type Bucket } from './bucket.js';
import { abortUpload, copyParts, copyRanges } from './multipart-copy.js';
import { MAX_PARTS, MIN_PART_SIZE } from './options.js';

/** Part uploads in flight while the next part fills. */
const MAX_INFLIGHT = 2;
const FIRST_BUFFER = 256 * 1024;

export interface S3WriterInit {
  bucket: Bucket;
  path: string;
  key: string;
  /** Size of the object being continued; 0 for a new writer. */
  base: number;
  /** ETag of that object, as seen when the writer was opened. */
  baseETag?: string;
  append: boolean;
}

type WriterState = 'open' | 'closed' | 'committed' | 'cancelled';

/** Resolve when `p` settles or reject when `signal` aborts, whichever comes first. */
function orAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class S3Writer implements FileWriter {
  readonly #b: Bucket;
  readonly #init: S3WriterInit;
  #size: number;
  #state: WriterState = 'open';
  #buf: Buffer | undefined;
  #len = 0;
  /** MD5 of the buffered bytes, updated as they come in: every part carries its Content-MD5. */
  #md5: Hash = createHash('md5');
  /** A base under the minimum part must be in the buffer before new bytes go in. */
  #prefixPending: boolean;
  #uploadId: Promise<string> | undefined;
  /** Parts holding the base, copied server-side (only for a base of at least MIN_PART_SIZE). */
  #copied: Promise<CompletedPart[]> | undefined;
  #parts: CompletedPart[] = [];
  #nextPart = 1;
  #inflight = new Set<Promise<void>>();
  #error: unknown;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #background = new AbortController();

  constructor(init: S3WriterInit) {
    this.#b = init.bucket;
    this.#init = init;
    this.#size = init.base;
    this.#prefixPending = init.base > 0 && init.base < MIN_PART_SIZE;
    if (init.base >= MIN_PART_SIZE) this.#nextPart = copyRanges(init.base, init.bucket.options.multipartCopyChunkSize).length + 1;
  }

  get size(): number {
    return this.#size;
  }

  get #chunkSize(): number {
    return this.#b.options.chunkSize;
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(op);
    this.#chain = run.catch(() => {});
    return run;
  }

  #ensureOpen(opts: CallOptions | undefined): void {
    throwIfAborted(opts?.signal);
    if (this.#state !== 'open') throw new StorageDriverError(`${NAME}: writer for ${this.#init.path} is ${this.#state}`, NAME, this.#init.path);
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw failure(this.#error, this.#init.path, 'write', undefined, false);
  }

  /** The multipart upload, created on first need; a big base starts copying into it at once. */
  #upload(): Promise<string> {
    this.#uploadId ??= (async () => {
      const { bucket: b, key, base, baseETag } = this.#init;
      const res = await b.client.send(new CreateMultipartUploadCommand({ Bucket: b.name, Key: key, ...b.writeParams }), {
        abortSignal: this.#background.signal,
      });
      const uploadId = res.UploadId as string;
      if (base >= MIN_PART_SIZE) {
        const copying = copyParts(b, { sourceKey: key, sourceETag: baseETag, targetKey: key, uploadId, size: base, firstPart: 1, signal: this.#background.signal });
        copying.catch((err: unknown) => void (this.#error ??= err));
        this.#copied = copying;
      }
      return uploadId;
    })();
    return this.#uploadId;
  }

  /** Read a small base back into the buffer, so it travels in the first part. */
  async #loadPrefix(signal: AbortSignal | undefined): Promise<void> {
    const { bucket: b, key, base, baseETag } = this.#init;
    const res = await b.client.send(
      new GetObjectCommand({ Bucket: b.name, Key: key, Range: `bytes=0-${base - 1}`, ...(baseETag ? { IfMatch: baseETag } : {}) }),
      { abortSignal: signal },
    );
    const buf = this.#take(base);
    let at = 0;
    for await (const chunk of res.Body as Readable) {
      const piece = chunk as Buffer;
      if (at + piece.length > base) throw new StorageDriverError(`${NAME}: ${this.#init.path} grew while it was being continued`, NAME, this.#init.path);
      buf.set(piece, at);
      this.#md5.update(piece);
      at += piece.length;
    }
    if (at !== base) throw new StorageDriverError(`${NAME}: ${this.#init.path} changed while it was being continued`, NAME, this.#init.path);
    this.#buf = buf;
    this.#len = base;
    this.#prefixPending = false;
  }

  /** A buffer for the next part able to hold at least `need` (at most a part) bytes. */
  #take(need: number): Buffer {
    return this.#b.buffers.reuse() ?? Buffer.allocUnsafeSlow(Math.min(this.#chunkSize, Math.max(FIRST_BUFFER, need)));
  }

  /** Make room for `more` bytes in the current buffer: grow it up to a whole part. */
  #room(more: number): Buffer {
    const cur = this.#buf;
    if (!cur) return (this.#buf = this.#take(Math.min(this.#chunkSize, more)));
    if (cur.length - this.#len >= more || cur.length >= this.#chunkSize) return cur;
    let size = cur.length;
    while (size - this.#len < more && size < this.#chunkSize) size *= 2;
    const grown = size >= this.#chunkSize ? this.#b.buffers.take() : Buffer.allocUnsafeSlow(size);
    cur.copy(grown, 0, 0, this.#len);
    return (this.#buf = grown);
  }

  /** Send the buffered bytes as the next part, in the background. */
  #sendPart(): void {
    const buf = this.#buf as Buffer;
    const len = this.#len;
    const ContentMD5 = this.#md5.digest('base64');
    this.#md5 = createHash('md5');
    this.#buf = undefined;
    this.#len = 0;
    const PartNumber = this.#nextPart++;
    if (PartNumber > MAX_PARTS) {
      this.#error ??= new StorageDriverError(`${NAME}: ${this.#init.path} would need more than ${MAX_PARTS} parts: raise storage.s3.chunksize`, NAME, this.#init.path);
      return;
    }
    const { bucket: b, key } = this.#init;
    const task = (async () => {
      const UploadId = await this.#upload();
      const res = await b.client.send(
        new UploadPartCommand({ Bucket: b.name, Key: key, UploadId, PartNumber, Body: buf.subarray(0, len), ContentLength: len, ContentMD5 }),
        { abortSignal: this.#background.signal },
      );
      this.#parts.push({ PartNumber, ETag: res.ETag });
    })().then(
      () => this.#b.buffers.give(buf),
      (err: unknown) => void (this.#error ??= err),
    );
    this.#inflight.add(task);
    void task.finally(() => this.#inflight.delete(task));
  }

  write(chunk: Uint8Array, opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      this.#ensureOpen(opts);
      this.#throwIfFailed();
      if (chunk.length === 0) return;
      const signal = opts?.signal;
      if (this.#prefixPending) {
        try {
          await this.#loadPrefix(signal);
        } catch (err) {
          throw failure(err, this.#init.path, 'continue', signal, false);
        }
      }
      for (let off = 0; off < chunk.length; ) {
        if (this.#len === this.#chunkSize) {
          while (this.#inflight.size >= MAX_INFLIGHT) await orAbort(Promise.race(this.#inflight), signal);
          this.#throwIfFailed();
          this.#sendPart();
        }
        const buf = this.#room(Math.min(chunk.length - off, this.#chunkSize - this.#len));
        const n = Math.min(chunk.length - off, buf.length - this.#len);
        const piece = chunk.subarray(off, off + n);
        buf.set(piece, this.#len);
        this.#md5.update(piece);
        this.#len += n;
        off += n;
      }
      this.#size += chunk.length;
    });
  }

  /** Persist: complete the multipart upload, or put a small content whole. */
  async #persist(signal: AbortSignal | undefined): Promise<void> {
    const { bucket: b, key, base, append } = this.#init;
    const wroteNothing = this.#size === base;
    if (append && wroteNothing) return;
    const requests = signal ? AbortSignal.any([signal, this.#background.signal]) : this.#background.signal;
    if (this.#uploadId === undefined && base < MIN_PART_SIZE) {
      const body = this.#buf ? this.#buf.subarray(0, this.#len) : Buffer.alloc(0);
      const ContentMD5 = this.#md5.digest('base64');
      await b.client.send(new PutObjectCommand({ Bucket: b.name, Key: key, Body: body, ContentLength: body.length, ContentMD5, ...b.writeParams }), {
        abortSignal: requests,
      });
      return;
    }
    if (this.#len > 0) this.#sendPart();
    await orAbort(Promise.all([...this.#inflight]), signal);
    const UploadId = await orAbort(this.#upload(), signal);
    const copied = (await orAbort(this.#copied ?? Promise.resolve([]), signal)) as CompletedPart[];
    this.#throwIfFailed();
    const Parts = [...copied, ...this.#parts].sort((x, y) => (x.PartNumber ?? 0) - (y.PartNumber ?? 0));
    await b.client.send(new CompleteMultipartUploadCommand({ Bucket: b.name, Key: key, UploadId, MultipartUpload: { Parts } }), { abortSignal: requests });
  }

  #finish(state: 'closed' | 'committed', opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      if (state === 'closed' && this.#state === 'closed') return;
      this.#ensureOpen(opts);
      this.#state = state;
      try {
        await this.#persist(opts?.signal);
      } catch (err) {
        // The object keeps what the previous writer persisted; drop this writer's upload.
        this.#background.abort();
        await this.#settle();
        throw failure(err, this.#init.path, state === 'closed' ? 'close' : 'commit', opts?.signal, false);
      } finally {
        this.#release();
      }
    });
  }

  /** Give the filling buffer back (no request holds it: parts in flight own their own). */
  #release(): void {
    this.#b.buffers.give(this.#buf);
    this.#buf = undefined;
    this.#len = 0;
  }

  /** Wait for background work to stop, then abort the upload if one was started. */
  async #settle(): Promise<void> {
    await Promise.allSettled([...this.#inflight, this.#copied ?? Promise.resolve()]);
    const uploadId = await this.#uploadId?.catch(() => undefined);
    if (uploadId) await abortUpload(this.#b, this.#init.key, uploadId);
  }

  close(opts?: CallOptions): Promise<void> {
    return this.#finish('closed', opts);
  }

  commit(opts?: CallOptions): Promise<void> {
    return this.#finish('committed', opts);
  }

  cancel(opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      if (this.#state === 'cancelled') return;
      this.#ensureOpen(opts);
      this.#state = 'cancelled';
      this.#background.abort();
      this.#release();
      await this.#settle();
      const { bucket: b, key, path } = this.#init;
      try {
        await b.client.send(new DeleteObjectCommand({ Bucket: b.name, Key: key }), { abortSignal: opts?.signal });
      } catch (err) {
        if (!isNotFound(err)) throw failure(err, path, 'cancel', opts?.signal);
      }
    });
  }
}
