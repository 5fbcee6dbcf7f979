/**
 * A storage driver over one Azure Blob Storage container: driver path P is the blob named
 * `rootdirectory + P` without its leading slash (the naming of the reference's Azure driver, so
 * a container written by either implementation reads the same in the other).
 *
 * - putContent is one Put Blob (atomic); writers build block blobs from staged blocks (see
 *   blob-writer.ts) and continue append blobs left by the reference.
 * - Directories are implicit: a path is a directory while some blob name starts with `P/`.
 *   list and walk use delimiter listings, one directory at a time, so a walk that skips a
 *   directory never lists what is below it.
 * - move is a server-side copy from a read-only SAS URL of the source (one synchronous Copy Blob
 *   From URL up to 256 MiB, else an asynchronous copy polled as the reference does), then a delete
 *   of the source conditional on the ETag that was copied.
 * - delete removes the blob at P and every blob below `P/`, 256 per batch request (one by one
 *   where the account refuses batches).
 * - redirectURL is a read-only SAS URL valid for 20 minutes.
 *
 * Every request carries the caller's AbortSignal; retries and timeouts come from client.ts.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobClient, BlobGetPropertiesResponse, BlockBlobClient } from '@azure/storage-blob';
import type { CallOptions, FileInfo, FileWriter, RedirectOptions, StorageDriver, WalkDecision, WriterOptions } from '../driver.js';
import { PathNotFoundError, StorageDriverError, throwIfAborted, validateOffset, validatePath } from '../errors.js';
import { AzureBlobWriter } from './blob-writer.js';
import { DEFAULT_BLOCK_SIZE, compatibleBlockIds } from './blocks.js';
import { createAzureClient, signedReadURL, type AzureClient } from './client.js';
import { NAME, errorCodeOf, failure, isBlobNotFound, isConditionNotMet, statusOf } from './failures.js';
import type { AzureDriverOptions } from './options.js';

/** Copy Blob From URL copies at most 256 MiB in one call. */
const SYNC_COPY_LIMIT = 256 * (1 << 20);
const LIST_PAGE = 5000;
/** Blob batch requests take at most 256 operations. */
const BATCH_SIZE = 256;
const DELETE_CONCURRENCY = 8;
const COMPONENT = /^[A-Za-z0-9._-]+$/;
const EPOCH = new Date(0);

const isComponent = (s: string) => COMPONENT.test(s) && s !== '.' && s !== '..';

export class AzureDriver implements StorageDriver {
  readonly name = NAME;
  readonly #client: AzureClient;
  readonly #o: AzureDriverOptions;
  readonly #prefix: string;

  constructor(options: AzureDriverOptions) {
    this.#o = options;
    this.#client = createAzureClient(options);
    this.#prefix = options.rootDirectory === '' ? '' : `${options.rootDirectory}/`;
  }

