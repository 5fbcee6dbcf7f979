/**
 * Health over HTTP, as the reference serves it: `/debug/health` on the debug server answers the
 * failing checks as a JSON object (name → error), 200 when there are none and 503 otherwise; and
 * while a critical check fails, the API answers 503 UNAVAILABLE, pointing at /debug/health.
 */
import type { RawRoute } from '../composition.js';
import type { RequestContext } from '../http/context.js';
import { HttpError } from '../http/errors.js';
import type { HealthRegistry } from './health-registry.js';

export const HEALTH_PATH = '/debug/health';

export function healthRoute(health: HealthRegistry): RawRoute {
  return (req, res, path) => {
    if (path !== HEALTH_PATH) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return true;
    }
    const failing = health.failing();
    const body = Buffer.from(JSON.stringify(failing));
    res.writeHead(Object.keys(failing).length === 0 ? 200 : 503, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(body.length),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** A request gate: the whole API is out of service while a critical check fails. */
export function healthGate(health: HealthRegistry): (ctx: RequestContext) => void {
  return () => {
    if (!health.serving) throw new HttpError('UNAVAILABLE', undefined, 'health check failed: please see /debug/health');
  };
}
