/**
 * What the notifications expose to operators: a JSON status route for the debug server, and
 * metric samples a Prometheus exporter can turn into series at scrape time.
 */
import type { MetricSample } from '../observability/samples.js';
import type { RawRoute } from '../composition.js';
import type { NotifierStatus } from './notifier.js';

/** Path of the JSON status on the debug server (`http.debug.addr`). */
export const STATUS_PATH = '/debug/notifications';

/** `GET /debug/notifications`: the queue directory and every endpoint's counters. */
export function statusRoute(status: () => NotifierStatus): RawRoute {
  return (req, res, path) => {
    if (path !== STATUS_PATH && path !== `${STATUS_PATH}/`) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
      res.end('method not allowed\n');
      return true;
    }
    const body = Buffer.from(JSON.stringify(status(), null, 2) + '\n');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(body.length), 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** One sample, independent of any metrics library. */
export type { MetricSample };

/**
 * The notification metrics as samples, read at scrape time. Names follow the reference
 * (`registry_notifications_*`, with `type` values Events/Successes/Failures/Errors) plus berth's
 * dropped/ignored/lost counts and the last status code.
 */
export function metricSamples(status: NotifierStatus): MetricSample[] {
  const out: MetricSample[] = [];
  const EVENTS_HELP = 'Notification events by outcome, per endpoint';
  for (const e of status.endpoints) {
    const endpoint = e.name;
    const counts: [string, number][] = [
      ['Events', e.events],
      ['Successes', e.delivered],
      ['Failures', e.failed],
      ['Errors', e.errors],
      ['Dropped', e.dropped],
      ['Ignored', e.ignored],
      ['Lost', e.lost],
    ];
    for (const [type, value] of counts) out.push({ name: 'registry_notifications_events_total', help: EVENTS_HELP, type: 'counter', labels: { type, endpoint }, value });
    out.push({ name: 'registry_notifications_pending', help: 'Events waiting in the endpoint queue', type: 'gauge', labels: { endpoint }, value: e.pending });
    for (const [code, value] of Object.entries(e.statuses)) {
      out.push({ name: 'registry_notifications_status_total', help: 'Events by the HTTP status the endpoint answered', type: 'counter', labels: { code, endpoint }, value });
    }
    out.push({ name: 'berth_notifications_last_status', help: 'HTTP status of the last answer (0: none yet)', type: 'gauge', labels: { endpoint }, value: e.lastStatus ?? 0 });
    out.push({ name: 'berth_notifications_consecutive_failures', help: 'Failed attempts in a row', type: 'gauge', labels: { endpoint }, value: e.consecutiveFailures });
  }
  return out;
}

/** The hand-over to a Prometheus exporter: call at scrape time. */
export interface NotificationMetricsSource {
  samples(): MetricSample[];
}
