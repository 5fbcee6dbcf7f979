/**
 * The debug server (`http.debug.addr`): a second listener, kept off the public port, serving the
 * routes features register for it (health, Prometheus metrics). Anything else is 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RawRoute } from '../composition.js';
import { listen, type RunningServer } from '../http/server.js';
import type { RegistryMetrics } from './metrics.js';

export function metricsRoute(metrics: RegistryMetrics, path: string): RawRoute {
  return async (req, res, p) => {
    if (p !== path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return true;
    }
    const { contentType, body } = await metrics.expose();
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)), 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

function plain(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

export function startDebugServer(addr: string, routes: readonly RawRoute[], logger: Logger): Promise<RunningServer> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    void (async () => {
      for (const route of routes) {
        if (await route(req, res, path)) return;
      }
      plain(res, 404, '404 page not found');
    })().catch((err: unknown) => {
      logger.error({ err, path }, 'debug server request failed');
      plain(res, 500, 'internal error');
    });
  };
  return listen({ addr }, listener);
}
