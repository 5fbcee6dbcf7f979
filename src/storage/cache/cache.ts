/**
 * The blob descriptor cache: remembers what `stat` found so that HEAD/GET of a blob need no storage
 * I/O. Two scopes, as in the reference: global descriptors (digest → size/media type) and a
 * repository's membership (repository may serve digest). A repository-scoped lookup answers only
 * when both are known.
 */
import type { Digest } from '../../digest/digest.js';
import type { CallOptions, Descriptor } from '../../distribution/types.js';

export interface BlobDescriptorService {
  /** The cached descriptor, or undefined on a miss (a miss is not an error). */
  get(digest: Digest, opts?: CallOptions): Promise<Descriptor | undefined>;
  set(digest: Digest, descriptor: Descriptor, opts?: CallOptions): Promise<void>;
  /** Forget the digest in this scope (repository: its membership; global: the descriptor). */
  clear(digest: Digest, opts?: CallOptions): Promise<void>;
}

export interface BlobDescriptorCacheProvider extends BlobDescriptorService {
  /** The cache as seen from one repository. */
  repositoryScoped(repository: string): BlobDescriptorService;
  /** Release connections and timers. */
  close?(): Promise<void>;
}

/** Callbacks for metrics: the cache reports its hits and misses without knowing about Prometheus. */
export interface CacheObserver {
  hit?(cache: string): void;
  miss?(cache: string): void;
  error?(cache: string, err: unknown): void;
}
