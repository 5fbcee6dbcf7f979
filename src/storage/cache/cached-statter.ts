/**
 * Puts a blob descriptor cache in front of a statter: answer from the cache, fall back to storage
 * and remember what it said. A failing cache (Redis down) never fails the stat.
 */
import type { Digest } from '../../digest/digest.js';
import type { BlobStatter, CallOptions, Descriptor } from '../../distribution/types.js';
import type { BlobDescriptorService, CacheObserver } from './cache.js';

export class CachedBlobStatter implements BlobStatter {
  constructor(
    private readonly cache: BlobDescriptorService,
    private readonly backend: BlobStatter,
    private readonly cacheName: string,
    private readonly observer: CacheObserver = {},
  ) {}

  async stat(digest: Digest, opts?: CallOptions): Promise<Descriptor> {
    let cached: Descriptor | undefined;
    try {
      cached = await this.cache.get(digest, opts);
    } catch (err) {
      this.observer.error?.(this.cacheName, err);
    }
    if (cached) {
      this.observer.hit?.(this.cacheName);
      return cached;
    }
    this.observer.miss?.(this.cacheName);
    const descriptor = await this.backend.stat(digest, opts);
    try {
      await this.cache.set(digest, descriptor, opts);
    } catch (err) {
      this.observer.error?.(this.cacheName, err);
    }
    return descriptor;
  }
}
