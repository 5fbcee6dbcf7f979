/**
 * The Azure FileWriter.
 *
 * Block blobs (what this driver creates): written bytes fill a block buffer; a full buffer is
 * staged (Put Block) in the background while the next one fills, so memory is two blocks and at
 * most one upload is in flight (the backpressure). close()/commit() stage the last partial block
 * and commit the block list: the blob's earlier committed blocks followed by this writer's, so a
 * writer opened with `append` in any process continues without re-sending earlier data. Staged but
 * uncommitted blocks (a process killed mid-upload) are invisible: stat and readers see only the
 * committed list, a later append continues from it, and Azure discards the orphans on the next
 * commit (or after a week).
 *
 * The commit is conditional on the ETag the blob had when the writer opened, so two writers
 * appending to one blob at once cannot silently drop each other's blocks: the second commit fails.
 *
 * Append blobs (what the reference implementation writes for uploads in progress) are continued
 * with Append Block at the expected position instead; there is nothing to commit.
 */
import { createHash } from 'node:crypto';
import type { AppendBlobClient, BlockBlobClient } from '@azure/storage-blob';
import type { CallOptions, FileWriter } from '../driver.js';
import { StorageDriverError, throwIfAborted } from '../errors.js';
import { BlockIds, MAX_BLOCKS, MiB, blockSizeFor } from './blocks.js';
import { NAME, errorCodeOf, failure, isBlobNotFound, isConditionNotMet, statusOf } from './failures.js';

/** Append Block accepts at most 4 MiB per call in every service version. */
const APPEND_BLOCK_SIZE = 4 * MiB;

export type BlobTarget =
  | { kind: 'block'; client: BlockBlobClient; committed: string[] }
  | { kind: 'append'; client: AppendBlobClient };

export interface BlobWriterInit {
  target: BlobTarget;
  path: string;
  container: string;
  /** Bytes already persisted at the path. */
  size: number;
  /** ETag of the blob as this writer found (or created) it. */
  etag: string | undefined;
  baseBlockSize: number;
}

type State = 'open' | 'closed' | 'committed' | 'cancelled';

const combine = (a: AbortSignal, b: AbortSignal | undefined): AbortSignal => (b ? AbortSignal.any([a, b]) : a);

