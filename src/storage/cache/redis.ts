/**
 * The blob descriptor cache in Redis (`storage.cache.blobdescriptor: redis`), so several registry
 * instances share what they learned about blobs.
 *
 * Keys follow the reference's layout, so a reference registry and berth over the same storage can
 * share one Redis database:
 *
 *   blobs::<digest>                          hash {digest, size, mediatype}: the global descriptor
 *   repository::<name>::blobs                set of digests the repository may serve (membership)
 *   repository::<name>::blobs::<digest>      hash {mediatype}: the repository's own media type
 *
 * A repository lookup answers only when the digest is a member and the global descriptor is known.
 * Deleting a blob from a repository removes its membership and its media type; clearing globally
 * removes the descriptor, which makes every repository miss.
 *
 * Every call goes through RedisAvailability: while Redis is away the cache fails at once and the
 * caller serves from storage.
 */
import type { Logger } from 'pino';
import type { Digest } from '../../digest/digest.js';
import type { CallOptions, Descriptor } from '../../distribution/types.js';
import type { BlobDescriptorCacheProvider, BlobDescriptorService } from './cache.js';
import { RedisAvailability } from './redis-availability.js';
import type { RedisClient } from './redis-client.js';

const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

export interface RedisCacheOptions {
  /** Prepended to every key (tests; the reference uses none). */
  prefix?: string;
  logger?: Logger;
  /** Told about outages and recoveries (the health check). */
  onAvailabilityChange?: (err: Error | undefined) => void;
  /** Probe interval while Redis is away. */
  probeIntervalMs?: number;
}

function checkSignal(opts?: CallOptions): void {
  opts?.signal?.throwIfAborted();
}

export class RedisBlobDescriptorCache implements BlobDescriptorCacheProvider {
  readonly availability: RedisAvailability;
  private readonly prefix: string;
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    opts: RedisCacheOptions = {},
  ) {
    this.prefix = opts.prefix ?? '';
    this.availability = new RedisAvailability(client, {
      logger: opts.logger,
      onChange: opts.onAvailabilityChange,
      probeIntervalMs: opts.probeIntervalMs,
    });
  }

  blobKey(digest: Digest): string {
    return `${this.prefix}blobs::${digest}`;
  }

  membershipKey(repository: string): string {
    return `${this.prefix}repository::${repository}::blobs`;
  }

  repositoryBlobKey(repository: string, digest: Digest): string {
    return `${this.prefix}repository::${repository}::blobs::${digest}`;
  }

  async get(digest: Digest, opts?: CallOptions): Promise<Descriptor | undefined> {
    checkSignal(opts);
    return this.availability.run(async () => this.decode(digest, await this.client.hmget(this.blobKey(digest), 'digest', 'size', 'mediatype')));
  }

  async set(digest: Digest, descriptor: Descriptor, opts?: CallOptions): Promise<void> {
    checkSignal(opts);
    await this.availability.run(() =>
      this.client.hset(this.blobKey(digest), 'digest', descriptor.digest, 'size', String(descriptor.size), 'mediatype', descriptor.mediaType),
    );
  }

  async clear(digest: Digest, opts?: CallOptions): Promise<void> {
    checkSignal(opts);
    const key = this.blobKey(digest);
    await this.availability.invalidate(`del ${key}`, () => this.client.del(key));
  }

  repositoryScoped(repository: string): BlobDescriptorService {
    const membership = this.membershipKey(repository);
    return {
      get: async (digest, opts) => {
        checkSignal(opts);
        return this.availability.run(async () => {
          // Three independent reads, sent together (auto-pipelining): one round trip.
          const [member, fields, mediaType] = await Promise.all([
            this.client.sismember(membership, digest),
            this.client.hmget(this.blobKey(digest), 'digest', 'size', 'mediatype'),
            this.client.hget(this.repositoryBlobKey(repository, digest), 'mediatype'),
          ]);
          if (member !== 1) return undefined;
          const descriptor = this.decode(digest, fields);
          if (descriptor && mediaType) descriptor.mediaType = mediaType;
          return descriptor;
        });
      },
      set: async (digest, descriptor, opts) => {
        checkSignal(opts);
        const blobKey = this.blobKey(digest);
        await this.availability.run(() =>
          Promise.all([
            this.client.sadd(membership, digest),
            this.client.hset(blobKey, 'digest', descriptor.digest, 'size', String(descriptor.size)),
            // The global media type is only filled in when unknown; the repository keeps its own.
            this.client.hsetnx(blobKey, 'mediatype', descriptor.mediaType),
            this.client.hset(this.repositoryBlobKey(repository, digest), 'mediatype', descriptor.mediaType),
          ]),
        );
      },
      clear: async (digest, opts) => {
        checkSignal(opts);
        const own = this.repositoryBlobKey(repository, digest);
        await this.availability.invalidate(`srem ${membership} ${digest}`, () => Promise.all([this.client.srem(membership, digest), this.client.del(own)]));
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.availability.close();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** A descriptor from the `blobs::` hash fields; a miss when digest or size is absent, as in the reference. */
  private decode(digest: Digest, [storedDigest, size, mediaType]: (string | null)[]): Descriptor | undefined {
    if (!storedDigest || size === null || size === undefined) return undefined;
    const n = Number(size);
    if (!Number.isSafeInteger(n) || n < 0) return undefined;
    return { digest: (storedDigest || digest) as Digest, size: n, mediaType: mediaType || DEFAULT_MEDIA_TYPE };
  }
}