  /** Blob name of a (validated, non-root) path. */
  #blobName(path: string): string {
    return this.#prefix + path.slice(1);
  }

  /** Name prefix of everything below a directory path. */
  #dirPrefix(path: string): string {
    return path === '/' ? this.#prefix : `${this.#blobName(path)}/`;
  }

  #blob(path: string): BlobClient {
    return this.#client.container.getBlobClient(this.#blobName(path));
  }

  #blockBlob(path: string): BlockBlobClient {
    return this.#client.container.getBlockBlobClient(this.#blobName(path));
  }

  #fail(err: unknown, op: string, path: string, signal?: AbortSignal, missingMeansNotFound = true): Error {
    return failure(err, { op, path, container: this.#o.container, signal, missingMeansNotFound });
  }

  /**
   * Run `write` (which replaces the blob at `path`), deleting first when the blob there is of
   * another type: Azure refuses to turn an append blob (the reference's uploads) into a block blob.
   */
  async #replacing<T>(path: string, signal: AbortSignal | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (statusOf(err) !== 409 || errorCodeOf(err) !== 'InvalidBlobType') throw err;
      await this.#blob(path).deleteIfExists({ deleteSnapshots: 'include', abortSignal: signal });
      return write();
    }
  }

  async #putBlob(path: string, content: Buffer, signal: AbortSignal | undefined): Promise<string | undefined> {
    const client = this.#blockBlob(path);
    const res = await this.#replacing(path, signal, () => client.upload(content, content.length, { abortSignal: signal }));
    return res.etag;
  }

  async getContent(path: string, opts?: CallOptions): Promise<Buffer> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    try {
      const res = await this.#blob(path).download(0, undefined, { abortSignal: signal, maxRetryRequests: this.#o.maxRetries });
      const parts: Buffer[] = [];
      for await (const chunk of res.readableStreamBody ?? []) parts.push(chunk as Buffer);
      return Buffer.concat(parts);
    } catch (err) {
      throw this.#fail(err, 'read', path, signal);
    }
  }

  async putContent(path: string, content: Uint8Array | string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    try {
      await this.#putBlob(path, buf, signal);
    } catch (err) {
      throw this.#fail(err, 'write', path, signal, false);
    }
  }

  async reader(path: string, offset: number, opts?: CallOptions): Promise<Readable> {
    validatePath(NAME, path);
    validateOffset(NAME, path, offset);
    const signal = opts?.signal;
    throwIfAborted(signal);
    try {
      const res = await this.#blob(path).download(offset, undefined, { abortSignal: signal, maxRetryRequests: this.#o.maxRetries });
      return (res.readableStreamBody as Readable | undefined) ?? Readable.from([], { objectMode: false });
    } catch (err) {
      // A start at or past the end is 416 on Azure: an empty stream if the blob exists.
      if (statusOf(err) !== 416) throw this.#fail(err, 'open', path, signal);
    }
    await this.stat(path, opts);
    return Readable.from([], { objectMode: false });
  }

  async writer(path: string, opts?: WriterOptions): Promise<FileWriter> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const base = { path, container: this.#o.container, baseBlockSize: this.#o.blockSize ?? DEFAULT_BLOCK_SIZE };
    try {
      if (!opts?.append) {
        // Like truncating a file: the path holds empty content from now on.
        const etag = await this.#putBlob(path, Buffer.alloc(0), signal);
        return new AzureBlobWriter({ ...base, target: { kind: 'block', client: this.#blockBlob(path), committed: [] }, size: 0, etag });
      }
      return await this.#continue(path, base, signal);
    } catch (err) {
      throw this.#fail(err, 'open for writing', path, signal, Boolean(opts?.append));
    }
  }

  /** A writer continuing what is at `path`: its committed blocks, or its append blob. */
  async #continue(path: string, base: { path: string; container: string; baseBlockSize: number }, signal?: AbortSignal): Promise<FileWriter> {
    for (let attempt = 0; ; attempt++) {
      const props = await this.#blob(path).getProperties({ abortSignal: signal });
      const size = props.contentLength ?? 0;
      if (props.blobType === 'AppendBlob') {
        const client = this.#client.container.getAppendBlobClient(this.#blobName(path));
        return new AzureBlobWriter({ ...base, target: { kind: 'append', client }, size, etag: props.etag });
      }
      if (props.blobType !== 'BlockBlob') throw new StorageDriverError(`${NAME}: cannot append to the ${props.blobType} at ${path}`, NAME, path);
      const client = this.#blockBlob(path);
      const list = await client.getBlockList('committed', { abortSignal: signal });
      // Committed between the two calls: look again, the sizes must describe one version.
      if (list.etag !== props.etag && attempt < 3) continue;
      const blocks = list.committedBlocks ?? [];
      const ids = blocks.map((b) => b.name);
      if (compatibleBlockIds(ids) && blocks.reduce((n, b) => n + b.size, 0) === size) {
        return new AzureBlobWriter({ ...base, target: { kind: 'block', client, committed: ids }, size, etag: props.etag });
      }
      return this.#adopt(path, base, client, props, signal);
    }
  }

  /**
   * Content this driver did not write block by block (one Put Blob, or another tool's block ids):
   * stream it into a new writer as our own blocks, which the next commit puts in its place.
   */
  async #adopt(
    path: string,
    base: { path: string; container: string; baseBlockSize: number },
    client: BlockBlobClient,
    props: BlobGetPropertiesResponse,
    signal?: AbortSignal,
  ): Promise<FileWriter> {
    const writer = new AzureBlobWriter({ ...base, target: { kind: 'block', client, committed: [] }, size: 0, etag: props.etag });
    const res = await client.download(0, undefined, { abortSignal: signal, conditions: { ifMatch: props.etag }, maxRetryRequests: this.#o.maxRetries });
    for await (const chunk of res.readableStreamBody ?? []) await writer.write(chunk as Buffer, { signal });
    return writer;
  }

  async stat(path: string, opts?: CallOptions): Promise<FileInfo> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    if (path === '/') {
      // The root is the container: asking for it tells a health check whether storage answers.
      try {
        const props = await this.#client.container.getProperties({ abortSignal: signal });
        return { path, size: 0, modTime: props.lastModified ?? EPOCH, isDir: true };
      } catch (err) {
        throw this.#fail(err, 'stat', path, signal, false);
      }
    }
    try {
      const props = await this.#blob(path).getProperties({ abortSignal: signal });
      // Accounts with a hierarchical namespace keep directories as marker blobs.
      const isDir = props.metadata?.hdi_isfolder === 'true';
      return { path, size: isDir ? 0 : (props.contentLength ?? 0), modTime: props.lastModified ?? EPOCH, isDir };
    } catch (err) {
      if (!isBlobNotFound(err)) throw this.#fail(err, 'stat', path, signal);
    }
    try {
      // A directory's time is that of one blob below it (the listing's first); nothing tracks more.
      const page = await this.#client.container.listBlobsFlat({ prefix: this.#dirPrefix(path), abortSignal: signal }).byPage({ maxPageSize: 1 }).next();
      const first = page.done ? undefined : page.value.segment.blobItems[0];
      if (first) return { path, size: 0, modTime: first.properties.lastModified ?? EPOCH, isDir: true };
    } catch (err) {
      throw this.#fail(err, 'stat', path, signal);
    }
    throw new PathNotFoundError(NAME, path);
  }

  /** The direct children of a directory path, sorted by path; empty when there are none. */
  async #children(path: string, signal?: AbortSignal): Promise<FileInfo[]> {
    const prefix = this.#dirPrefix(path);
    const parent = path === '/' ? '' : path;
    const found = new Map<string, FileInfo>();
    try {
      const pages = this.#client.container.listBlobsByHierarchy('/', { prefix, abortSignal: signal }).byPage({ maxPageSize: LIST_PAGE });
      for await (const page of pages) {
        for (const p of page.segment.blobPrefixes ?? []) {
          const name = p.name.slice(prefix.length, -1);
          if (isComponent(name)) found.set(name, { path: `${parent}/${name}`, size: 0, modTime: EPOCH, isDir: true });
        }
        for (const b of page.segment.blobItems) {
          const name = b.name.slice(prefix.length);
          // A directory of the same name wins: the contract has no path that is both.
          if (!isComponent(name) || found.get(name)?.isDir) continue;
          const size = b.properties.contentLength ?? 0;
          found.set(name, { path: `${parent}/${name}`, size, modTime: b.properties.lastModified ?? EPOCH, isDir: false });
        }
      }
    } catch (err) {
      throw this.#fail(err, 'list', path, signal);
    }
    return [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async list(path: string, opts?: CallOptions): Promise<string[]> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    const children = await this.#children(path, opts?.signal);
    if (children.length === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
    return children.map((c) => c.path);
  }

  async move(src: string, dst: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, src);
    validatePath(NAME, dst);
    const signal = opts?.signal;
    throwIfAborted(signal);
    let props: BlobGetPropertiesResponse;
    try {
      props = await this.#blob(src).getProperties({ abortSignal: signal });
    } catch (err) {
      throw this.#fail(err, 'move', src, signal);
    }
    if (src === dst) return;
    const source = signedReadURL(this.#client, this.#blobName(src));
    const target = this.#blob(dst);
    // Copy exactly the version we looked at, then delete that version only.
    const sourceConditions = { ifMatch: props.etag };
    try {
      const size = props.contentLength ?? 0;
      if (props.blobType === 'BlockBlob' && size <= (this.#o.syncCopyMaxBytes ?? SYNC_COPY_LIMIT)) {
        await this.#replacing(dst, signal, () => target.syncCopyFromURL(source, { sourceConditions, abortSignal: signal }));
      } else {
        await this.#replacing(dst, signal, () => this.#asyncCopy(target, source, sourceConditions, dst, signal));
      }
    } catch (err) {
      throw this.#fail(err, 'move', dst, signal, false);
    }
    try {
      await this.#blob(src).delete({ conditions: { ifMatch: props.etag }, deleteSnapshots: 'include', abortSignal: signal });
    } catch (err) {
      // Gone already, or rewritten since the copy (then the new content stays).
      if (statusOf(err) !== 404 && !isConditionNotMet(err)) throw this.#fail(err, 'move', src, signal);
    }
  }

  /** Start Copy Blob and poll it as the reference does: delay × n before poll n, at most `copy_status_poll_max_retry` polls. */
  async #asyncCopy(target: BlobClient, source: string, sourceConditions: { ifMatch?: string }, dst: string, signal?: AbortSignal): Promise<void> {
    const poller = await target.beginCopyFromURL(source, { sourceConditions, abortSignal: signal });
    for (let poll = 1; !poller.isDone(); poll++) {
      if (this.#o.copyPollMaxRetry < 0 || poll > this.#o.copyPollMaxRetry) {
        await poller.cancelOperation({ abortSignal: signal }).catch(() => undefined);
        throw new StorageDriverError(`${NAME}: copy to ${dst} did not finish after ${poll - 1} polls; aborted`, NAME, dst);
      }
      await sleep(this.#o.copyPollDelayMs * poll, undefined, { signal });
      await poller.poll({ abortSignal: signal });
    }
    const state = poller.getOperationState();
    if (state.error) throw state.error;
    if (state.isCancelled) throw new StorageDriverError(`${NAME}: copy to ${dst} was aborted`, NAME, dst);
  }

  async delete(path: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    let found = false;
    try {
      if (path !== '/') {
        const res = await this.#blob(path).deleteIfExists({ deleteSnapshots: 'include', abortSignal: signal });
        found = res.succeeded;
      }
      const pages = this.#client.container.listBlobsFlat({ prefix: this.#dirPrefix(path), abortSignal: signal }).byPage({ maxPageSize: BATCH_SIZE });
      for await (const page of pages) {
        const blobs = page.segment.blobItems.map((b) => this.#client.container.getBlobClient(b.name));
        if (blobs.length === 0) continue;
        found = true;
        await this.#deleteBlobs(blobs, path, signal);
      }
    } catch (err) {
      throw this.#fail(err, 'delete', path, signal, false);
    }
    if (!found && path !== '/') throw new PathNotFoundError(NAME, path);
  }

  /** Delete up to 256 blobs in one batch request; one by one where batches are refused (hierarchical-namespace accounts). */
  async #deleteBlobs(blobs: BlobClient[], path: string, signal?: AbortSignal): Promise<void> {
    const options = { deleteSnapshots: 'include' as const, abortSignal: signal };
    try {
      const res = await this.#client.container.getBlobBatchClient().deleteBlobs(blobs, options);
      const failed = res.subResponses.find((r) => r.status >= 300 && r.status !== 404);
      if (failed) throw new StorageDriverError(`${NAME}: delete ${path} failed (${failed.status} ${failed.errorCode})`, NAME, path);
      return;
    } catch (err) {
      if (signal?.aborted || err instanceof StorageDriverError || statusOf(err) === 403) throw err;
    }
    for (let i = 0; i < blobs.length; i += DELETE_CONCURRENCY) {
      await Promise.all(blobs.slice(i, i + DELETE_CONCURRENCY).map((b) => b.deleteIfExists(options)));
    }
  }

  async walk(path: string, visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const top = await this.#children(path, signal);
    if (top.length === 0 && path !== '/') throw new PathNotFoundError(NAME, path);
    await this.#walkEntries(top, visit, signal);
  }

  /** Depth-first over listed entries; resolves true when the visitor asked to stop. */
  async #walkEntries(entries: FileInfo[], visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, signal?: AbortSignal): Promise<boolean> {
    for (const entry of entries) {
      throwIfAborted(signal);
      const decision = await visit(entry);
      if (decision === 'stop') return true;
      if (entry.isDir && decision !== 'skip' && (await this.#walkEntries(await this.#children(entry.path, signal), visit, signal))) return true;
    }
    return false;
  }

  async redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined> {
    validatePath(NAME, path);
    throwIfAborted(opts?.signal);
    // The same read-only URL serves GET and HEAD.
    return signedReadURL(this.#client, this.#blobName(path));
  }

  /** Close pooled connections (the driver stays usable: new requests open new ones). */
  close(): void {
    this.#client.agent.destroy();
  }
}