export class AzureBlobWriter implements FileWriter {
  readonly #target: BlobTarget;
  readonly #path: string;
  readonly #container: string;
  readonly #base: number;
  readonly #ids = new BlockIds();
  readonly #staged: string[] = [];
  /** Aborted by cancel(): stops a background upload. */
  readonly #controller = new AbortController();
  #size: number;
  /** Where the next appended block must land (append blobs). */
  #persisted: number;
  #etag: string | undefined;
  #state: State = 'open';
  /** The buffer being filled. */
  #cur: Buffer | undefined;
  /** The buffer of the upload in flight: not to be touched until that upload settles. */
  #busy: Buffer | undefined;
  /** A buffer whose upload has finished, ready to be filled again. */
  #spare: Buffer | undefined;
  #len = 0;
  #inflight: Promise<void> | undefined;
  #error: unknown;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(init: BlobWriterInit) {
    this.#target = init.target;
    this.#path = init.path;
    this.#container = init.container;
    this.#size = init.size;
    this.#persisted = init.size;
    this.#etag = init.etag;
    this.#base = init.baseBlockSize;
  }

  get size(): number {
    return this.#size;
  }

  #fail(err: unknown, op: string, signal?: AbortSignal): Error {
    return failure(err, { op, path: this.#path, container: this.#container, signal, missingMeansNotFound: false });
  }

  /** Run calls one after another, so calls that were not awaited still happen in order. */
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(op);
    this.#chain = run.catch(() => {});
    return run;
  }

  #ensureOpen(opts: CallOptions | undefined, checkError: boolean): void {
    throwIfAborted(opts?.signal);
    if (this.#state !== 'open') throw new StorageDriverError(`${NAME}: writer for ${this.#path} is ${this.#state}`, NAME, this.#path);
    if (checkError && this.#error !== undefined) throw this.#error;
  }

  #blockCount(): number {
    return this.#target.kind === 'block' ? this.#target.committed.length + this.#staged.length : 0;
  }

  #bufferSize(): number {
    return this.#target.kind === 'append' ? APPEND_BLOCK_SIZE : blockSizeFor(this.#blockCount(), this.#base);
  }

  write(chunk: Uint8Array, opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      this.#ensureOpen(opts, true);
      for (let off = 0; off < chunk.length; ) {
        if (!this.#cur) {
          const want = this.#bufferSize();
          this.#cur = this.#spare?.length === want ? this.#spare : Buffer.allocUnsafeSlow(want);
          this.#spare = undefined;
        }
        const n = Math.min(chunk.length - off, this.#cur.length - this.#len);
        this.#cur.set(chunk.subarray(off, off + n), this.#len);
        this.#len += n;
        off += n;
        this.#size += n;
        if (this.#len === this.#cur.length) await this.#rotate(opts?.signal);
      }
    });
  }

  /** Wait for the upload in flight, then start uploading the current buffer in the background. */
  async #rotate(signal: AbortSignal | undefined): Promise<void> {
    await this.#inflight;
    if (this.#error !== undefined) throw this.#error;
    const full = this.#cur as Buffer;
    const data = full.subarray(0, this.#len);
    this.#spare = this.#busy;
    this.#busy = full;
    this.#cur = undefined;
    this.#len = 0;
    const combined = combine(this.#controller.signal, signal);
    this.#inflight = this.#upload(data, combined).catch((err: unknown) => {
      this.#error ??= this.#fail(err, 'upload a block of', combined);
    });
  }

  async #upload(data: Buffer, abortSignal: AbortSignal): Promise<void> {
    const target = this.#target;
    if (target.kind === 'block') {
      if (this.#blockCount() >= MAX_BLOCKS) {
        throw new StorageDriverError(`${NAME}: ${this.#path} reached Azure's limit of ${MAX_BLOCKS} blocks per blob`, NAME, this.#path);
      }
      const id = this.#ids.next();
      this.#staged.push(id);
      await target.client.stageBlock(id, data, data.length, { abortSignal });
      return;
    }
    const at = this.#persisted;
    try {
      const res = await target.client.appendBlock(data, data.length, { conditions: { appendPosition: at }, abortSignal });
      this.#etag = res.etag;
    } catch (err) {
      // A retry of a block that did land fails its position check: accept it if the bytes match.
      if (errorCodeOf(err) !== 'AppendPositionConditionNotMet' || !(await this.#landed(target.client, at, data, abortSignal))) throw err;
    }
    this.#persisted = at + data.length;
  }

  async #landed(client: AppendBlobClient, at: number, data: Buffer, abortSignal: AbortSignal): Promise<boolean> {
    const props = await client.getProperties({ abortSignal });
    if (props.contentLength !== at + data.length) return false;
    const res = await client.download(at, data.length, { abortSignal, rangeGetContentMD5: true });
    res.readableStreamBody?.resume();
    const ours = createHash('md5').update(data).digest();
    this.#etag = props.etag;
    return res.contentMD5 !== undefined && Buffer.from(res.contentMD5).equals(ours);
  }

  /** Upload what is buffered and wait for every upload. */
  async #drain(signal: AbortSignal | undefined): Promise<void> {
    if (this.#len > 0) await this.#rotate(signal);
    await this.#inflight;
    this.#inflight = undefined;
    if (this.#error !== undefined) throw this.#error;
  }

  async #commitBlocks(signal: AbortSignal | undefined): Promise<void> {
    const target = this.#target;
    if (target.kind !== 'block' || this.#staged.length === 0) return;
    const blocks = [...target.committed, ...this.#staged];
    const conditions = this.#etag === undefined ? undefined : { ifMatch: this.#etag };
    try {
      const res = await target.client.commitBlockList(blocks, { conditions, abortSignal: signal });
      this.#etag = res.etag;
    } catch (err) {
      // A retried commit whose first try did succeed fails the ETag check: look at what is there.
      if (isConditionNotMet(err) && (await this.#isCommitted(target.client, blocks, signal))) return;
      if (isConditionNotMet(err) || (isBlobNotFound(err) && !signal?.aborted)) {
        throw new StorageDriverError(`${NAME}: ${this.#path} was replaced or removed by another writer; this writer's data is discarded`, NAME, this.#path, {
          cause: err,
        });
      }
      throw this.#fail(err, 'commit', signal);
    }
  }

  async #isCommitted(client: BlockBlobClient, blocks: string[], signal: AbortSignal | undefined): Promise<boolean> {
    try {
      const list = await client.getBlockList('committed', { abortSignal: signal });
      const names = (list.committedBlocks ?? []).map((b) => b.name);
      return names.length === blocks.length && names.every((n, i) => n === blocks[i]);
    } catch {
      return false;
    }
  }

  #release(): void {
    this.#cur = this.#spare = this.#busy = undefined;
    this.#len = 0;
  }

  #finish(state: 'closed' | 'committed', opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      if (state === 'closed' && this.#state === 'closed') return;
      this.#ensureOpen(opts, false);
      this.#state = state;
      try {
        await this.#drain(opts?.signal);
        await this.#commitBlocks(opts?.signal);
      } catch (err) {
        throw this.#fail(err, state === 'closed' ? 'close' : 'commit', opts?.signal);
      } finally {
        this.#release();
      }
    });
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
      this.#ensureOpen(opts, false);
      this.#state = 'cancelled';
      this.#controller.abort(new StorageDriverError(`${NAME}: writer for ${this.#path} was cancelled`, NAME, this.#path));
      await this.#inflight;
      this.#release();
      // Delete only the blob this writer knows: if someone replaced it meanwhile, it is theirs.
      const conditions = this.#etag === undefined ? undefined : { ifMatch: this.#etag };
      try {
        await this.#target.client.delete({ conditions, deleteSnapshots: 'include', abortSignal: opts?.signal });
      } catch (err) {
        if (statusOf(err) === 404 || isConditionNotMet(err)) return;
        throw this.#fail(err, 'cancel', opts?.signal);
      }
    });
  }
}
