// The pull-through cache, measured on one machine: a berth upstream holding a 1 GiB blob, and in
// front of it a berth cache (`proxies:` prefix `up`, plus a hosted repository holding the same
// blob) and, where installed, the reference registry in its `proxy:` mode.
//
//   first pull   GET through a cache that has never seen the blob (a fresh cache each time) vs the
//                same GET straight from the upstream, measured back to back
//   cached pull  GET of the blob cached by berth vs GET of the same blob from its hosted repository
//
// Each figure is the median of --runs runs. On loopback they are measured by two clients: one
// that only counts bytes, and one that checks the sha256 as bytes arrive, as docker, podman and
// skopeo do. The number of blob GETs the upstream saw per first pull is counted from its log
// (after the cache has gone idle: the reference fetches the blob a second time to store it).
//
// On loopback the upstream answers at memory speed, faster than most links, and the upstream,
// the cache and the client share the machine's CPUs. A real upstream is across a network: with
// root and iproute2, the first pulls are measured again with the upstream in a network namespace
// behind a veth paced by the kernel (tc tbf) at each of --links, which costs no CPU in any process
// being measured.
//
//   node --import tsx bench/proxy.ts [--size=MiB (default 1024)] [--runs=N (default 3)]
//                                    [--links=1gbit,5gbit,10gbit (tc rates; empty to skip)]
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { execFileSync } from 'node:child_process';
import { startBerth } from '../test/helpers/berth-server.js';
import { referenceRegistryAvailable, startReferenceRegistry } from '../test/helpers/reference-registry.js';
import type { RegistryOptions, RegistryServer } from '../test/helpers/registry-config.js';
import { PatternBlob } from '../test/proxy/helpers/blobs.js';
import { createNetnsLink, netnsLinkUnavailable, type NetnsLink } from './netns-link.js';
import { cpuSeconds, RssSampler } from './rss.js';

const MiB = 1024 * 1024;
const arg = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};
const SIZE = arg('size', 1024) * MiB;
const RUNS = arg('runs', 3);
const LINKS = (process.argv.find((x) => x.startsWith('--links='))?.slice(8) ?? '1gbit,5gbit,10gbit').split(',').filter(Boolean);

type Client = 'count' | 'verify';

