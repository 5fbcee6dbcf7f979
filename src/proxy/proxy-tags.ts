/**
 * Tags of a proxied repository. A tag is resolved at the upstream every time (a HEAD, which
 * Docker Hub does not count against pull limits); the manifest it names is fetched only when it
 * is not cached, and the local tag follows. When the upstream cannot answer (down, timing out,
 * failing, rate limiting) the cached tag is served and the fallback logged; when it says the tag
 * does not exist, that is the answer. Tag lists come from the upstream, falling back to the
 * cached tags the same way.
 */
import { UnreachableError } from '../client/http.js';
import { parseDigest, type Digest } from '../digest/digest.js';
import { ManifestUnknownError, UnsupportedError } from '../distribution/errors.js';
import type { TagService } from '../distribution/services.js';
import type { CallOptions } from '../distribution/types.js';
import type { ProxyManifestService } from './proxy-manifests.js';
import type { PullThroughCache } from './pull-through.js';
import { cacheMayAnswer, clientError, isNotFound } from './upstream-errors.js';
import type { Upstream } from './upstream.js';

export class ProxyTagService implements TagService {
  constructor(
    private readonly cache: PullThroughCache,
    private readonly upstream: Upstream,
    private readonly local: TagService,
    private readonly manifests: ProxyManifestService,
    readonly repository: string,
    private readonly remoteName: string,
  ) {}

  async get(tag: string, opts?: CallOptions): Promise<Digest> {
    if (this.upstream.recentlyUnreachable) {
      const cached = await this.cachedTag(tag, opts);
      if (cached) return this.fallback(tag, cached, 'the upstream did not answer moments ago');
    }
    try {
      return await this.resolve(tag, opts);
    } catch (err) {
      if (err instanceof UnreachableError) this.upstream.noteUnreachable();
      if (isNotFound(err)) throw new ManifestUnknownError(tag);
      if (cacheMayAnswer(err)) {
        const cached = await this.cachedTag(tag, opts);
        if (cached) return this.fallback(tag, cached, (err as Error).message);
      }
      throw clientError(err, { kind: 'manifest', reference: tag }, this.upstream.url);
    }
  }

  private fallback(tag: string, digest: Digest, reason: string): Digest {
    this.cache.logger.warn(
      { repository: this.repository, tag, digest, upstream: this.upstream.url, reason },
      'proxy: upstream unavailable; serving the cached manifest',
    );
    return digest;
  }

  /** The locally tagged digest, when its manifest is cached too. */
  private async cachedTag(tag: string, opts?: CallOptions): Promise<Digest | undefined> {
    const digest = await this.localTag(tag, opts);
    return digest && (await this.manifests.cached(digest, opts)) ? digest : undefined;
  }

  /** Ask the upstream where the tag points, make sure that manifest is cached, move the local tag. */
  private async resolve(tag: string, opts?: CallOptions): Promise<Digest> {
    const head = await this.upstream.client.headManifest(this.remoteName, tag, opts);
    let digest = usableDigest(head.digest);
    if (digest) {
      if (!(await this.manifests.cached(digest, opts))) await this.manifests.fetchDigest(digest, opts);
    } else {
      digest = await this.manifests.fetchTag(tag, opts);
    }
    if ((await this.localTag(tag, opts)) !== digest) await this.local.tag(tag, digest, opts);
    return digest;
  }

  private async localTag(tag: string, opts?: CallOptions): Promise<Digest | undefined> {
    try {
      return await this.local.get(tag, opts);
    } catch (err) {
      if (err instanceof ManifestUnknownError) return undefined;
      throw err;
    }
  }

  async all(opts?: CallOptions): Promise<string[] | undefined> {
    try {
      if (this.upstream.recentlyUnreachable) {
        const cached = await this.local.all(opts);
        if (cached) return cached;
      }
      const tags = await this.upstream.client.listTags(this.remoteName, opts);
      return [...new Set(tags)].sort();
    } catch (err) {
      if (err instanceof UnreachableError) this.upstream.noteUnreachable();
      if (isNotFound(err)) return undefined;
      if (cacheMayAnswer(err)) {
        const cached = await this.local.all(opts);
        if (cached) {
          this.cache.logger.warn(
            { repository: this.repository, upstream: this.upstream.url, reason: (err as Error).message },
            'proxy: upstream unavailable; serving the cached tag list',
          );
          return cached;
        }
      }
      throw clientError(err, { kind: 'tags', name: this.repository }, this.upstream.url);
    }
  }

  lookup(digest: Digest, opts?: CallOptions): Promise<string[]> {
    return this.local.lookup(digest, opts);
  }

  tag(): Promise<void> {
    return Promise.reject(this.refusal());
  }

  untag(): Promise<void> {
    return Promise.reject(this.refusal());
  }

  private refusal(): UnsupportedError {
    return new UnsupportedError(`${this.repository} is a pull-through cache of ${this.upstream.url}: it does not accept writes`);
  }
}

function usableDigest(value: string | undefined): Digest | undefined {
  if (!value) return undefined;
  try {
    return parseDigest(value.trim()).digest;
  } catch {
    return undefined;
  }
}
