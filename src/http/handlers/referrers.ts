/**
 * GET /v2/<name>/referrers/<digest>: an OCI index of the repository's manifests whose `subject` is
 * the digest, optionally filtered by `artifactType`. Found by reading the repository's manifests,
 * so it also sees referrers pushed through the reference implementation.
 */
import { parseDigest, type Digest } from '../../digest/digest.js';
import { effectiveArtifactType, parseManifest } from '../../manifest/manifest.js';
import { MEDIA_TYPE_OCI_INDEX } from '../../manifest/media-types.js';
import { openRepository, type Handler } from '../app.js';
import { sendJSON } from '../respond.js';

interface ReferrerDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const READ_CONCURRENCY = 8;

export const handleReferrers: Handler = async (app, ctx) => {
  const { digest: subject } = parseDigest(ctx.match.ref ?? '');
  const repo = openRepository(app, ctx, ctx.match.name ?? '');
  const opts = { signal: ctx.signal };
  const artifactType = ctx.query.get('artifactType');

  const digests = await repo.manifests.enumerate(opts);
  const found: ReferrerDescriptor[] = [];
  for (let i = 0; i < digests.length; i += READ_CONCURRENCY) {
    const batch = digests.slice(i, i + READ_CONCURRENCY);
    const bodies = await Promise.all(batch.map((d) => repo.manifests.get(d, opts).catch(() => undefined)));
    bodies.forEach((body, j) => {
      if (!body) return;
      let m;
      try {
        m = parseManifest(body, undefined);
      } catch {
        return;
      }
      if (m.subject?.digest !== subject) return;
      const entry: ReferrerDescriptor = { mediaType: m.mediaType, digest: batch[j]!, size: body.length };
      const type = effectiveArtifactType(m);
      if (type !== undefined) entry.artifactType = type;
      if (m.annotations && Object.keys(m.annotations).length > 0) entry.annotations = m.annotations;
      found.push(entry);
    });
  }
  const manifests = artifactType ? found.filter((d) => d.artifactType === artifactType) : found;
  manifests.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const headers: Record<string, string> = { 'Content-Type': MEDIA_TYPE_OCI_INDEX };
  if (artifactType) headers['OCI-Filters-Applied'] = 'artifactType';
  const body = { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests };
  sendJSON(ctx.res, 200, body, headers, ctx.method === 'HEAD');
};
