/**
 * A repository decorator that feeds the transfer metrics: bytes pushed (upload chunks as the
 * upload session counts them, manifests), bytes pulled (what a GET of a blob or manifest sent,
 * counted when the response has been fully written), upload sessions and uploads in progress.
 * Nothing is wrapped around the data itself: streams go through exactly as before.
 */
import type { BlobService, BlobUploadSession, ManifestService, Repository } from '../distribution/services.js';
import type { RequestContext } from '../http/context.js';
import type { RegistryMetrics } from './metrics.js';

class MeteredUpload implements BlobUploadSession {
  constructor(
    private readonly inner: BlobUploadSession,
    private readonly metrics: RegistryMetrics,
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

  async append(source: AsyncIterable<Uint8Array>, opts?: Parameters<BlobUploadSession['append']>[1]): Promise<number> {
    const before = this.inner.size;
    this.metrics.uploadsInProgress.inc();
    try {
      return await this.inner.append(source, opts);
    } finally {
      this.metrics.uploadsInProgress.dec();
      const received = this.inner.size - before;
      if (received > 0) this.metrics.bytesPushed.inc({ kind: 'blob' }, received);
    }
  }

  async commit(digest: string, opts?: Parameters<BlobUploadSession['commit']>[1]) {
    const descriptor = await this.inner.commit(digest, opts);
    this.metrics.uploads.inc({ event: 'completed' });
    return descriptor;
  }

  async cancel(): Promise<void> {
    await this.inner.cancel();
    this.metrics.uploads.inc({ event: 'cancelled' });
  }
}

function meteredBlobs(inner: BlobService, metrics: RegistryMetrics): BlobService {
  return {
    get repository() {
      return inner.repository;
    },
    stat: (...a) => inner.stat(...a),
    open: (...a) => inner.open(...a),
    redirectURL: (...a) => inner.redirectURL(...a),
    delete: (...a) => inner.delete(...a),
    mount: (...a) => inner.mount(...a),
    createUpload: async (opts) => {
      const upload = await inner.createUpload(opts);
      metrics.uploads.inc({ event: 'started' });
      return new MeteredUpload(upload, metrics);
    },
    getUpload: async (id, opts) => new MeteredUpload(await inner.getUpload(id, opts), metrics),
  };
}

function meteredManifests(inner: ManifestService, metrics: RegistryMetrics): ManifestService {
  return {
    get repository() {
      return inner.repository;
    },
    exists: (...a) => inner.exists(...a),
    get: (...a) => inner.get(...a),
    put: async (content, opts) => {
      const digest = await inner.put(content, opts);
      metrics.bytesPushed.inc({ kind: 'manifest' }, content.length);
      return digest;
    },
    delete: (...a) => inner.delete(...a),
    enumerate: (...a) => inner.enumerate(...a),
  };
}

const PULL_KINDS: Record<string, string> = { blob: 'blob', manifest: 'manifest' };

export function repositoryMetricsDecorator(metrics: RegistryMetrics): (repo: Repository, ctx: RequestContext) => Repository {
  // A request may open several repositories (a mount); count its response once.
  const counted = new WeakSet<RequestContext>();
  return (repo, ctx) => {
    const kind = PULL_KINDS[ctx.match.route];
    if (kind && ctx.method === 'GET' && !counted.has(ctx)) {
      counted.add(ctx);
      ctx.res.once('finish', () => {
        const status = ctx.res.statusCode;
        const length = Number(ctx.res.getHeader('content-length'));
        if ((status === 200 || status === 206) && length > 0) metrics.bytesPulled.inc({ kind }, length);
      });
    }
    return { name: repo.name, blobs: meteredBlobs(repo.blobs, metrics), manifests: meteredManifests(repo.manifests, metrics), tags: repo.tags };
  };
}
