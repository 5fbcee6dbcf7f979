// The individual benchmark workloads, each run against one server URL.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { blobChunks, type BlobSpec } from './data.js';
import { expectStatus, location, send } from './http.js';
import { tinyImage } from './layout.js';
import { runLoad, type LoadResult } from './load.js';

export interface Blob extends BlobSpec {
  digest: string;
}

export interface Throughput {
  seconds: number;
  /** Megabytes (10^6 bytes) per second. */
  mbps: number;
}

const execFileAsync = promisify(execFile);

const throughput = (bytes: number, ms: number): Throughput => ({ seconds: ms / 1000, mbps: bytes / 1e6 / (ms / 1000) });

/** POST an upload, then PUT ?digest= with the whole blob streamed as the body. */
export async function pushMonolithic(base: string, repo: string, blob: Blob): Promise<Throughput> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const t0 = performance.now();
    const start = await send('POST', `${base}/v2/${repo}/blobs/uploads/`, { agent });
    expectStatus(start, 202, 'POST upload');
    const loc = location(base, start);
    loc.searchParams.set('digest', blob.digest);
    const done = await send('PUT', loc, {
      agent,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: blobChunks(blob),
    });
    expectStatus(done, 201, 'PUT upload');
    return throughput(blob.size, performance.now() - t0);
  } finally {
    agent.destroy();
  }
}

/** POST, one PATCH per `chunkSize` bytes with Content-Range, then an empty PUT ?digest=. */
export async function pushChunked(base: string, repo: string, blob: Blob, chunkSize: number): Promise<Throughput> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const t0 = performance.now();
    const start = await send('POST', `${base}/v2/${repo}/blobs/uploads/`, { agent });
    expectStatus(start, 202, 'POST upload');
    let loc = location(base, start);
    for (let from = 0; from < blob.size; from += chunkSize) {
      const to = Math.min(blob.size, from + chunkSize);
      const res = await send('PATCH', loc, {
        agent,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(to - from),
          'content-range': `${from}-${to - 1}`,
        },
        body: blobChunks(blob, from, to),
      });
      expectStatus(res, 202, `PATCH ${from}-${to - 1}`);
      loc = location(base, res);
    }
    loc.searchParams.set('digest', blob.digest);
    const done = await send('PUT', loc, { agent, headers: { 'content-length': '0' } });
    expectStatus(done, 201, 'PUT upload');
    return throughput(blob.size, performance.now() - t0);
  } finally {
    agent.destroy();
  }
}

/**
 * GET a blob, counting (not keeping) its bytes. curl is the client when it is
 * installed: on a 2-core machine Node's socket reads top out well below what
 * loopback carries, and the benchmark should measure the server, not us.
 */
export async function pullBlob(base: string, repo: string, blob: Blob): Promise<Throughput & { client: string }> {
  const url = `${base}/v2/${repo}/blobs/${blob.digest}`;
  if (curlAvailable()) {
    const { stdout: out } = await execFileAsync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url]);
    const [status, received, seconds] = out.trim().split(' ').map(Number) as [number, number, number];
    if (status !== 200 || received !== blob.size) throw new Error(`pull: status ${status}, ${received} of ${blob.size} bytes`);
    return { ...throughput(blob.size, seconds * 1000), client: 'curl' };
  }
  const t0 = performance.now();
  const res = await send('GET', url, { agent: new Agent(), discardBody: true });
  const ms = performance.now() - t0;
  if (res.status !== 200 || res.received !== blob.size) {
    throw new Error(`pull: status ${res.status}, ${res.received} of ${blob.size} bytes`);
  }
  return { ...throughput(blob.size, ms), client: 'node:http' };
}

let curlFound: boolean | undefined;
function curlAvailable(): boolean {
  if (curlFound === undefined) {
    try {
      execFileSync('curl', ['--version'], { stdio: 'ignore' });
      curlFound = true;
    } catch {
      curlFound = false;
    }
  }
  return curlFound;
}

