/**
 * Where a pulled-through blob is stored. Both sinks follow the upload layout
 * (`_uploads/<id>/{startedat,data}`, so upload purging cleans up after a crash) and publish the
 * same way as an upload's commit: move into `blobs/`, then link. The digest is verified by the
 * download's own hasher, which reads every byte off the event loop anyway.
 *
 * - The adopting sink (filesystem storage): the download's spool file *is* the upload's data
 *   file, so publishing is a rename and the blob is written to disk once.
 * - The copying sink (any driver): the spool is a private temp file, and the bytes are written
 *   through the driver's writer as they arrive.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CallOptions, Descriptor } from '../distribution/types.js';
import type { StorageDriver } from '../storage/driver/driver.js';
import { PathNotFoundError } from '../storage/driver/errors.js';
import { rfc3339 } from '../storage/linked-blob-store.js';
import { blobDataPath, uploadDataPath, uploadDir, uploadStartedAtPath } from '../storage/paths.js';

export interface BlobSink {
  /** Where the download's spool file goes, and whether the sink takes that file over as the blob. */
  prepare(signal: AbortSignal): Promise<{ spoolPath: string; adopt: boolean }>;
  /** Copying sinks: store the bytes as they arrive. */
  write(source: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void>;
  /** After the digest is verified: publish the blob and link it into the repository. */
  publish(descriptor: Descriptor, signal: AbortSignal): Promise<void>;
  /** Remove whatever is left (idempotent). */
  discard(): Promise<void>;
}

export interface SinkTarget {
  driver: StorageDriver;
  /** The local repository the blob is linked into. */
  repository: string;
  link(descriptor: Descriptor, opts?: CallOptions): Promise<void>;
}

abstract class UploadSink implements BlobSink {
  protected readonly id = randomUUID();

  constructor(protected readonly target: SinkTarget) {}

  abstract prepare(signal: AbortSignal): Promise<{ spoolPath: string; adopt: boolean }>;
  abstract write(source: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void>;

  protected get dataPath(): string {
    return uploadDataPath(this.target.repository, this.id);
  }

  protected async start(signal: AbortSignal): Promise<void> {
    await this.target.driver.putContent(uploadStartedAtPath(this.target.repository, this.id), rfc3339(new Date()), { signal });
  }

  async publish(descriptor: Descriptor, signal: AbortSignal): Promise<void> {
    const { driver } = this.target;
    const size = (await driver.stat(this.dataPath, { signal })).size;
    if (size !== descriptor.size) throw new Error(`stored ${size} of ${descriptor.size} bytes of ${descriptor.digest}`);
    const finalPath = blobDataPath(descriptor.digest);
    let present = false;
    try {
      present = (await driver.stat(finalPath, { signal })).size === descriptor.size;
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
    if (!present) await driver.move(this.dataPath, finalPath, { signal });
    await this.target.link(descriptor, { signal });
    await this.discard();
  }

  async discard(): Promise<void> {
    await this.target.driver.delete(uploadDir(this.target.repository, this.id)).catch(() => undefined);
  }
}

/** Filesystem storage: the spool is the upload's data file, at `hostRoot` + its driver path. */
export class AdoptingSink extends UploadSink {
  constructor(
    target: SinkTarget,
    private readonly hostRoot: string,
  ) {
    super(target);
  }

  async prepare(signal: AbortSignal): Promise<{ spoolPath: string; adopt: boolean }> {
    await this.start(signal); // creates the upload directory
    return { spoolPath: join(this.hostRoot, this.dataPath), adopt: true };
  }

  async write(): Promise<void> {
    throw new Error('an adopting sink is given its file, not its bytes');
  }
}

/** Any driver: a private spool in `spoolDir`, and the bytes written through the driver. */
export class CopyingSink extends UploadSink {
  constructor(
    target: SinkTarget,
    private readonly spoolDir: string,
  ) {
    super(target);
  }

  async prepare(): Promise<{ spoolPath: string; adopt: boolean }> {
    return { spoolPath: join(this.spoolDir, `${randomBytes(12).toString('hex')}.spool`), adopt: false };
  }

  async write(source: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void> {
    await this.start(signal);
    const writer = await this.target.driver.writer(this.dataPath, { signal });
    try {
      for await (const chunk of source) await writer.write(chunk, { signal });
      await writer.close({ signal });
    } catch (err) {
      await writer.cancel().catch(() => undefined);
      throw err;
    }
  }
}
