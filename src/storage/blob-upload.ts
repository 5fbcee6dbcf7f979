/**
 * One upload session: `_uploads/<id>/{data,startedat,hashstates/...}`. Chunks are hashed as they are
 * written; commit verifies the digest, moves the data into the global blob store (an atomic rename
 * on a filesystem) and links it into the repository. A crash at any point leaves either a resumable
 * upload or nothing, never a half blob under `blobs/`.
 */
import { digestOf, parseDigest, type Digest } from '../digest/digest.js';
import { BlobUploadUnknownError, DigestInvalidError, SizeInvalidError } from '../distribution/errors.js';
import type { BlobUploadSession } from '../distribution/services.js';
import type { CallOptions, Descriptor } from '../distribution/types.js';
import { isRecyclingSource } from '../util/recycling-source.js';
import { OCTET_STREAM } from './blob-store.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { deleteIfPresent } from './link.js';
import { blobDataPath, uploadDataPath, uploadDir, uploadStartedAtPath } from './paths.js';
import { digestStored, type UploadHashers } from './upload-hashers.js';

/** What a finished upload needs from its repository: make the blob visible there. */
export interface UploadLinker {
  linkBlob(descriptor: Descriptor, opts?: CallOptions): Promise<void>;
}

export interface AppendOptions extends CallOptions {
  /** The chunk is the last one and a commit follows at once: skip saving the hash state. */
  final?: boolean;
}

/** Bytes handed to the background hasher at a time, and how many such batches may be in flight. */
const HASH_BATCH = 1 << 20;
const HASH_WINDOW = 4;

export class BlobUpload implements BlobUploadSession {
  constructor(
    private readonly driver: StorageDriver,
    private readonly hashers: UploadHashers,
    private readonly linker: UploadLinker,
    readonly repository: string,
    readonly id: string,
    readonly startedAt: Date,
    private currentSize: number,
  ) {}

  /** Bytes received so far. */
  get size(): number {
    return this.currentSize;
  }

  private get key(): string {
    return `${this.repository}/${this.id}`;
  }

  /**
   * Append a chunk from a stream. Whatever arrives before an error (a client that disconnects) is
   * kept and hashed, so the client can ask for the upload's status and continue.
   */
  async append(source: AsyncIterable<Uint8Array>, opts: AppendOptions = {}): Promise<number> {
    const { hasher } = await this.hashers.at(this.driver, this.repository, this.id, this.currentSize, 'sha256', opts);
    let writer;
    try {
      // The data file appears with the first chunk; an empty upload has none yet.
      writer = await this.driver.writer(uploadDataPath(this.repository, this.id), { append: this.currentSize > 0, signal: opts.signal });
    } catch (err) {
      if (err instanceof PathNotFoundError) throw new BlobUploadUnknownError(this.id);
      throw err;
    }
    if (writer.size !== hasher.offset) {
      // Someone else appended since we looked: start over from what storage says.
      await writer.close();
      throw new BlobUploadUnknownError(this.id);
    }
    // Hashing runs off the event loop in ~1 MiB batches, a few batches ahead at most, so the
    // sha256 of one chunk overlaps the network and disk work of the next.
    let failure: unknown;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const queued: Promise<void>[] = [];
    // A source that recycles its buffers gets each chunk back once it is copied and hashed.
    const recycle = isRecyclingSource(source) ? (chunks: Uint8Array[]) => chunks.forEach((c) => source.recycle(c)) : undefined;
    const flush = async () => {
      if (batch.length === 0) return;
      const hashing = hasher.updateInBackground(batch);
      if (recycle) {
        const done = batch;
        void hashing.then(() => recycle(done), () => undefined);
      }
      queued.push(hashing);
      batch = [];
      batchBytes = 0;
      if (queued.length > HASH_WINDOW) await queued.shift();
    };
    try {
      for await (const chunk of source) {
        if (chunk.length === 0) continue;
        await writer.write(chunk);
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= HASH_BATCH) await flush();
      }
    } catch (err) {
      failure = err;
    }
    try {
      await flush();
      await hasher.settled();
    } catch (err) {
      failure ??= err;
    }
    try {
      await writer.close();
    } catch (err) {
      this.hashers.forget(this.key);
      throw failure ?? err;
    }
    this.currentSize = writer.size;
    if (hasher.offset === this.currentSize) {
      this.hashers.remember(this.key, hasher);
      // A last chunk is committed right away: its state would be deleted unread.
      if (!opts.final) await this.hashers.save(this.driver, this.repository, this.id, hasher).catch(() => undefined);
    } else {
      this.hashers.forget(this.key);
    }
    if (failure) throw failure;
    return this.currentSize;
  }

  /**
   * Finish: verify the digest (and size when given), move the bytes into the blob store, link them
   * into the repository and remove the session. A wrong digest cancels the upload, as the reference does.
   */
  async commit(expected: string, opts: CallOptions & { size?: number } = {}): Promise<Descriptor> {
    let parsed;
    try {
      parsed = parseDigest(expected);
    } catch (err) {
      throw new DigestInvalidError((err as Error).message);
    }
    const dataPath = uploadDataPath(this.repository, this.id);
    const size = await this.storedSize(opts);
    if (opts.size !== undefined && opts.size !== size) {
      await this.cancel();
      throw new SizeInvalidError(`upload is ${size} bytes, expected ${opts.size}`);
    }
    let actual: string;
    if (size === 0) {
      actual = digestOf(Buffer.alloc(0), parsed.algorithm);
    } else if (parsed.algorithm === 'sha256') {
      actual = (await this.hashers.at(this.driver, this.repository, this.id, size, 'sha256', opts)).hasher.digest();
    } else {
      actual = await digestStored(this.driver, dataPath, parsed.algorithm, opts);
    }
    if (actual !== parsed.digest) {
      await this.cancel();
      throw new DigestInvalidError('provided digest did not match uploaded content', { expected: parsed.digest, actual });
    }
    const digest: Digest = parsed.digest;
    const target = blobDataPath(digest);
    let present = false;
    try {
      present = (await this.driver.stat(target, opts)).size === size;
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
    if (!present) {
      // An empty blob may have no data file at all (no chunk was ever sent).
      if (size === 0) await this.driver.putContent(target, Buffer.alloc(0), opts);
      else await this.driver.move(dataPath, target, opts);
    }
    const descriptor: Descriptor = { digest, size, mediaType: OCTET_STREAM };
    await this.linker.linkBlob(descriptor, opts);
    await this.cancel();
    return descriptor;
  }

  /** Bytes in storage now: 0 before the first chunk, BlobUploadUnknownError when the session is gone. */
  private async storedSize(opts?: CallOptions): Promise<number> {
    try {
      return (await this.driver.stat(uploadDataPath(this.repository, this.id), opts)).size;
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
    try {
      await this.driver.stat(uploadStartedAtPath(this.repository, this.id), opts);
    } catch (err) {
      if (err instanceof PathNotFoundError) throw new BlobUploadUnknownError(this.id);
      throw err;
    }
    return 0;
  }

  /** Remove the session and everything in it; idempotent. */
  async cancel(): Promise<void> {
    this.hashers.forget(this.key);
    await deleteIfPresent(this.driver, uploadDir(this.repository, this.id));
  }
}
