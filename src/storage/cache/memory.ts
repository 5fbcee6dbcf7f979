/** An in-memory blob descriptor cache bounded by entry count (`storage.cache.blobdescriptorsize`). */
import type { Digest } from '../../digest/digest.js';
import type { Descriptor } from '../../distribution/types.js';
import { BoundedLRU } from '../../util/lru.js';
import type { BlobDescriptorCacheProvider, BlobDescriptorService } from './cache.js';

export const DEFAULT_BLOB_DESCRIPTOR_SIZE = 10000;

export class InMemoryBlobDescriptorCache implements BlobDescriptorCacheProvider {
  private readonly descriptors: BoundedLRU<Descriptor>;
  /** Repository membership, keyed `<repository>@<digest>`; shares the same bound. */
  private readonly membership: BoundedLRU<true>;

  constructor(size: number = DEFAULT_BLOB_DESCRIPTOR_SIZE) {
    if (!Number.isSafeInteger(size) || size <= 0) throw new Error(`blob descriptor cache size must be a positive integer, got ${size}`);
    this.descriptors = new BoundedLRU(size);
    this.membership = new BoundedLRU(size);
  }

  async get(digest: Digest): Promise<Descriptor | undefined> {
    return this.descriptors.get(digest);
  }

  async set(digest: Digest, descriptor: Descriptor): Promise<void> {
    this.descriptors.set(digest, { ...descriptor });
  }

  async clear(digest: Digest): Promise<void> {
    this.descriptors.delete(digest);
  }

  repositoryScoped(repository: string): BlobDescriptorService {
    const key = (digest: Digest) => `${repository}@${digest}`;
    return {
      get: async (digest) => {
        if (!this.membership.get(key(digest))) return undefined;
        return this.descriptors.get(digest);
      },
      set: async (digest, descriptor) => {
        this.membership.set(key(digest), true);
        this.descriptors.set(digest, { ...descriptor });
      },
      clear: async (digest) => {
        this.membership.delete(key(digest));
      },
    };
  }

  /** Entries held (for tests of the bound). */
  get entries(): { descriptors: number; membership: number } {
    return { descriptors: this.descriptors.size, membership: this.membership.size };
  }
}
