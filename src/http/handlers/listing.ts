/** `/v2/`, `/v2/_catalog` and `/v2/<name>/tags/list`, with `n`/`last` pagination and `Link` headers. */
import { NameUnknownError } from '../../distribution/errors.js';
import { openRepository, type Handler } from '../app.js';
import type { RequestContext } from '../context.js';
import { HttpError } from '../errors.js';
import { sendJSON } from '../respond.js';

export const handleBase: Handler = async (_app, ctx) => {
  sendJSON(ctx.res, 200, {}, {}, ctx.method === 'HEAD');
};

/** Parse `n`: undefined when absent; a non-negative integer capped by `max` (when given). */
function pageSize(ctx: RequestContext, max: number | undefined): number | undefined {
  const raw = ctx.query.get('n');
  if (raw === null || raw === '') return max;
  if (!/^\d+$/.test(raw)) throw new HttpError('PAGINATION_NUMBER_INVALID', `invalid page size n=${JSON.stringify(raw.slice(0, 50))}`, { n: raw.slice(0, 50) });
  const n = Number(raw);
  return max !== undefined ? Math.min(n, max) : n;
}

function linkHeader(ctx: RequestContext, path: string, n: number, last: string): string {
  const query = new URLSearchParams({ n: String(n), last });
  return `<${ctx.url(path)}?${query.toString()}>; rel="next"`;
}

export const handleCatalog: Handler = async (app, ctx) => {
  const n = pageSize(ctx, app.catalogMaxEntries) ?? app.catalogMaxEntries;
  const last = ctx.query.get('last') ?? undefined;
  if (n === 0) {
    sendJSON(ctx.res, 200, { repositories: [] }, {}, ctx.method === 'HEAD');
    return;
  }
  // One more than asked tells whether another page exists.
  const found = await app.namespace.repositories({ last, limit: n + 1, signal: ctx.signal });
  const page = found.slice(0, n);
  const headers: Record<string, string> = {};
  if (found.length > n) headers.Link = linkHeader(ctx, '/v2/_catalog', n, page[page.length - 1] ?? '');
  sendJSON(ctx.res, 200, { repositories: page }, headers, ctx.method === 'HEAD');
};

export const handleTags: Handler = async (app, ctx) => {
  const name = ctx.match.name ?? '';
  const repo = openRepository(app, ctx, name);
  const all = await repo.tags.all({ signal: ctx.signal });
  if (!all) throw new NameUnknownError(name);
  const last = ctx.query.get('last');
  let tags = last ? all.filter((t) => t > last) : all;
  const n = pageSize(ctx, app.maxTags > 0 ? app.maxTags : undefined);
  const headers: Record<string, string> = {};
  if (n !== undefined && tags.length > n) {
    tags = tags.slice(0, n);
    if (n > 0) headers.Link = linkHeader(ctx, `/v2/${name}/tags/list`, n, tags[tags.length - 1] ?? '');
  }
  sendJSON(ctx.res, 200, { name, tags }, headers, ctx.method === 'HEAD');
};
