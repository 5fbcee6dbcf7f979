/**
 * A storage driver over a local directory: driver path P lives at `rootdirectory + P`.
 *
 * - putContent writes a sibling temp file (its name holds a `~`, which no valid driver path can
 *   contain) and renames it over the target, so readers see either the old or the new bytes.
 *   list/walk ignore any entry whose name falls outside the path grammar, temp files included.
 * - A writer writes straight to the file at the path through two staging buffers: one fills while
 *   the other is being written out, so the producer and the disk overlap with bounded memory.
 * - Directories are implicit in the contract, so emptied parent directories are removed after
 *   delete/move/cancel. Creators retry when a parent vanishes under them (see `#withParents`).
 */
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { attachLocalFile, type CallOptions, type PutOptions, type FileInfo, type FileWriter, type RedirectOptions, type StorageDriver, type WalkDecision, type WriterOptions } from './driver.js';
import { io } from '../../native/io.js';
import { PathNotFoundError, StorageDriverError, throwIfAborted, validateOffset, validatePath } from './errors.js';
import { writeAll } from '../../util/write-all.js';

const NAME = 'filesystem';
const VALID_NAME = /^[A-Za-z0-9._-]+$/;
const STAGING_SIZE = 1 << 20;
const READ_CHUNK = 1 << 20;
const PARENT_RETRIES = 8;
/** getContent reads files up to this size in one native job; larger ones take the stream path. */
const SMALL_READ_MAX = 16 << 20;

