/**
 * Blob uploads: POST (start, monolithic, cross-repository mount), PATCH (append a chunk), GET
 * (status), PUT (finish), DELETE (cancel). Request bodies stream straight into storage.
 */
import { parseDigest } from '../../digest/digest.js';
import { BlobUploadInvalidError, RangeInvalidError } from '../../distribution/errors.js';
import { isValidRepositoryName } from '../../reference/reference.js';
import type { BlobUploadSession } from '../../distribution/services.js';
import { openRepository, type AppOptions, type Handler } from '../app.js';
import { headerValue, type RequestContext } from '../context.js';
import { HttpError } from '../errors.js';
import { requestBody } from '../native-body.js';
import { sendEmpty } from '../respond.js';

export const handleUploadStart: Handler = async (app, ctx) => {
  const name = ctx.match.name ?? '';
  const repo = openRepository(app, ctx, name);
  const opts = { signal: ctx.signal };

  const mount = ctx.query.get('mount');
  const from = ctx.query.get('from');
  if (mount !== null && from !== null) {
    const { digest } = parseDigest(mount);
    // A source we can't use (bad name, no blob) means an ordinary upload instead, as the spec allows.
    if (isValidRepositoryName(from) && from !== name && (await mountAllowed(app, ctx, from))) {
      const mounted = await repo.blobs.mount(openRepository(app, ctx, from).blobs, digest, opts);
      if (mounted) {
        sendEmpty(ctx.res, 201, { Location: ctx.url(`/v2/${name}/blobs/${digest}`), 'Docker-Content-Digest': digest });
        return;
      }
    }
  }

  const digestParam = ctx.query.get('digest');
  if (digestParam !== null) {
    const { digest } = parseDigest(digestParam);
    const upload = await repo.blobs.createUpload(opts);
    try {
      await upload.append(requestBody(ctx.req, ctx.res), { ...opts, final: true });
    } catch (err) {
      await upload.cancel().catch(() => undefined);
      throw err;
    }
    const descriptor = await upload.commit(digest, opts);
    sendEmpty(ctx.res, 201, { Location: ctx.url(`/v2/${name}/blobs/${descriptor.digest}`), 'Docker-Content-Digest': descriptor.digest });
    return;
  }

  const upload = await repo.blobs.createUpload(opts);
  sendEmpty(ctx.res, 202, uploadHeaders(app, ctx, upload));
};

export const handleUpload: Handler = async (app, ctx) => {
  const name = ctx.match.name ?? '';
  const id = ctx.match.ref ?? '';
  const stateToken = ctx.query.get('_state');
  if (stateToken !== null) {
    const state = app.uploadState.unpack(stateToken);
    if (!state || state.name !== name || state.uuid !== id) throw new BlobUploadInvalidError('upload state is invalid or does not match the upload');
  }
  const repo = openRepository(app, ctx, name);
  const opts = { signal: ctx.signal };
  const upload = await repo.blobs.getUpload(id, opts);

  switch (ctx.method) {
    case 'GET':
    case 'HEAD':
      sendEmpty(ctx.res, 204, uploadHeaders(app, ctx, upload));
      return;
    case 'DELETE':
      await upload.cancel();
      sendEmpty(ctx.res, 204);
      return;
    case 'PATCH':
      checkChunkRange(app, ctx, upload);
      await upload.append(requestBody(ctx.req, ctx.res), opts);
      sendEmpty(ctx.res, 202, uploadHeaders(app, ctx, upload));
      return;
    case 'PUT': {
      const digestParam = ctx.query.get('digest');
      if (digestParam === null) throw new HttpError('DIGEST_INVALID', 'the digest query parameter is required to finish an upload');
      const { digest } = parseDigest(digestParam);
      if (hasBody(ctx)) {
        checkChunkRange(app, ctx, upload);
        await upload.append(requestBody(ctx.req, ctx.res), { ...opts, final: true });
      }
      const descriptor = await upload.commit(digest, opts);
      sendEmpty(ctx.res, 201, { Location: ctx.url(`/v2/${name}/blobs/${descriptor.digest}`), 'Docker-Content-Digest': descriptor.digest });
      return;
    }
  }
};

/** Headers telling the client where its upload stands and how to continue it. */
function uploadHeaders(app: AppOptions, ctx: RequestContext, upload: BlobUploadSession): Record<string, string> {
  const state = app.uploadState.pack({ name: upload.repository, uuid: upload.id, offset: upload.size, startedAt: upload.startedAt.toISOString() });
  return {
    Location: ctx.url(`/v2/${upload.repository}/blobs/uploads/${upload.id}?_state=${state}`),
    Range: `0-${Math.max(0, upload.size - 1)}`,
    'Docker-Upload-UUID': upload.id,
  };
}

/** A chunk must start where the upload ends; otherwise 416 and the upload stays as it was. */
function checkChunkRange(app: AppOptions, ctx: RequestContext, upload: BlobUploadSession): void {
  const header = headerValue(ctx.req.headers['content-range']);
  if (!header) return;
  const m = /^(?:bytes[= ])?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(header.trim());
  if (!m) throw new HttpError('RANGE_INVALID', `malformed Content-Range ${JSON.stringify(header.slice(0, 100))}`, undefined, 416, uploadHeaders(app, ctx, upload));
  const start = Number(m[1]);
  const end = Number(m[2]);
  const length = headerValue(ctx.req.headers['content-length']);
  const lengthMismatch = length !== undefined && Number(length) !== end - start + 1;
  if (start !== upload.size || end < start || lengthMismatch) {
    const err = new RangeInvalidError(upload.size, { size: upload.size, start, end });
    throw new HttpError('RANGE_INVALID', err.message, err.detail, 416, uploadHeaders(app, ctx, upload));
  }
}

function hasBody(ctx: RequestContext): boolean {
  const length = headerValue(ctx.req.headers['content-length']);
  if (length !== undefined) return Number(length) > 0;
  return ctx.req.headers['transfer-encoding'] !== undefined;
}

/** Cross-repository mounts need pull access to the source; the auth layer decides (issue: auth). */
async function mountAllowed(app: AppOptions, ctx: RequestContext, from: string): Promise<boolean> {
  return app.canMountFrom ? app.canMountFrom(ctx, from) : true;
}
