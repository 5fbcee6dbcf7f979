// A small closed-loop load generator over keep-alive node:http connections.
// autocannon 9 cannot drive HEAD (its parser waits for a body that a HEAD
// response never has, so it records zero responses), hence this.
import { Agent, request } from 'node:http';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Requests in flight, each on its own keep-alive connection. */
  connections: number;
  durationMs: number;
  /** Unrecorded requests per connection before the clock starts. Default 20. */
  warmup?: number;
  /** Status counted as success. Default 200. */
  expectStatus?: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Responses with another status. */
  badStatus: number;
  /** Network errors (each also ends that request). */
  errors: number;
}

function once(agent: Agent, url: URL, opts: LoadOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: opts.method, headers: opts.headers },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end();
  });
}

/** Percentile of an ascending array, nearest-rank. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const url = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const expect = opts.expectStatus ?? 200;
  const latencies: number[] = [];
  let badStatus = 0;
  let errors = 0;
  try {
    // Warm up: open the connections and let the server settle.
    await Promise.all(
      Array.from({ length: opts.connections }, async () => {
        for (let i = 0; i < (opts.warmup ?? 20); i++) await once(agent, url, opts).catch(() => 0);
      }),
    );
    const start = performance.now();
    const end = start + opts.durationMs;
    await Promise.all(
      Array.from({ length: opts.connections }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          try {
            const status = await once(agent, url, opts);
            if (status !== expect) badStatus++;
          } catch {
            errors++;
          }
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const sorted = Float64Array.from(latencies).sort();
    return {
      requests: latencies.length,
      seconds,
      rps: latencies.length / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length ? (sorted[sorted.length - 1] as number) : NaN,
      badStatus,
      errors,
    };
  } finally {
    agent.destroy();
  }
}