export interface FilesystemDriverOptions {
  rootdirectory: string;
  /**
   * Write large uploads with O_DIRECT where the filesystem and the berth_io addon allow it
   * (default true): pushes skip the page cache.
   */
  directWrites?: boolean;
  /**
   * Let downloads read a large blob that is mostly outside the page cache with O_DIRECT instead of
   * through the cache (default false; see src/http/file-response.ts). Faster for a blob pulled
   * once right after its push on machines where page-cache allocation is dear; but the blob then
   * never enters the cache, so every later pull reads the disk again.
   */
  directReads?: boolean;
}

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function isMissing(err: unknown): boolean {
  const code = errCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Turn whatever a filesystem call threw into what the contract promises: the abort reason when
 * the signal fired, PathNotFoundError for a missing path, StorageDriverError otherwise (the raw
 * error, which names the host directory, is kept only as `cause`).
 */
function failure(err: unknown, path: string, op: string, signal?: AbortSignal, missingMeansNotFound = true): Error {
  if (signal?.aborted) return signal.reason as Error;
  if (err instanceof StorageDriverError) return err;
  if (missingMeansNotFound && isMissing(err)) return new PathNotFoundError(NAME, path, { cause: err });
  return new StorageDriverError(`${NAME}: ${op} ${path} failed (${errCode(err) ?? 'error'})`, NAME, path, { cause: err });
}

function info(path: string, st: { size: number; mtime: Date; isDirectory(): boolean }): FileInfo {
  const isDir = st.isDirectory();
  return { path, size: isDir ? 0 : st.size, modTime: st.mtime, isDir };
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export class FilesystemDriver implements StorageDriver {
  readonly name = NAME;
  readonly #root: string;
  readonly #staging = new StagingPool();
  readonly #directWrites: boolean;
  readonly #directReads: boolean;

  constructor(options: FilesystemDriverOptions) {
    if (!options?.rootdirectory) throw new Error('filesystem driver: rootdirectory is required');
    this.#root = resolve(options.rootdirectory);
    this.#directWrites = options.directWrites !== false && io !== undefined;
    this.#directReads = options.directReads === true && io !== undefined;
  }

  /** Host path of a validated driver path. */
  #full(path: string): string {
    return path === '/' ? this.#root : this.#root + path;
  }

  /**
   * Run a creating operation, making the parents of `full` when it fails with ENOENT. Retried a
   * few times because a concurrent delete may prune a parent between our mkdir and our create.
   */
  async #withParents<T>(full: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (errCode(err) !== 'ENOENT' || attempt >= PARENT_RETRIES) throw err;
        await mkdir(dirname(full), { recursive: true });
      }
    }
  }

  /** Remove emptied directories from the parent of `path` up to (not including) the root. */
  async #prune(path: string): Promise<void> {
    for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) {
      // Stop at the first directory that is not empty (or already gone, or busy).
      if (!(await rmdir(this.#full(dir)).then(() => true, () => false))) return;
    }
  }

  async getContent(path: string, opts?: CallOptions): Promise<Buffer> {
    validatePath(NAME, path);
    throwIfAborted(opts?.signal);
    if (io) {
      // One pool job instead of open, fstat, read and close as four.
      try {
        const content = await io.readFile(this.#full(path), SMALL_READ_MAX);
        throwIfAborted(opts?.signal);
        return content;
      } catch (err) {
        if (errCode(err) === 'EISDIR') throw new PathNotFoundError(NAME, path, { cause: err });
        if (errCode(err) !== 'EFBIG') throw failure(err, path, 'read', opts?.signal);
      }
    }
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.#full(path), 'r');
      if ((await fh.stat()).isDirectory()) throw new PathNotFoundError(NAME, path);
      return await fh.readFile({ signal: opts?.signal });
    } catch (err) {
      throw failure(err, path, 'read', opts?.signal);
    } finally {
      await fh?.close().catch(() => {});
    }
  }

  async putContent(path: string, content: Uint8Array | string, opts?: PutOptions): Promise<void> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const full = this.#full(path);
    const tmp = `${full}~tmp-${randomBytes(8).toString('hex')}`;
    if (io) {
      // The same steps in one pool job instead of six or more.
      const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
      try {
        await io.writeFileAtomic(full, tmp, bytes, opts?.scratch !== true);
      } catch (err) {
        throw failure(err, path, 'write', signal, false);
      }
      return;
    }
    let fh: FileHandle | undefined;
    try {
      fh = await this.#withParents(full, () => open(tmp, 'wx'));
      await fh.writeFile(content, { signal });
      if (opts?.scratch !== true) await fh.datasync();
      await fh.close();
      fh = undefined;
      throwIfAborted(signal);
      await rename(tmp, full);
    } catch (err) {
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      throw failure(err, path, 'write', signal, false);
    }
  }

  async reader(path: string, offset: number, opts?: CallOptions): Promise<Readable> {
    validatePath(NAME, path);
    validateOffset(NAME, path, offset);
    const signal = opts?.signal;
    throwIfAborted(signal);
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.#full(path), 'r');
      const st = await fh.stat();
      if (st.isDirectory()) throw new PathNotFoundError(NAME, path);
      throwIfAborted(signal);
      if (offset >= st.size) {
        await fh.close();
        return Readable.from([], { objectMode: false });
      }
      const stream = fh.createReadStream({ start: offset, highWaterMark: READ_CHUNK, signal });
      return attachLocalFile(stream, { fd: fh.fd, start: offset, size: st.size, readDirect: this.#directReads });
    } catch (err) {
      await fh?.close().catch(() => {});
      throw failure(err, path, 'open', signal);
    }
  }

  async writer(path: string, opts?: WriterOptions): Promise<FileWriter> {
    validatePath(NAME, path);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const full = this.#full(path);
    let fh: FileHandle | undefined;
    try {
      fh = opts?.append ? await open(full, fsc.O_WRONLY) : await this.#withParents(full, () => open(full, 'w'));
      const size = (await fh.stat()).size;
      throwIfAborted(signal);
      return new FsWriter(fh, path, full, size, this.#staging, this.#directWrites, (p) => this.#prune(p));
    } catch (err) {
      await fh?.close().catch(() => {});
      // Append needs an existing regular file; a directory there means there is none.
      if (opts?.append && errCode(err) === 'EISDIR' && !signal?.aborted) throw new PathNotFoundError(NAME, path, { cause: err });
      throw failure(err, path, 'open for writing', signal, Boolean(opts?.append));
    }
  }

  async stat(path: string, opts?: CallOptions): Promise<FileInfo> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    try {
      if (path === '/') await mkdir(this.#root, { recursive: true });
      return info(path, await stat(this.#full(path)));
    } catch (err) {
      throw failure(err, path, 'stat', opts?.signal);
    }
  }

  /** Names of the visible children of a directory, sorted; throws ENOENT/ENOTDIR as fs does. */
  async #children(path: string): Promise<string[]> {
    const names = await readdir(this.#full(path));
    return names.filter((n) => VALID_NAME.test(n)).sort();
  }

  async list(path: string, opts?: CallOptions): Promise<string[]> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    try {
      const names = await this.#children(path);
      return names.map((n) => childPath(path, n));
    } catch (err) {
      if (path === '/' && errCode(err) === 'ENOENT' && !opts?.signal?.aborted) return [];
      throw failure(err, path, 'list', opts?.signal);
    }
  }

  async move(src: string, dst: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, src);
    validatePath(NAME, dst);
    const signal = opts?.signal;
    throwIfAborted(signal);
    const from = this.#full(src);
    const to = this.#full(dst);
    const sourceGone = (err: unknown) => failure(err, src, 'move', signal);
    // A missing source is PathNotFoundError, never a reason to create the target's parents.
    await lstat(from).catch((err: unknown) => Promise.reject(sourceGone(err)));
    if (src === dst) return;
    try {
      await this.#withParents(to, async () => {
        try {
          await rename(from, to);
        } catch (err) {
          // ENOENT from rename is ambiguous: the source may have gone, or the target's parent.
          if (errCode(err) === 'ENOENT') await lstat(from).catch((e: unknown) => Promise.reject(sourceGone(e)));
          throw err;
        }
      });
    } catch (err) {
      throw failure(err, dst, 'move', signal, false);
    }
    await this.#prune(src);
  }

  async delete(path: string, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    throwIfAborted(opts?.signal);
    try {
      if (path === '/') {
        const names = await readdir(this.#root).catch((err: unknown) => (errCode(err) === 'ENOENT' ? [] : Promise.reject(err)));
        for (const n of names) await rm(`${this.#root}/${n}`, { recursive: true, force: true });
        return;
      }
      const full = this.#full(path);
      await lstat(full);
      await rm(full, { recursive: true, force: true });
    } catch (err) {
      throw failure(err, path, 'delete', opts?.signal);
    }
    await this.#prune(path);
  }

  async walk(path: string, visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, opts?: CallOptions): Promise<void> {
    validatePath(NAME, path, true);
    const signal = opts?.signal;
    throwIfAborted(signal);
    try {
      if (path === '/') await mkdir(this.#root, { recursive: true });
      const st = await stat(this.#full(path));
      if (!st.isDirectory()) throw new PathNotFoundError(NAME, path);
    } catch (err) {
      throw failure(err, path, 'walk', signal);
    }
    await this.#walkDir(path, visit, signal);
  }

  /** Depth-first over one directory; resolves true when the visitor asked to stop. */
  async #walkDir(dir: string, visit: (info: FileInfo) => WalkDecision | Promise<WalkDecision>, signal?: AbortSignal): Promise<boolean> {
    let names: string[];
    try {
      names = await this.#children(dir);
    } catch (err) {
      if (isMissing(err) && !signal?.aborted) return false; // removed while we walked
      throw failure(err, dir, 'walk', signal);
    }
    for (const name of names) {
      throwIfAborted(signal);
      const child = childPath(dir, name);
      let fi: FileInfo;
      try {
        fi = info(child, await stat(this.#full(child)));
      } catch (err) {
        if (isMissing(err)) continue; // vanished between readdir and stat
        throw failure(err, child, 'walk', signal);
      }
      const decision = await visit(fi);
      if (decision === 'stop') return true;
      if (fi.isDir && decision !== 'skip' && (await this.#walkDir(child, visit, signal))) return true;
    }
    return false;
  }

  async redirectURL(path: string, opts: RedirectOptions): Promise<string | undefined> {
    validatePath(NAME, path);
    throwIfAborted(opts?.signal);
    return undefined;
  }
}

type WriterState = 'open' | 'closed' | 'committed' | 'cancelled';

/** O_DIRECT needs page-aligned memory, offsets and lengths; the addon gives aligned buffers. */
const ALIGN = io?.ALIGNMENT ?? 4096;
/**
 * Buffers smaller than this are written through the page cache: a small blob is not worth a second
 * descriptor and a synchronous disk write, and its pages are likely to be read again soon.
 */
const DIRECT_MIN = STAGING_SIZE / 4;
/** Background writes a writer may have running at once (each holds one staging buffer). */
const MAX_INFLIGHT = 3;
/**
 * Direct writes between background fdatasync calls. O_DIRECT data skips this machine's page cache
 * but may still sit in a write cache below it (a virtual disk's host page cache, a drive's cache).
 * The fdatasync of the link that commits a blob then waits for all of it at once: half a second
 * after a gigabyte here. Flushing as the upload goes spreads that cost over the transfer.
 */
const SYNC_EVERY = 64 << 20;

/**
 * Staging buffers, recycled across the writers of one driver: a push then allocates nothing per
 * megabyte, and aligned memory (which V8 does not count towards its heap) never piles up waiting
 * for a garbage collection. At most `idle` buffers are kept when no writer needs them.
 */
class StagingPool {
  readonly #free: Buffer[] = [];
  constructor(private readonly idle = 8) {}

  take(): Buffer {
    return this.#free.pop() ?? (io ? io.alignedBuffer(STAGING_SIZE) : Buffer.allocUnsafeSlow(STAGING_SIZE));
  }

  give(buf: Buffer | undefined): void {
    if (buf && this.#free.length < this.idle) this.#free.push(buf);
  }
}

/**
 * The filesystem FileWriter. Chunks are copied into the current staging buffer (so the caller may
 * reuse its chunk once write() resolves); a full buffer is handed to a background write while the
 * next one fills. At most MAX_INFLIGHT background writes run at once, which is the backpressure.
 * All calls are serialised on a promise chain so unawaited calls still run in order.
 *
 * Whole aligned blocks are written with O_DIRECT when the filesystem allows it (and the berth_io
 * addon provides aligned memory): upload data goes straight to disk instead of filling the page
 * cache, so a large push costs the registry no page-cache allocation (on virtual machines that is
 * most of a buffered write's cost) and does not push hotter data out of memory. The unaligned
 * head and tail of a writer go through the page cache, which the kernel keeps coherent with the
 * direct writes; readers see the same bytes either way.
 */
class FsWriter implements FileWriter {
  #size: number;
  /** File offset at which the next staged buffer will be written. */
  #flushed: number;
  #state: WriterState = 'open';
  #cur: Buffer | undefined;
  #len = 0;
  /** Bytes the current buffer takes before it is written out (it ends on an aligned offset). */
  #cap = STAGING_SIZE;
  /** Background writes not yet finished, oldest first (at most MAX_INFLIGHT). */
  #inflight: Promise<void>[] = [];
  #error: unknown;
  #chain: Promise<unknown> = Promise.resolve();
  /** The O_DIRECT descriptor: opened on the first aligned write; null when unsupported here. */
  #direct: Promise<FileHandle | null> | null | undefined;
  /** Direct bytes written since the last background flush started, and that flush. */
  #unsynced = 0;
  #syncing: Promise<void> | undefined;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly full: string,
    size: number,
    private readonly staging: StagingPool,
    direct: boolean,
    private readonly prune: (path: string) => Promise<void>,
  ) {
    this.#size = size;
    this.#flushed = size;
    if (!direct) this.#direct = null;
    this.#cap = this.#capacityAt(size);
  }

  get size(): number {
    return this.#size;
  }

  /** Staging capacity for a buffer that will land at `offset`, so that it ends aligned. */
  #capacityAt(offset: number): number {
    return STAGING_SIZE - (offset % ALIGN);
  }

  #directHandle(): Promise<FileHandle | null> {
    // tmpfs and some network filesystems refuse O_DIRECT: then everything is buffered. Opened once,
    // though several background writes may ask at the same time.
    this.#direct ??= open(this.full, fsc.O_WRONLY | fsc.O_DIRECT).catch(() => null);
    return this.#direct;
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(op);
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Reject calls on a finished writer; `write` also fails fast after a background write error. */
  #ensureOpen(opts: CallOptions | undefined, checkError: boolean): void {
    throwIfAborted(opts?.signal);
    if (this.#state !== 'open') throw new StorageDriverError(`${NAME}: writer for ${this.path} is ${this.#state}`, NAME, this.path);
    if (checkError && this.#error !== undefined) throw failure(this.#error, this.path, 'write');
  }

  /** Write `len` bytes of `buf` at `position`: whole aligned blocks directly, the rest buffered. */
  async #writeOut(buf: Buffer, len: number, position: number): Promise<void> {
    let direct = 0;
    if (this.#direct !== null && position % ALIGN === 0 && len >= DIRECT_MIN) {
      const dfh = await this.#directHandle();
      if (dfh) {
        direct = len - (len % ALIGN);
        await writeAll(dfh, buf, 0, direct, position);
        this.#unsynced += direct;
        if (this.#unsynced >= SYNC_EVERY && !this.#syncing) this.#flushInBackground(dfh);
      }
    }
    if (direct < len) await writeAll(this.fh, buf, direct, len - direct, position + direct);
  }

  /** Start an fdatasync of the direct descriptor that #settle waits for (see SYNC_EVERY). */
  #flushInBackground(dfh: FileHandle): void {
    this.#unsynced = 0;
    this.#syncing = dfh
      .datasync()
      .catch((err: unknown) => {
        this.#error ??= err;
      })
      .finally(() => {
        this.#syncing = undefined;
      });
  }

  /**
   * Start writing the current buffer in the background, once fewer than MAX_INFLIGHT writes are
   * running (waiting for the oldest otherwise: the backpressure). Writes go to distinct offsets,
   * so they may finish in any order; each buffer returns to the pool when its write is done.
   */
  async #rotate(): Promise<void> {
    while (this.#inflight.length >= MAX_INFLIGHT) await this.#inflight.shift();
    if (this.#error !== undefined) throw failure(this.#error, this.path, 'write');
    const full = this.#cur as Buffer;
    const len = this.#len;
    const position = this.#flushed;
    this.#flushed += len;
    this.#cur = undefined;
    this.#len = 0;
    this.#cap = this.#capacityAt(this.#flushed);
    this.#inflight.push(
      this.#writeOut(full, len, position).then(
        () => this.staging.give(full),
        (err: unknown) => {
          this.#error ??= err;
        },
      ),
    );
  }

  /** Wait for every background write. */
  async #settle(): Promise<void> {
    const running = this.#inflight;
    this.#inflight = [];
    await Promise.all(running);
    await this.#syncing;
  }

  /** Write out everything staged and wait for it. */
  async #drain(): Promise<void> {
    if (this.#len > 0) await this.#rotate();
    await this.#settle();
    if (this.#error !== undefined) throw failure(this.#error, this.path, 'write');
  }

  /** Close both descriptors, ignoring errors (the data was already written or is abandoned). */
  async #closeHandles(): Promise<void> {
    // Called once nothing is in flight: the buffer is free for other writers.
    this.staging.give(this.#cur);
    this.#cur = undefined;
    await this.fh.close().catch(() => {});
    const direct = await this.#direct;
    if (direct) await direct.close().catch(() => {});
  }

  write(chunk: Uint8Array, opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      this.#ensureOpen(opts, true);
      for (let off = 0; off < chunk.length; ) {
        this.#cur ??= this.staging.take();
        const n = Math.min(chunk.length - off, this.#cap - this.#len);
        this.#cur.set(chunk.subarray(off, off + n), this.#len);
        this.#len += n;
        off += n;
        if (this.#len === this.#cap) await this.#rotate();
      }
      this.#size += chunk.length;
    });
  }

  #finish(state: WriterState, sync: boolean, opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      if (state === 'closed' && this.#state === 'closed') return;
      this.#ensureOpen(opts, false);
      this.#state = state;
      try {
        await this.#drain();
        if (sync) await this.fh.datasync();
      } catch (err) {
        throw failure(err, this.path, 'write');
      } finally {
        await this.#closeHandles();
      }
    });
  }

  close(opts?: CallOptions): Promise<void> {
    return this.#finish('closed', false, opts);
  }

  commit(opts?: CallOptions): Promise<void> {
    return this.#finish('committed', true, opts);
  }

  cancel(opts?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      if (this.#state === 'cancelled') return;
      this.#ensureOpen(opts, false);
      this.#state = 'cancelled';
      await this.#settle();
      // Only unlink the path if it still names our file (a putContent or move may have replaced it).
      const mine = await this.fh.stat().catch(() => undefined);
      await this.#closeHandles();
      const there = await lstat(this.full).catch(() => undefined);
      if (!mine || !there || mine.ino !== there.ino || mine.dev !== there.dev) return;
      try {
        await rm(this.full, { force: true });
      } catch (err) {
        throw failure(err, this.path, 'cancel');
      }
      await this.prune(this.path);
    });
  }
}
