/**
 * The notification listener: a Repository decorator that reports what the wrapped services did,
 * after they did it successfully. Handlers know nothing about it.
 *
 * When each event is emitted (checked against docker-registry 2.8.2):
 *   manifest push   ManifestService.put; one event per tag the request applies (TagService.tag
 *                   calls that follow the put in the same request), or one untagged event when
 *                   the manifest is pushed by digest without tags
 *   manifest pull   ManifestService.get on the manifest route, GET and HEAD alike (the reference
 *                   reports HEAD as a pull too; `request.method` tells them apart), except when
 *                   the answer is 304 Not Modified, where the reference does not fetch it either
 *   blob push       BlobUploadSession.commit (chunked and monolithic uploads)
 *   blob pull       on the blob route: BlobService.open for GET, the redirect for GET when storage
 *                   redirects, BlobService.stat for HEAD and for a GET answered 304 (the
 *                   reference serves those through the same code path and reports them)
 *   blob mount      BlobService.mount, with `fromRepository`
 *   deletes         ManifestService.delete, BlobService.delete, TagService.untag
 *
 * Pull events are limited to the manifest and blob routes: the referrers listing reads every
 * manifest of a repository, and that is not a pull of each.
 */
import type { Digest } from '../digest/digest.js';
import type { BlobService, BlobUploadSession, ManifestGetOptions, ManifestPutOptions, ManifestService, Repository, TagService } from '../distribution/services.js';
import type { BlobContent, CallOptions, Descriptor } from '../distribution/types.js';
import { headerValue, type RequestContext } from '../http/context.js';
import { notModified } from '../http/respond.js';
import { storedManifestMediaType } from '../manifest/manifest.js';
import { RequestBridge, type BridgeOptions, type ManifestFacts } from './bridge.js';

/** The decorator the installer registers: `(repo, ctx) => Repository`. */
export function notifyingRepository(opts: BridgeOptions): (repo: Repository, ctx: RequestContext) => Repository {
  return (repo, ctx) => new RepositoryListener(repo, ctx, new RequestBridge(opts, ctx));
}

class RepositoryListener implements Repository {
  readonly blobs: BlobService;
  readonly manifests: ManifestService;
  readonly tags: TagService;
  /** Manifests put by this request that still wait for the tags the request applies. */
  private readonly pendingPush = new Map<string, { facts: ManifestFacts; tagged: boolean }>();

  constructor(
    private readonly inner: Repository,
    private readonly ctx: RequestContext,
    private readonly bridge: RequestBridge,
  ) {
    this.blobs = new BlobListener(inner.blobs, ctx, bridge);
    this.manifests = new ManifestListener(inner.manifests, ctx, bridge, this);
    this.tags = new TagListener(inner.tags, bridge, this);
  }

  get name(): string {
    return this.inner.name;
  }

  /** A manifest was stored: report it now, or once the request's tags are applied. */
  manifestPut(facts: ManifestFacts): void {
    if (requestedTags(this.ctx) === 0) {
      this.bridge.manifestPushed(this.name, facts);
      return;
    }
    this.pendingPush.set(facts.digest, { facts, tagged: false });
    // Tagging failed after the manifest was stored: it was still pushed.
    this.ctx.res.once('close', () => {
      const pending = this.pendingPush.get(facts.digest);
      if (pending && !pending.tagged) this.bridge.manifestPushed(this.name, facts);
      this.pendingPush.delete(facts.digest);
    });
  }

  tagged(tag: string, digest: string): void {
    const pending = this.pendingPush.get(digest);
    if (!pending) return;
    pending.tagged = true;
    this.bridge.manifestPushed(this.name, pending.facts, tag);
  }
}

/** How many tags a manifest PUT asks for: the reference in the URL when it is a tag, plus `?tag=`. */
function requestedTags(ctx: RequestContext): number {
  if (ctx.match.route !== 'manifest' || ctx.method !== 'PUT') return 0;
  const byTag = ctx.match.ref !== undefined && !ctx.match.ref.includes(':') ? 1 : 0;
  return byTag + ctx.query.getAll('tag').length;
}

function isPullOf(ctx: RequestContext, route: 'manifest' | 'blob'): boolean {
  return ctx.match.route === route && (ctx.method === 'GET' || ctx.method === 'HEAD');
}

class ManifestListener implements ManifestService {
  constructor(
    private readonly inner: ManifestService,
    private readonly ctx: RequestContext,
    private readonly bridge: RequestBridge,
    private readonly repo: RepositoryListener,
  ) {}

  get repository(): string {
    return this.inner.repository;
  }

  exists(digest: Digest, opts?: CallOptions): Promise<boolean> {
    return this.inner.exists(digest, opts);
  }

  async get(digest: Digest, opts?: ManifestGetOptions): Promise<Buffer> {
    const body = await this.inner.get(digest, opts);
    if (isPullOf(this.ctx, 'manifest') && !notModified(headerValue(this.ctx.req.headers['if-none-match']), digest)) {
      this.bridge.manifestPulled(this.repository, { digest, mediaType: storedManifestMediaType(body), content: body }, opts?.tag);
    }
    return body;
  }

