/**
 * Manifests of a proxied repository. By digest: from storage when cached, else fetched once
 * (concurrent requests share the fetch), checked against the digest, validated, stored and
 * scheduled for expiry. Tags are resolved by ProxyTagService, which uses `fetchTag` when the
 * upstream's HEAD does not name a digest. Writes are refused.
 */
import { algorithmOf, digestOf, parseDigest, type Digest } from '../digest/digest.js';
import { ManifestUnknownError, UnsupportedError } from '../distribution/errors.js';
import type { ManifestGetOptions, ManifestService } from '../distribution/services.js';
import type { CallOptions } from '../distribution/types.js';
import { BadContentError } from '../client/errors.js';
import { contentTypeMediaType, parseManifest } from '../manifest/manifest.js';
import { isManifestMediaType } from '../manifest/media-types.js';
import type { PullThroughCache } from './pull-through.js';
import { clientError, isNotFound } from './upstream-errors.js';
import type { Upstream } from './upstream.js';
import { waitFor } from '../util/wait-for.js';

export class ProxyManifestService implements ManifestService {
  constructor(
    private readonly cache: PullThroughCache,
    private readonly upstream: Upstream,
    private readonly local: ManifestService,
    readonly repository: string,
    private readonly remoteName: string,
  ) {}

  async exists(digest: Digest, opts?: CallOptions): Promise<boolean> {
    if (await this.local.exists(digest, opts)) return true;
    try {
      await this.upstream.client.headManifest(this.remoteName, digest, opts);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw clientError(err, { kind: 'manifest', reference: digest }, this.upstream.url);
    }
  }

  async get(digest: Digest, opts?: ManifestGetOptions): Promise<Buffer> {
    if (await this.local.exists(digest, opts)) {
      try {
        return await this.local.get(digest, opts);
      } catch (err) {
        if (!(err instanceof ManifestUnknownError)) throw err;
      }
    }
    try {
      return await this.fetchDigest(digest, opts);
    } catch (err) {
      throw clientError(err, { kind: 'manifest', reference: digest }, this.upstream.url);
    }
  }

  /** Whether storage holds the manifest (no upstream call). */
  cached(digest: Digest, opts?: CallOptions): Promise<boolean> {
    return this.local.exists(digest, opts);
  }

  /**
   * Fetch by digest from the upstream and store it; concurrent callers share one fetch. Upstream
   * failures come out as they are (see upstream-errors.ts to map them).
   */
  fetchDigest(digest: Digest, opts?: CallOptions): Promise<Buffer> {
    const run = this.cache.singleFlight(`manifest ${this.repository}@${digest}`, async () => {
      const m = await this.upstream.client.getManifest(this.remoteName, digest);
      const actual = digestOf(m.bytes, algorithmOf(digest));
      if (actual !== digest) throw new BadContentError(`upstream sent a manifest of digest ${actual} for ${digest}`);
      await this.store(m.bytes, digest, m.mediaType);
      return m.bytes;
    });
    return waitFor(run, opts?.signal);
  }

  /** Fetch by tag (for upstreams whose HEAD names no digest), store, and answer the digest. */
  fetchTag(tag: string, opts?: CallOptions): Promise<Digest> {
    const run = this.cache.singleFlight(`manifest ${this.repository}:${tag}`, async () => {
      const m = await this.upstream.client.getManifest(this.remoteName, tag);
      let algorithm: 'sha256' | 'sha512' = 'sha256';
      if (m.digest) {
        try {
          algorithm = parseDigest(m.digest).algorithm;
        } catch {
          // an unusable header: compute sha256 ourselves
        }
      }
      const digest = digestOf(m.bytes, algorithm);
      if (m.digest && m.digest !== digest && algorithm === algorithmOf(digest)) {
        throw new BadContentError(`upstream sent a manifest of digest ${digest} for tag ${tag}, announced as ${m.digest}`);
      }
      await this.store(m.bytes, digest, m.mediaType);
      return digest;
    });
    return waitFor(run, opts?.signal);
  }

  private async store(bytes: Buffer, digest: Digest, contentType: string | undefined): Promise<void> {
    const headerType = contentTypeMediaType(contentType);
    const manifest = parseManifest(bytes, headerType !== undefined && isManifestMediaType(headerType) ? headerType : undefined);
    await this.local.put(bytes, { algorithm: algorithmOf(digest), mediaType: manifest.mediaType });
    this.cache.schedule(this.upstream, this.repository, digest, 'manifest');
  }

  put(): Promise<Digest> {
    return Promise.reject(this.refusal());
  }

  delete(): Promise<void> {
    return Promise.reject(this.refusal());
  }

  enumerate(opts?: CallOptions): Promise<Digest[]> {
    return this.local.enumerate(opts);
  }

  private refusal(): UnsupportedError {
    return new UnsupportedError(`${this.repository} is a pull-through cache of ${this.upstream.url}: it does not accept writes`);
  }
}