/** GET a URL to the end; seconds taken. `verify` hashes as bytes arrive and checks the digest. */
function pull(url: string, client: Client, digest: string): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const r = request(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET ${url}: ${res.statusCode}`));
        res.resume();
        return;
      }
      const hash = client === 'verify' ? createHash('sha256') : undefined;
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        hash?.update(c);
      });
      res.on('end', () => {
        if (n !== SIZE) return reject(new Error(`GET ${url}: ${n} of ${SIZE} bytes`));
        if (hash && `sha256:${hash.digest('hex')}` !== digest) return reject(new Error(`GET ${url}: wrong digest`));
        resolve(Number(process.hrtime.bigint() - started) / 1e9);
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const rate = (s: number) => `${(SIZE / MiB / s).toFixed(0)} MiB/s`;
const pct = (r: number) => `${(r * 100).toFixed(0)}%`;

/** Blob GETs the upstream answered so far, from its request log. */
function upstreamBlobGets(upstream: RegistryServer): number {
  let n = 0;
  for (const line of readFileSync(upstream.logFile, 'utf8').split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    try {
      const entry = JSON.parse(line) as { method?: string; url?: string };
      if (entry.method === 'GET' && entry.url?.includes('/blobs/sha256:')) n++;
    } catch {
      // a line still being written
    }
  }
  return n;
}

/** Wait until a process has gone idle (work it does after answering, such as storing the blob). */
async function settle(pid: number): Promise<void> {
  let last = cpuSeconds(pid);
  for (let i = 0; i < 240; i++) {
    await sleep(500);
    const now = cpuSeconds(pid);
    if (now - last < 0.02) return;
    last = now;
  }
}

/** A pull-through cache in front of the upstream at `remoteurl`. */
interface Cache {
  name: string;
  start(remoteurl: string): Promise<RegistryServer>;
  /** Where the cache serves the upstream's big/blob repository. */
  path(digest: string): string;
}

const berthCache: Cache = {
  name: 'berth',
  start: (remoteurl) => startBerth({ extraConfig: { proxies: [{ prefix: 'up', remoteurl }] } }),
  path: (digest) => `/v2/up/big/blob/blobs/${digest}`,
};

const referenceCache: Cache = {
  name: 'reference',
  start: (remoteurl) => startReferenceRegistry({ extraConfig: { proxy: { remoteurl } } }),
  path: (digest) => `/v2/big/blob/blobs/${digest}`,
};

interface FirstPull {
  seconds: number;
  peakMB: number;
  /** Blob GETs the upstream saw for this pull, including any the cache made after serving it. */
  upstreamGets: number;
}

/** A first pull through a cache that has never seen the blob; the cache is stopped afterwards. */
async function firstPull(cache: Cache, upstream: RegistryServer, client: Client, digest: string): Promise<FirstPull> {
  const server = await cache.start(upstream.url);
  try {
    await sleep(1000);
    const before = upstreamBlobGets(upstream);
    // A fresh process: its high-water mark is the peak of this pull.
    const rss = new RssSampler(server.pid).start();
    const seconds = await pull(`${server.url}${cache.path(digest)}`, client, digest);
    const peakMB = rss.stop();
    // The reference stores the blob after the client is served; let it finish (and the upstream
    // log its requests) before counting, so its work does not slow the next measurement.
    await settle(server.pid);
    return { seconds, peakMB, upstreamGets: upstreamBlobGets(upstream) - before };
  } finally {
    await server.stop();
    execFileSync('sync');
  }
}

/** Direct pull, then a first pull through each cache, `RUNS` times; per-cache medians and ratios. */
async function compareFirstPulls(upstream: RegistryServer, caches: Cache[], client: Client, digest: string) {
  const direct: number[] = [];
  const through = new Map<Cache, FirstPull[]>(caches.map((c) => [c, []]));
  for (let i = 0; i < RUNS; i++) {
    direct.push(await pull(`${upstream.url}/v2/big/blob/blobs/${digest}`, client, digest));
    for (const cache of caches) (through.get(cache) as FirstPull[]).push(await firstPull(cache, upstream, client, digest));
  }
  const berthPulls = through.get(berthCache) as FirstPull[];
  if (berthPulls.some((p) => p.upstreamGets !== 1)) throw new Error(`berth made ${berthPulls.map((p) => p.upstreamGets).join(', ')} upstream blob GETs for its first pulls, expected 1 each`);
  return {
    direct: median(direct),
    caches: caches.map((cache) => {
      const pulls = through.get(cache) as FirstPull[];
      return {
        cache,
        seconds: median(pulls.map((p) => p.seconds)),
        ratio: median(pulls.map((p, i) => (direct[i] as number) / p.seconds)),
        upstreamGets: median(pulls.map((p) => p.upstreamGets)),
        peakMB: Math.max(...pulls.map((p) => p.peakMB)),
      };
    }),
  };
}

/** Cached vs hosted pulls on one berth holding the blob both ways. */
async function compareCachedPulls(upstream: RegistryServer, blob: PatternBlob) {
  const cache = await berthCache.start(upstream.url);
  try {
    await pull(`${cache.url}${berthCache.path(blob.digest)}`, 'count', blob.digest);
    await blob.push(cache.url, 'local/blob');
    await settle(cache.pid);
    const gets = upstreamBlobGets(upstream);
    // Both copies were written with O_DIRECT: read each once, so both are compared from the page cache.
    await pull(`${cache.url}${berthCache.path(blob.digest)}`, 'count', blob.digest);
    await pull(`${cache.url}/v2/local/blob/blobs/${blob.digest}`, 'count', blob.digest);
    const out: Record<Client, { cached: number; hosted: number; ratio: number }> = {} as never;
    for (const client of ['count', 'verify'] as Client[]) {
      const cached: number[] = [];
      const hosted: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        cached.push(await pull(`${cache.url}${berthCache.path(blob.digest)}`, client, blob.digest));
        hosted.push(await pull(`${cache.url}/v2/local/blob/blobs/${blob.digest}`, client, blob.digest));
      }
      out[client] = { cached: median(cached), hosted: median(hosted), ratio: median(hosted.map((h, i) => h / (cached[i] as number))) };
    }
    await sleep(500);
    if (upstreamBlobGets(upstream) !== gets) throw new Error('cached pulls went to the upstream');
    return out;
  } finally {
    await cache.stop();
  }
}

const upstreamOptions: RegistryOptions = { extraConfig: { log: { level: 'info', formatter: 'json' } } };

async function main(): Promise<void> {
  const blob = new PatternBlob('bench-proxy', SIZE);
  const caches = [berthCache, ...(referenceRegistryAvailable() ? [referenceCache] : [])];
  console.log(`pull-through cache bench: ${SIZE / MiB} MiB blob, median of ${RUNS} runs per figure`);
  if (caches.length === 1) console.log('(reference registry not installed: berth only)');

  // 1. Upstream on loopback: memory speed, and the upstream, the cache and the client share the CPUs.
  const upstream = await startBerth(upstreamOptions);
  let loopback;
  let cached;
  try {
    await blob.push(upstream.url, 'big/blob');
    loopback = { count: await compareFirstPulls(upstream, caches, 'count', blob.digest), verify: await compareFirstPulls(upstream, caches, 'verify', blob.digest) };
    cached = await compareCachedPulls(upstream, blob);
  } finally {
    await upstream.stop();
  }
  const cell = (s: number) => `${s.toFixed(2)} s  ${rate(s)}`.padStart(26);
  console.log('');
  console.log('upstream on loopback (memory speed; upstream, cache and client share the machine\'s CPUs)');
  console.log(`${'GET of the blob'.padEnd(36)}${'byte-counting client'.padStart(26)}${'sha256-checking client'.padStart(26)}`);
  console.log(`${'direct from the upstream'.padEnd(36)}${cell(loopback.count.direct)}${cell(loopback.verify.direct)}`);
  loopback.count.caches.forEach((c, i) => {
    console.log(`${`first pull through ${c.cache.name}`.padEnd(36)}${cell(c.seconds)}${cell((loopback.verify.caches[i] as typeof c).seconds)}`);
  });
  console.log(`${'cached pull (berth)'.padEnd(36)}${cell(cached.count.cached)}${cell(cached.verify.cached)}`);
  console.log(`${'hosted pull (berth)'.padEnd(36)}${cell(cached.count.hosted)}${cell(cached.verify.hosted)}`);
  console.log('');
  console.log('ratios (median of the per-run ratios; each pair measured back to back), byte-counting / sha256-checking client:');
  loopback.count.caches.forEach((c, i) => {
    const v = loopback.verify.caches[i] as typeof c;
    console.log(`  first pull through ${c.cache.name}: ${pct(c.ratio)} / ${pct(v.ratio)} of direct${c.cache === berthCache ? ' (target >= 90%)' : ''}; upstream blob GETs per first pull: ${c.upstreamGets}`);
  });
  console.log(`  cached pull: ${pct(cached.count.ratio)} / ${pct(cached.verify.ratio)} of hosted (target 100%)`);
  console.log(`berth peak RSS during first pulls: ${Math.max(loopback.count.caches[0]?.peakMB ?? 0, loopback.verify.caches[0]?.peakMB ?? 0).toFixed(0)} MB`);

  // 2. Upstream across a link paced by the kernel, as a real upstream is: the same first pulls.
  const why = netnsLinkUnavailable();
  if (why || LINKS.length === 0) {
    console.log(`\nbehind a paced link: skipped (${why ?? 'no --links'})`);
    return;
  }
  const link: NetnsLink = createNetnsLink();
  const far = await startBerth({ ...upstreamOptions, netns: link.netns }).catch((err: unknown) => {
    link.close();
    throw err;
  });
  try {
    await blob.push(far.url, 'big/blob');
    console.log('');
    console.log('upstream behind a paced link (a network namespace, tc tbf on its veth), sha256-checking client');
    console.log(`${'link'.padEnd(10)}${'direct'.padStart(14)}${caches.map((c) => `first pull through ${c.name}`.padStart(34)).join('')}`);
    for (const linkRate of LINKS) {
      link.setRate(linkRate);
      const r = await compareFirstPulls(far, caches, 'verify', blob.digest);
      const cols = r.caches.map((c) => `${rate(c.seconds)} (${pct(c.ratio)}, ${c.upstreamGets} GET${c.upstreamGets === 1 ? '' : 's'})`.padStart(34));
      console.log(`${linkRate.padEnd(10)}${rate(r.direct).padStart(14)}${cols.join('')}`);
    }
  } finally {
    await far.stop();
    link.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
