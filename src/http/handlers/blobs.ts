/** GET/HEAD/DELETE /v2/<name>/blobs/<digest>: stream a blob, with Range, ETag and redirects. */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest } from '../../digest/digest.js';
import { openRepository, type Handler } from '../app.js';
import { headerValue } from '../context.js';
import { HttpError } from '../errors.js';
import { trySendChunks } from '../chunk-response.js';
import { trySendFile } from '../file-response.js';
import { tryRelay } from '../socket-relay.js';
import { etagFor, notModified, sendEmpty } from '../respond.js';

export const handleBlob: Handler = async (app, ctx) => {
  const { digest } = parseDigest(ctx.match.ref ?? '');
  const repo = openRepository(app, ctx, ctx.match.name ?? '');
  const opts = { signal: ctx.signal };

  if (ctx.method === 'DELETE') {
    if (!app.deleteEnabled) throw new HttpError('UNSUPPORTED', 'deletion is disabled: set storage.delete.enabled');
    await repo.blobs.delete(digest, opts);
    sendEmpty(ctx.res, 202, { 'Docker-Content-Digest': digest });
    return;
  }

  const descriptor = await repo.blobs.stat(digest, opts);
  const headers: Record<string, string> = {
    'Docker-Content-Digest': digest,
    ETag: etagFor(digest),
    'Cache-Control': 'max-age=31536000',
    'Accept-Ranges': 'bytes',
    'Content-Type': descriptor.mediaType,
  };
  if (notModified(headerValue(ctx.req.headers['if-none-match']), digest)) {
    ctx.res.writeHead(304, headers);
    ctx.res.end();
    return;
  }
  if (app.redirect && ctx.method === 'GET') {
    const url = await repo.blobs.redirectURL(digest, 'GET', opts);
    if (url) {
      sendEmpty(ctx.res, 307, { Location: url, 'Docker-Content-Digest': digest });
      return;
    }
  }

  const size = descriptor.size;
  const range = parseRange(headerValue(ctx.req.headers.range), size);
  if (range === 'invalid') {
    throw new HttpError('RANGE_INVALID', 'requested range not satisfiable', { size }, 416, { 'Content-Range': `bytes */${size}` });
  }
  let status = 200;
  let start = 0;
  let length = size;
  if (range) {
    status = 206;
    start = range.start;
    length = range.end - range.start + 1;
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
  }
  headers['Content-Length'] = String(length);

  if (ctx.method === 'HEAD') {
    ctx.res.writeHead(status, headers);
    ctx.res.end();
    return;
  }
  const { body } = await repo.blobs.open(digest, { ...opts, offset: start });
  ctx.res.writeHead(status, headers);
  if (await trySendFile(ctx.res, body, length, ctx.signal)) return;
  if (await tryRelay(ctx.res, body, length, ctx.signal)) return;
  if (await trySendChunks(ctx.res, body, length, ctx.signal)) return;
  if (length === size - start) await pipeline(body, ctx.res, opts);
  else await pipeline(body, limit(length), ctx.res, opts);
};

/** Parse a single `bytes=` range; undefined for none (or one we ignore), 'invalid' for unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined; // multiple ranges or another unit: serve the whole blob
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return 'invalid';
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'invalid';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (!Number.isSafeInteger(start) || start >= size || end < start) return 'invalid';
  return { start, end };
}

/** Pass through exactly `n` bytes, then end. */
function limit(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (left <= 0) return done();
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      this.push(part);
      if (left <= 0) this.push(null);
      done();
    },
  });
}
