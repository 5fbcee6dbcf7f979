/**
 * The wire under the registry client: one request over node:http/https with keep-alive agents,
 * a deadline for the response headers, an inactivity limit on the body, and an AbortSignal. The
 * body stays a stream; nothing here reads it.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { LargeReadAgent } from '../util/large-read-agent.js';

export interface HttpRequest {
  method: 'GET' | 'HEAD';
  url: URL;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, unread. Callers must consume or destroy it. */
  body: IncomingMessage;
  url: URL;
}

/** The remote could not be reached, or stopped answering (connection refused, reset, timeout). */
export class UnreachableError extends Error {
  constructor(
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UnreachableError';
  }
}

export interface TransportOptions {
  /** How long to wait for response headers. Default 30 s. */
  timeoutMs?: number;
  /** How long a response body may stay silent before the request is abandoned. Default 60 s. */
  idleTimeoutMs?: number;
  /** Sockets per host. Default 32. */
  maxSockets?: number;
  userAgent?: string;
}

export class HttpTransport {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;
  private readonly timeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly userAgent: string;

  constructor(opts: TransportOptions = {}) {
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 32 };
    // Plain-HTTP upstreams are read 1 MiB at a time: blob bodies are most of what comes back.
    this.http = new LargeReadAgent(agentOptions);
    this.https = new HttpsAgent(agentOptions);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    this.userAgent = opts.userAgent ?? 'berth-proxy';
  }

  request(r: HttpRequest): Promise<HttpResponse> {
    const { url, signal } = r;
    const secure = url.protocol === 'https:';
    const send = secure ? httpsRequest : httpRequest;
    return new Promise<HttpResponse>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let settled = false;
      const req = send(url, {
        method: r.method,
        agent: secure ? this.https : this.http,
        headers: { 'User-Agent': this.userAgent, ...r.headers },
      });
      const onAbort = () => req.destroy(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const deadline = setTimeout(() => {
        req.destroy(new UnreachableError(`no response from ${url.origin} within ${this.timeoutMs} ms`, url.href));
      }, this.timeoutMs);
      const fail = (err: unknown) => {
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        if (signal?.aborted) reject(signal.reason);
        else if (err instanceof UnreachableError) reject(err);
        else reject(new UnreachableError(`${r.method} ${url.origin}${url.pathname}: ${(err as Error).message}`, url.href, { cause: err }));
      };
      req.once('error', fail);
      req.once('response', (res) => {
        clearTimeout(deadline);
        settled = true;
        // From here on the body's consumer sees errors through the body stream.
        req.off('error', fail);
        req.on('error', (err) => res.destroy(err));
        const idle = () => res.destroy(new UnreachableError(`${url.origin} sent nothing for ${this.idleTimeoutMs} ms`, url.href));
        res.setTimeout(this.idleTimeoutMs, idle);
        res.once('close', () => signal?.removeEventListener('abort', onAbort));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      });
      req.end();
    });
  }

  /** Drop idle keep-alive sockets. */
  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** Read a (small) response body whole, up to `limit` bytes; throws past it. */
export async function readAll(body: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      body.destroy();
      throw new Error(`response body exceeds ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, total);
}

/** Discard a body so its socket can be reused. */
export function drain(body: IncomingMessage): void {
  body.resume();
  body.once('error', () => undefined);
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
