/**
 * GET/HEAD/PUT/DELETE /v2/<name>/manifests/<tag|digest>: content negotiation on the way out,
 * parsing, reference checks and multi-tagging on the way in.
 */
import { digestOf, type Digest } from '../../digest/digest.js';
import { BlobUnknownError, ManifestBlobUnknownError, ManifestUnknownError } from '../../distribution/errors.js';
import { MAX_MANIFEST_BYTES, parseManifest, storedManifestMediaType, type Manifest } from '../../manifest/manifest.js';
import { negotiateFallbackChild, negotiateManifest, selectPlatformChild } from '../../manifest/negotiate.js';
import { validateURLs, type URLPolicy } from '../../manifest/urls.js';
import { parseReference, parseTag, type Tag } from '../../reference/reference.js';
import type { Repository } from '../../distribution/services.js';
import { openRepository, type Handler } from '../app.js';
import { headerValue, type RequestContext } from '../context.js';
import { HttpError } from '../errors.js';
import { etagFor, notModified, readBody, sendEmpty } from '../respond.js';

export interface ManifestPolicy {
  urls: URLPolicy;
}

export const handleManifest: Handler = async (app, ctx) => {
  const repo = openRepository(app, ctx, ctx.match.name ?? '');
  switch (ctx.method) {
    case 'GET':
    case 'HEAD':
      return getManifest(repo, ctx);
    case 'PUT':
      return putManifest(repo, ctx, app.manifestPolicy);
    case 'DELETE':
      if (!app.deleteEnabled) throw new HttpError('UNSUPPORTED', 'deletion is disabled: set storage.delete.enabled');
      return deleteManifest(repo, ctx);
  }
};

async function getManifest(repo: Repository, ctx: RequestContext): Promise<void> {
  const opts = { signal: ctx.signal };
  const ref = parseReference(ctx.match.ref ?? '');
  let digest: Digest = ref.kind === 'tag' ? await repo.tags.get(ref.tag, opts) : ref.digest;
  let body = await repo.manifests.get(digest, { ...opts, tag: ref.kind === 'tag' ? ref.tag : undefined });
  let mediaType: string = storedManifestMediaType(body);

  const accept = ctx.req.headers.accept;
  // No Accept header at all: serve what is stored (curl, simple scripts); clients that negotiate send one.
  if (accept !== undefined) {
    const decision = negotiateManifest(accept, mediaType, ref.kind === 'tag');
    if (decision.action === 'refuse') throw new HttpError(decision.code, decision.message, undefined, decision.status);
    if (decision.action === 'fallback') {
      const list = parseManifest(body, undefined);
      const child = list.kind === 'index' ? selectPlatformChild(list.manifests, decision.platform) : undefined;
      if (!child) throw new ManifestUnknownError(ctx.match.ref ?? '');
      body = await repo.manifests.get(child.digest, opts);
      mediaType = storedManifestMediaType(body);
      const childDecision = negotiateFallbackChild(accept, mediaType);
      if (childDecision.action === 'refuse') throw new HttpError(childDecision.code, childDecision.message, undefined, childDecision.status);
      digest = child.digest;
    }
  }

  const headers: Record<string, string> = {
    'Content-Type': mediaType,
    'Content-Length': String(body.length),
    'Docker-Content-Digest': digest,
    ETag: etagFor(digest),
  };
  if (ref.kind === 'digest') headers['Cache-Control'] = 'max-age=31536000';
  if (notModified(headerValue(ctx.req.headers['if-none-match']), digest)) {
    delete headers['Content-Length'];
    ctx.res.writeHead(304, headers);
    ctx.res.end();
    return;
  }
  ctx.res.writeHead(200, headers);
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

async function putManifest(repo: Repository, ctx: RequestContext, policy: ManifestPolicy): Promise<void> {
  const opts = { signal: ctx.signal };
  const ref = parseReference(ctx.match.ref ?? '');
  // Every tag is checked before anything is stored.
  const extraTags: Tag[] = ctx.query.getAll('tag').map((t) => parseTag(t));
  const declared = Number(headerValue(ctx.req.headers['content-length']) ?? 0);
  if (declared > MAX_MANIFEST_BYTES) throw tooLarge();
  const body = await readBody(ctx.req, MAX_MANIFEST_BYTES);
  if (!body) throw tooLarge();

  const manifest = parseManifest(body, headerValue(ctx.req.headers['content-type']));
  const algorithm = ref.kind === 'digest' ? ref.algorithm : 'sha256';
  const digest = digestOf(body, algorithm);
  if (ref.kind === 'digest' && ref.digest !== digest) {
    throw new HttpError('DIGEST_INVALID', 'manifest digest did not match the digest in the URL', { expected: ref.digest, actual: digest });
  }
  for (const d of manifest.urlChecks()) validateURLs(d, policy.urls);
  await checkReferences(repo, manifest, ctx.signal);

  await repo.manifests.put(body, { ...opts, algorithm, mediaType: manifest.mediaType });
  const tags = ref.kind === 'tag' ? [ref.tag, ...extraTags] : extraTags;
  for (const tag of new Set(tags)) await repo.tags.tag(tag, digest, opts);

  const headers: Record<string, string> = {
    Location: ctx.url(`/v2/${repo.name}/manifests/${digest}`),
    'Docker-Content-Digest': digest,
  };
  if (manifest.subject) headers['OCI-Subject'] = manifest.subject.digest;
  sendEmpty(ctx.res, 201, headers);
}

function tooLarge(): HttpError {
  return new HttpError('MANIFEST_INVALID', `manifest exceeds the ${MAX_MANIFEST_BYTES}-byte limit`, { limit: MAX_MANIFEST_BYTES }, 413);
}

/** Everything the manifest references must already be in the repository. */
async function checkReferences(repo: Repository, manifest: Manifest, signal: AbortSignal): Promise<void> {
  const refs = manifest.references();
  const missing = await Promise.all(
    refs.map(async (d) => {
      if (manifest.kind === 'index') return (await repo.manifests.exists(d.digest, { signal })) ? undefined : d.digest;
      try {
        await repo.blobs.stat(d.digest, { signal });
        return undefined;
      } catch (err) {
        if (err instanceof BlobUnknownError) return d.digest;
        throw err;
      }
    }),
  );
  const first = missing.find((d) => d !== undefined);
  if (first) throw new ManifestBlobUnknownError(first);
}

async function deleteManifest(repo: Repository, ctx: RequestContext): Promise<void> {
  const opts = { signal: ctx.signal };
  const ref = parseReference(ctx.match.ref ?? '');
  if (ref.kind === 'tag') {
    await repo.tags.untag(ref.tag, opts);
  } else {
    await repo.manifests.delete(ref.digest, opts);
    for (const tag of await repo.tags.lookup(ref.digest, opts)) await repo.tags.untag(tag, opts).catch(() => undefined);
  }
  sendEmpty(ctx.res, 202);
}
