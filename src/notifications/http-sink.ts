/**
 * One delivery attempt: POST an envelope of events to an endpoint. As in the reference, any
 * final 2xx or 3xx status means the endpoint accepted the whole envelope; anything else, a
 * transport error or the timeout is a failure of the whole envelope, to be retried as it was.
 */
import { EVENTS_MEDIA_TYPE, envelope } from './event.js';

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status, when the endpoint answered. */
  status?: number;
  /** Why there was no answer (connection refused, timeout...). */
  error?: string;
}

export interface HttpSinkOptions {
  url: string;
  /** Sent with every request, after Content-Type (`headers` of the endpoint's config). */
  headers: Record<string, string[]>;
  /** Per request, headers and body included. */
  timeoutMs: number;
}

export async function postEvents(opts: HttpSinkOptions, events: readonly string[], signal: AbortSignal): Promise<DeliveryResult> {
  const headers = new Headers({ 'Content-Type': EVENTS_MEDIA_TYPE, 'User-Agent': 'berth-notifications' });
  for (const [name, values] of Object.entries(opts.headers)) {
    const lower = name.toLowerCase();
    // Configured values add to ours, except where a header can hold only one value.
    if (lower === 'user-agent' || lower === 'content-type') headers.delete(name);
    for (const v of values) headers.append(name, v);
  }
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  try {
    const res = await fetch(opts.url, { method: 'POST', headers, body: envelope(events), signal: both });
    // Drain what little the endpoint says (within the same timeout) so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    return { ok: res.status >= 200 && res.status < 400, status: res.status };
  } catch (err) {
    if (timeout.aborted) return { ok: false, error: `no answer within ${opts.timeoutMs} ms` };
    if (signal.aborted) return { ok: false, error: 'delivery stopped' };
    return { ok: false, error: describe(err) };
  }
}

/** fetch hides the useful part (ECONNREFUSED...) in `cause`. */
function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message ?? 'fetch failed'}: ${cause}` : (e.message ?? String(err));
}