export interface Seeded {
  repo: string;
  tag: string;
  layerDigest: string;
  mediaType: string;
}

/** Push a tiny image through the API (two blobs and a tagged manifest) for the read workloads. */
export async function seedImage(base: string, repo: string, tag: string): Promise<Seeded> {
  const img = tinyImage();
  let layerDigest = '';
  for (const bytes of [img.config, img.layer]) {
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    const start = await send('POST', `${base}/v2/${repo}/blobs/uploads/`);
    expectStatus(start, 202, 'POST upload');
    const loc = location(base, start);
    loc.searchParams.set('digest', digest);
    const done = await send('PUT', loc, { headers: { 'content-length': String(bytes.length) }, body: [bytes] });
    expectStatus(done, 201, 'PUT blob');
    layerDigest = digest;
  }
  const put = await send('PUT', `${base}/v2/${repo}/manifests/${tag}`, {
    headers: { 'content-type': img.mediaType, 'content-length': String(img.manifest.length) },
    body: [img.manifest],
  });
  expectStatus(put, 201, 'PUT manifest');
  return { repo, tag, layerDigest, mediaType: img.mediaType };
}

export function headBlobLoad(base: string, s: Seeded, connections: number, durationMs: number): Promise<LoadResult> {
  return runLoad({ url: `${base}/v2/${s.repo}/blobs/${s.layerDigest}`, method: 'HEAD', connections, durationMs });
}

export function getManifestLoad(base: string, s: Seeded, connections: number, durationMs: number): Promise<LoadResult> {
  return runLoad({
    url: `${base}/v2/${s.repo}/manifests/${s.tag}`,
    method: 'GET',
    headers: { accept: s.mediaType },
    connections,
    durationMs,
  });
}

export interface Rate {
  count: number;
  seconds: number;
  perSecond: number;
}

/** Distinct 4 KiB blobs pushed (POST + PUT ?digest= with body) by `inflight` concurrent clients. */
export async function smallPushes(base: string, repo: string, inflight: number, durationMs: number): Promise<Rate> {
  const agent = new Agent({ keepAlive: true, maxSockets: inflight });
  let count = 0;
  try {
    const t0 = performance.now();
    const end = t0 + durationMs;
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (performance.now() < end) {
          const bytes = randomBytes(4096);
          const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
          const start = await send('POST', `${base}/v2/${repo}/blobs/uploads/`, { agent });
          expectStatus(start, 202, 'POST upload');
          const loc = location(base, start);
          loc.searchParams.set('digest', digest);
          const done = await send('PUT', loc, {
            agent,
            headers: { 'content-type': 'application/octet-stream', 'content-length': '4096' },
            body: [bytes],
          });
          expectStatus(done, 201, 'PUT upload');
          count++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { count, seconds, perSecond: count / seconds };
  } finally {
    agent.destroy();
  }
}

export interface CatalogWalk {
  seconds: number;
  pages: number;
  repositories: number;
}

/** Follow /v2/_catalog?n=pageSize through its Link headers to the end. */
export async function walkCatalog(base: string, pageSize: number): Promise<CatalogWalk> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const t0 = performance.now();
    let next: URL | undefined = new URL(`${base}/v2/_catalog?n=${pageSize}`);
    let pages = 0;
    let repositories = 0;
    while (next) {
      const res = await send('GET', next, { agent });
      expectStatus(res, 200, `GET ${next.pathname}${next.search}`);
      pages++;
      repositories += (JSON.parse(res.body.toString('utf8')) as { repositories: string[] }).repositories.length;
      const link = res.headers.link;
      const m = typeof link === 'string' ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
      next = m?.[1] ? new URL(m[1], base) : undefined;
      if (pages > 100_000) throw new Error('catalog pagination does not end');
    }
    return { seconds: (performance.now() - t0) / 1000, pages, repositories };
  } finally {
    agent.destroy();
  }
}
