/**
 * A repository's view of the blob store: a blob is visible to a repository only through its link
 * `_layers/<alg>/<hex>/link`. Writes always land in the global store first, then get linked.
 */
import { randomUUID } from 'node:crypto';
import type { Digest } from '../digest/digest.js';
import { BlobUnknownError, BlobUploadUnknownError } from '../distribution/errors.js';
import type { BlobService } from '../distribution/services.js';
import type { BlobContent, BlobStatter, CallOptions, Descriptor } from '../distribution/types.js';
import type { BlobStore } from './blob-store.js';
import { BlobUpload } from './blob-upload.js';
import type { BlobDescriptorService } from './cache/cache.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { deleteIfPresent, readLink, writeLink } from './link.js';
import { layerLinkPath, uploadDataPath, uploadStartedAtPath } from './paths.js';
import type { UploadHashers } from './upload-hashers.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Stats a blob through the repository's link, then the global blob. */
export class LinkedBlobStatter implements BlobStatter {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly repository: string,
  ) {}

  async stat(digest: Digest, opts?: CallOptions): Promise<Descriptor> {
    const target = await readLink(this.driver, layerLinkPath(this.repository, digest), opts);
    if (target !== digest) throw new BlobUnknownError(digest);
    return this.blobs.stat(digest, opts);
  }
}

export interface LinkedBlobStoreDeps {
  driver: StorageDriver;
  blobs: BlobStore;
  repository: string;
  /** The statter to answer HEAD/GET with: the linked statter, possibly behind the cache. */
  statter: BlobStatter;
  /** The repository-scoped cache, kept in step on link and delete. */
  cache?: BlobDescriptorService;
  hashers: UploadHashers;
}

export class LinkedBlobStore implements BlobService {
  constructor(private readonly deps: LinkedBlobStoreDeps) {}

  get repository(): string {
    return this.deps.repository;
  }

  stat(digest: Digest, opts?: CallOptions): Promise<Descriptor> {
    return this.deps.statter.stat(digest, opts);
  }

  /** Open the blob at an offset (and optional inclusive end) for streaming. */
  async open(digest: Digest, opts: CallOptions & { offset?: number } = {}): Promise<BlobContent> {
    const descriptor = await this.stat(digest, opts);
    const body = await this.deps.blobs.open(digest, opts.offset ?? 0, opts);
    return { descriptor, body };
  }

  /** A URL for downloading the blob straight from storage, when the driver offers one. */
  async redirectURL(digest: Digest, method: 'GET' | 'HEAD', opts?: CallOptions): Promise<string | undefined> {
    await this.stat(digest, opts);
    return this.deps.blobs.redirectURL(digest, method, opts);
  }

  /** Make a blob already in the global store visible to this repository. */
  async linkBlob(descriptor: Descriptor, opts?: CallOptions): Promise<void> {
    await writeLink(this.deps.driver, layerLinkPath(this.repository, descriptor.digest), descriptor.digest, opts);
    await this.deps.cache?.set(descriptor.digest, descriptor, opts).catch(() => undefined);
  }

  /** Remove the repository's link (soft delete: the bytes stay for garbage collection). */
  async delete(digest: Digest, opts?: CallOptions): Promise<void> {
    const link = layerLinkPath(this.repository, digest);
    const present = (await readLink(this.deps.driver, link, opts)) === digest;
    await this.deps.cache?.clear(digest, opts).catch(() => undefined);
    if (!present) throw new BlobUnknownError(digest);
    await deleteIfPresent(this.deps.driver, link.slice(0, link.lastIndexOf('/')), opts);
  }

  /** Cross-repository mount: link a blob another repository can serve. Undefined when it can't. */
  async mount(from: BlobService, digest: Digest, opts?: CallOptions): Promise<Descriptor | undefined> {
    let descriptor: Descriptor;
    try {
      descriptor = await from.stat(digest, opts);
    } catch (err) {
      if (err instanceof BlobUnknownError) return undefined;
      throw err;
    }
    await this.linkBlob(descriptor, opts);
    return descriptor;
  }

  /** Start an upload session. */
  async createUpload(opts?: CallOptions): Promise<BlobUpload> {
    const id = randomUUID();
    const startedAt = new Date();
    // The session exists from its `startedat`; `data` appears with the first chunk.
    await this.deps.driver.putContent(uploadStartedAtPath(this.repository, id), rfc3339(startedAt), opts);
    return new BlobUpload(this.deps.driver, this.deps.hashers, this, this.repository, id, startedAt, 0);
  }

  /** Find an upload session; BlobUploadUnknownError when there is none. */
  async getUpload(id: string, opts?: CallOptions): Promise<BlobUpload> {
    if (!UPLOAD_ID.test(id)) throw new BlobUploadUnknownError(id);
    let startedAt: Date;
    let size: number;
    try {
      const started = (await this.deps.driver.getContent(uploadStartedAtPath(this.repository, id), opts)).toString('utf8');
      startedAt = new Date(started.trim());
    } catch (err) {
      if (err instanceof PathNotFoundError) throw new BlobUploadUnknownError(id);
      throw err;
    }
    try {
      size = (await this.deps.driver.stat(uploadDataPath(this.repository, id), opts)).size;
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
      size = 0; // no chunk yet
    }
    return new BlobUpload(this.deps.driver, this.deps.hashers, this, this.repository, id, startedAt, size);
  }
}

/** RFC 3339 in UTC with nanosecond-free seconds, as Go's time.Time formats it. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
