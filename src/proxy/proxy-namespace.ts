/**
 * The namespace handlers see when a pull-through cache is configured: a repository whose name an
 * upstream serves is a proxied repository (the storage registry's copy + the upstream); any other
 * comes from the namespace underneath, as a hosted repository. The catalog lists what storage
 * holds, cached repositories included.
 */
import type { Digest } from '../digest/digest.js';
import type { BlobService, BlobUploadSession, Namespace, Repository } from '../distribution/services.js';
import type { BlobContent, CallOptions, Descriptor } from '../distribution/types.js';
import { ProxyBlobService } from './proxy-blobs.js';
import { ProxyManifestService } from './proxy-manifests.js';
import { ProxyTagService } from './proxy-tags.js';
import type { PullThroughCache } from './pull-through.js';

export class ProxyNamespace implements Namespace {
  constructor(
    private readonly cache: PullThroughCache,
    /** Where hosted repositories and the catalog come from. */
    private readonly hostedNamespace: Namespace,
  ) {}

  repository(name: string): Repository {
    const upstream = this.cache.upstreamFor(name);
    if (!upstream) return this.hosted(this.hostedNamespace.repository(name));
    // Cached content is read and written through storage directly.
    const local = this.cache.registry.repository(name);
    const remote = upstream.remoteName(name);
    const manifests = new ProxyManifestService(this.cache, upstream, local.manifests, name, remote);
    return {
      name,
      blobs: new ProxyBlobService(this.cache, upstream, local.blobs, name, remote),
      manifests,
      tags: new ProxyTagService(this.cache, upstream, local.tags, manifests, name, remote),
    };
  }

  repositories(opts: CallOptions & { last?: string; limit: number }): Promise<string[]> {
    return this.hostedNamespace.repositories(opts);
  }

  /**
   * A hosted repository, with one guard: a cross-repository mount from a proxied repository may
   * only link bytes that are really stored (a proxied repository also answers for blobs it has
   * not fetched yet).
   */
  private hosted(repo: Repository): Repository {
    return { ...repo, blobs: new MountGuard(repo.blobs, this.cache) };
  }
}

class MountGuard implements BlobService {
  constructor(
    private readonly inner: BlobService,
    private readonly cache: PullThroughCache,
  ) {}

  get repository(): string {
    return this.inner.repository;
  }

  async mount(from: BlobService, digest: Digest, opts?: CallOptions): Promise<Descriptor | undefined> {
    if (this.cache.upstreamFor(from.repository) && !(await this.cache.registry.blobStore.exists(digest, opts))) return undefined;
    return this.inner.mount(from, digest, opts);
  }

  stat(digest: Digest, opts?: CallOptions): Promise<Descriptor> {
    return this.inner.stat(digest, opts);
  }

  open(digest: Digest, opts?: CallOptions & { offset?: number }): Promise<BlobContent> {
    return this.inner.open(digest, opts);
  }

  redirectURL(digest: Digest, method: 'GET' | 'HEAD', opts?: CallOptions): Promise<string | undefined> {
    return this.inner.redirectURL(digest, method, opts);
  }

  delete(digest: Digest, opts?: CallOptions): Promise<void> {
    return this.inner.delete(digest, opts);
  }

  createUpload(opts?: CallOptions): Promise<BlobUploadSession> {
    return this.inner.createUpload(opts);
  }

  getUpload(id: string, opts?: CallOptions): Promise<BlobUploadSession> {
    return this.inner.getUpload(id, opts);
  }
}
