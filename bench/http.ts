// Minimal node:http calls for the benchmark: streamed request bodies with a
// known length, and response bodies either collected (small) or only counted.
import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface SendOptions {
  agent?: Agent;
  headers?: Record<string, string>;
  /** Body pieces, written with back-pressure. Content-Length must be in headers when given. */
  body?: Iterable<Buffer> | AsyncIterable<Buffer>;
  /** Count the response body instead of keeping it. */
  discardBody?: boolean;
}

export interface SendResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Bytes of response body received. */
  received: number;
}

export function send(method: string, url: string | URL, opts: SendOptions = {}): Promise<SendResult> {
  const u = typeof url === 'string' ? new URL(url) : url;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent: opts.agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: opts.headers,
      },
      (res) => {
        const parts: Buffer[] = [];
        let received = 0;
        res.on('data', (c: Buffer) => {
          received += c.length;
          if (!opts.discardBody) parts.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), received }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (!opts.body) {
      req.end();
      return;
    }
    const body = opts.body;
    (async () => {
      for await (const chunk of body) {
        if (req.destroyed) return; // the server answered or hung up early; its response tells why
        if (!req.write(chunk)) {
          await new Promise<void>((r) => {
            const done = () => {
              req.off('drain', done).off('close', done);
              r();
            };
            req.once('drain', done).once('close', done);
          });
        }
      }
      req.end();
    })().catch((err: unknown) => req.destroy(err as Error));
  });
}

/** The Location header resolved against the registry base URL. */
export function location(base: string, res: SendResult): URL {
  const loc = res.headers.location;
  if (!loc) throw new Error(`no Location in ${res.status} response: ${res.body.toString('utf8').slice(0, 300)}`);
  return new URL(loc, base);
}

/** Throw with the response body when the status is not the expected one. */
export function expectStatus(res: SendResult, status: number, what: string): void {
  if (res.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
  }
}
