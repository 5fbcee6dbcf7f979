/**
 * Blobs of a proxied repository. Cached: served from storage. Not cached: stat asks the upstream
 * (HEAD) or a download already running; open joins the running download or starts one, and
 * streams from it while it lands in storage. Bytes another repository already stored are linked
 * instead of downloaded again, once the upstream confirms this repository has the blob. Writes
 * are refused: the repository belongs to its upstream.
 */
import type { Digest } from '../digest/digest.js';
import { BlobUnknownError, UnsupportedError } from '../distribution/errors.js';
import type { BlobService, BlobUploadSession } from '../distribution/services.js';
import type { BlobContent, CallOptions, Descriptor } from '../distribution/types.js';
import { OCTET_STREAM } from '../storage/blob-store.js';
import { LinkedBlobStore } from '../storage/linked-blob-store.js';
import { waitFor } from '../util/wait-for.js';
import type { PullThroughCache } from './pull-through.js';
import { clientError } from './upstream-errors.js';
import type { Upstream } from './upstream.js';

export class ProxyBlobService implements BlobService {
  constructor(
    private readonly cache: PullThroughCache,
    private readonly upstream: Upstream,
    private readonly local: BlobService,
    readonly repository: string,
    private readonly remoteName: string,
  ) {}

  async stat(digest: Digest, opts?: CallOptions): Promise<Descriptor> {
    const cached = await this.localStat(digest, opts);
    if (cached) return cached;
    const running = this.cache.runningDownload(this.repository, digest);
    try {
      if (running) return await waitFor(running.ready, opts?.signal);
      const { size } = await this.upstream.client.headBlob(this.remoteName, digest, opts);
      return { digest, size, mediaType: OCTET_STREAM };
    } catch (err) {
      throw clientError(err, { kind: 'blob', digest }, this.upstream.url);
    }
  }

  async open(digest: Digest, opts: CallOptions & { offset?: number } = {}): Promise<BlobContent> {
    try {
      return await this.local.open(digest, opts);
    } catch (err) {
      if (!(err instanceof BlobUnknownError)) throw err;
    }
    if (!this.cache.runningDownload(this.repository, digest) && (await this.linkStored(digest, opts))) {
      return this.local.open(digest, opts);
    }
    const download = this.cache.download(this.repository, digest, () => ({
      digest,
      logger: this.cache.logger,
      fetch: (signal) => this.upstream.client.getBlob(this.remoteName, digest, { signal }),
      sink: this.cache.sink(this.repository, (d, o) => this.link(d, o)),
    }));
    try {
      const descriptor = await waitFor(download.ready, opts.signal);
      return { descriptor, body: download.reader(opts.offset ?? 0) };
    } catch (err) {
      throw clientError(err, { kind: 'blob', digest }, this.upstream.url);
    }
  }

  async redirectURL(digest: Digest, method: 'GET' | 'HEAD', opts?: CallOptions): Promise<string | undefined> {
    try {
      return await this.local.redirectURL(digest, method, opts);
    } catch (err) {
      if (err instanceof BlobUnknownError) return undefined;
      throw err;
    }
  }

  delete(): Promise<void> {
    return Promise.reject(this.refusal());
  }

  mount(): Promise<Descriptor | undefined> {
    return Promise.reject(this.refusal());
  }

  createUpload(): Promise<BlobUploadSession> {
    return Promise.reject(this.refusal());
  }

  getUpload(): Promise<BlobUploadSession> {
    return Promise.reject(this.refusal());
  }

  private refusal(): UnsupportedError {
    return new UnsupportedError(`${this.repository} is a pull-through cache of ${this.upstream.url}: it does not accept writes`);
  }

  private async localStat(digest: Digest, opts?: CallOptions): Promise<Descriptor | undefined> {
    try {
      return await this.local.stat(digest, opts);
    } catch (err) {
      if (err instanceof BlobUnknownError) return undefined;
      throw err;
    }
  }

  /**
   * The bytes are in the global store already (another repository has them): link them here if the
   * upstream says this repository has the blob too, with the same size.
   */
  private async linkStored(digest: Digest, opts?: CallOptions): Promise<boolean> {
    let stored: Descriptor;
    try {
      stored = await this.cache.registry.blobStore.stat(digest, opts);
    } catch (err) {
      if (err instanceof BlobUnknownError) return false;
      throw err;
    }
    let size: number;
    try {
      ({ size } = await this.upstream.client.headBlob(this.remoteName, digest, opts));
    } catch (err) {
      throw clientError(err, { kind: 'blob', digest }, this.upstream.url);
    }
    if (size !== stored.size) return false;
    await this.link(stored, opts);
    return true;
  }

  private async link(descriptor: Descriptor, opts?: CallOptions): Promise<void> {
    if (!(this.local instanceof LinkedBlobStore)) throw new Error('the pull-through cache needs the storage blob store underneath');
    await this.local.linkBlob(descriptor, opts);
    this.cache.schedule(this.upstream, this.repository, descriptor.digest, 'blob');
  }
}