  async put(content: Buffer, opts?: ManifestPutOptions): Promise<Digest> {
    const digest = await this.inner.put(content, opts);
    this.repo.manifestPut({ digest, mediaType: opts?.mediaType ?? storedManifestMediaType(content), content });
    return digest;
  }

  async delete(digest: Digest, opts?: CallOptions): Promise<void> {
    await this.inner.delete(digest, opts);
    this.bridge.manifestDeleted(this.repository, digest);
  }

  enumerate(opts?: CallOptions): Promise<Digest[]> {
    return this.inner.enumerate(opts);
  }
}

class TagListener implements TagService {
  constructor(
    private readonly inner: TagService,
    private readonly bridge: RequestBridge,
    private readonly repo: RepositoryListener,
  ) {}

  get repository(): string {
    return this.inner.repository;
  }

  get(tag: string, opts?: CallOptions): Promise<Digest> {
    return this.inner.get(tag, opts);
  }

  async tag(tag: string, digest: Digest, opts?: CallOptions): Promise<void> {
    await this.inner.tag(tag, digest, opts);
    this.repo.tagged(tag, digest);
  }

  async untag(tag: string, opts?: CallOptions): Promise<void> {
    await this.inner.untag(tag, opts);
    this.bridge.tagDeleted(this.repository, tag);
  }

  all(opts?: CallOptions): Promise<string[] | undefined> {
    return this.inner.all(opts);
  }

  lookup(digest: Digest, opts?: CallOptions): Promise<string[]> {
    return this.inner.lookup(digest, opts);
  }
}

class BlobListener implements BlobService {
  constructor(
    private readonly inner: BlobService,
    private readonly ctx: RequestContext,
    private readonly bridge: RequestBridge,
  ) {}

  get repository(): string {
    return this.inner.repository;
  }

  /** Is this call the blob the request itself is about (not a lookup made on the side)? */
  private isRequested(digest: Digest): boolean {
    return isPullOf(this.ctx, 'blob') && this.ctx.match.ref === digest;
  }

  async stat(digest: Digest, opts?: CallOptions): Promise<Descriptor> {
    const desc = await this.inner.stat(digest, opts);
    if (this.isRequested(digest)) {
      const cached = notModified(headerValue(this.ctx.req.headers['if-none-match']), digest);
      if (this.ctx.method === 'HEAD' || cached) this.bridge.blobPulled(this.repository, desc);
    }
    return desc;
  }

  async open(digest: Digest, opts?: CallOptions & { offset?: number }): Promise<BlobContent> {
    const content = await this.inner.open(digest, opts);
    if (this.isRequested(digest) && this.ctx.method === 'GET') this.bridge.blobPulled(this.repository, content.descriptor);
    return content;
  }

  async redirectURL(digest: Digest, method: 'GET' | 'HEAD', opts?: CallOptions): Promise<string | undefined> {
    const url = await this.inner.redirectURL(digest, method, opts);
    if (url !== undefined && method === 'GET' && this.isRequested(digest) && this.ctx.method === 'GET') {
      this.bridge.blobPulled(this.repository, await this.inner.stat(digest, opts));
    }
    return url;
  }

  async delete(digest: Digest, opts?: CallOptions): Promise<void> {
    await this.inner.delete(digest, opts);
    this.bridge.blobDeleted(this.repository, digest);
  }

  async mount(from: BlobService, digest: Digest, opts?: CallOptions): Promise<Descriptor | undefined> {
    const desc = await this.inner.mount(from, digest, opts);
    if (desc) this.bridge.blobMounted(this.repository, desc, from.repository);
    return desc;
  }

  async createUpload(opts?: CallOptions): Promise<BlobUploadSession> {
    return new UploadListener(await this.inner.createUpload(opts), this.bridge);
  }

  async getUpload(id: string, opts?: CallOptions): Promise<BlobUploadSession> {
    return new UploadListener(await this.inner.getUpload(id, opts), this.bridge);
  }
}

class UploadListener implements BlobUploadSession {
  constructor(
    private readonly inner: BlobUploadSession,
    private readonly bridge: RequestBridge,
  ) {}

  get repository(): string {
    return this.inner.repository;
  }

  get id(): string {
    return this.inner.id;
  }

  get startedAt(): Date {
    return this.inner.startedAt;
  }

  get size(): number {
    return this.inner.size;
  }

  append(source: AsyncIterable<Uint8Array>, opts?: CallOptions): Promise<number> {
    return this.inner.append(source, opts);
  }

  async commit(digest: string, opts?: CallOptions & { size?: number }): Promise<Descriptor> {
    const desc = await this.inner.commit(digest, opts);
    this.bridge.blobPushed(this.repository, desc);
    return desc;
  }

  cancel(): Promise<void> {
    return this.inner.cancel();
  }
}
