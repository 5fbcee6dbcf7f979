// The pull-through cache, measured on one machine: a berth upstream holding a 1 GiB blob and a
// berth cache in front of it (`proxies:` prefix `up`, plus a hosted repository holding the same
// blob).
//
//   first pull   GET through a cache that has never seen the blob (a fresh cache per run) vs the
//                same GET straight from the upstream
//   cached pull  GET of the cached blob vs GET of the same blob from the hosted repository
//
// Each figure is the median of --runs runs, measured by two clients: one that only counts bytes,
// and one that checks the sha256 as bytes arrive, as docker, podman and skopeo do. The cache's
// peak RSS during the first pulls is sampled from /proc.
//
// On one machine the upstream answers at memory speed, faster than any network link, and shares
// the CPUs with the cache. --link=MiB/s puts a paced TCP relay in front of the upstream (for the
// direct pulls and the cache alike) to see the cache behind a link of that speed.
//
//   node --import tsx bench/proxy.ts [--size=MiB (default 1024)] [--runs=N (default 5)] [--link=MiB/s]
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { startBerth } from '../test/helpers/berth-server.js';
import type { RegistryServer } from '../test/helpers/registry-config.js';
import { PatternBlob } from '../test/proxy/helpers/blobs.js';

const MiB = 1024 * 1024;
const arg = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};
const SIZE = arg('size', 1024) * MiB;
const RUNS = arg('runs', 5);
const LINK = arg('link', 0) * MiB;

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

/**
 * A TCP relay to `port` that paces what flows back to its clients at `bytesPerSecond` in all (one
 * shared budget: the link). It runs as its own process, so the clients' hashing in this one does
 * not slow the link down.
 */
const RELAY_SOURCE = `
const net = require('node:net');
const [port, rate] = process.argv.slice(1).map(Number);
let budgetAt = Date.now();
const take = (n) => { const now = Date.now(); budgetAt = Math.max(budgetAt, now) + (n / rate) * 1000; return Math.max(0, budgetAt - now - 20); };
const server = net.createServer((client) => {
  const up = net.createConnection(port, '127.0.0.1');
  client.on('error', () => up.destroy());
  up.on('error', () => client.destroy());
  client.pipe(up);
  up.on('data', (chunk) => {
    const wait = take(chunk.length);
    const full = !client.write(chunk);
    if (full || wait > 0) {
      up.pause();
      const resume = () => setTimeout(() => up.resume(), wait);
      if (full) client.once('drain', resume); else resume();
    }
  });
  up.on('end', () => client.end());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function pacedRelay(port: number, bytesPerSecond: number): Promise<{ port: number; close(): Promise<void> }> {
  const child = spawn(process.execPath, ['-e', RELAY_SOURCE, String(port), String(bytesPerSecond)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const relayPort = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  return {
    port: relayPort,
    close: () =>
      new Promise<void>((r) => {
        child.once('exit', () => r());
        child.kill();
      }),
  };
}

/** Blob GETs the cache made to the upstream so far, from the upstream's request log. */
function upstreamBlobGets(upstream: RegistryServer): number {
  return readFileSync(upstream.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"request"') && l.includes('"method":"GET"') && l.includes('/blobs/sha256:') && l.includes('"ua":"berth-proxy"')).length;
}

/** Check the upstream's log for exactly `expected` such GETs (the log line may lag the last byte). */
async function expectUpstreamGets(upstream: RegistryServer, expected: number, what: string): Promise<void> {
  for (let i = 0; i < 40 && upstreamBlobGets(upstream) < expected; i++) await sleep(50);
  const seen = upstreamBlobGets(upstream);
  if (seen !== expected) throw new Error(`${what}: expected ${expected} upstream blob GETs so far, saw ${seen}`);
}

/** Peak VmRSS of a process while `fn` runs, in MiB. */
async function peakRss<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; peakMiB: number }> {
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) / 1024);
    } catch {
      // process gone
    }
  };
  const timer = setInterval(sample, 50);
  try {
    const value = await fn();
    sample();
    return { value, peakMiB: peak };
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  const blob = new PatternBlob('bench-proxy', SIZE);
  const link = LINK > 0 ? ` behind a ${LINK / MiB} MiB/s link` : '';
  console.log(`pull-through cache bench: ${SIZE / MiB} MiB blob, upstream${link || ' on the same machine'}, median of ${RUNS} runs per figure`);
  const upstream = await startBerth({ extraConfig: { log: { level: 'info', formatter: 'json' } } });
  const servers: RegistryServer[] = [upstream];
  const relay = LINK > 0 ? await pacedRelay(upstream.port, LINK) : undefined;
  const upstreamURL = relay ? `http://127.0.0.1:${relay.port}` : upstream.url;
  const proxies = [{ prefix: 'up', remoteurl: upstreamURL }];
  try {
    await blob.push(upstream.url, 'big/blob');
    const direct = `${upstreamURL}/v2/big/blob/blobs/${blob.digest}`;
    const results: Record<string, Record<Client, number>> = {};
    let peak = 0;

    const ratios: Record<string, Record<Client, number>> = {};
    for (const client of ['count', 'verify'] as Client[]) {
      const directRuns: number[] = [];
      const firstRuns: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        // A cache that has never seen the blob, in front of the same upstream; the direct pull is
        // measured right before the first pull through it, so both see the same machine.
        const cache = await startBerth({ extraConfig: { proxies } });
        try {
          await sleep(1000);
          directRuns.push(await pull(direct, client, blob.digest));
          const before = upstreamBlobGets(upstream);
          const { value, peakMiB } = await peakRss(cache.pid, () => pull(`${cache.url}/v2/up/big/blob/blobs/${blob.digest}`, client, blob.digest));
          await expectUpstreamGets(upstream, before + 1, 'first pull');
          firstRuns.push(value);
          peak = Math.max(peak, peakMiB);
        } finally {
          await cache.stop();
        }
      }
      results['direct from the upstream'] = { ...results['direct from the upstream'], [client]: median(directRuns) } as Record<Client, number>;
      results['first pull through the cache'] = { ...results['first pull through the cache'], [client]: median(firstRuns) } as Record<Client, number>;
      ratios.first = { ...ratios.first, [client]: median(directRuns.map((d, i) => d / (firstRuns[i] as number))) } as Record<Client, number>;
    }

    // Cached vs hosted, on one cache holding the blob both ways.
    const cache = await startBerth({ extraConfig: { proxies } });
    servers.push(cache);
    const beforeCached = upstreamBlobGets(upstream);
    await pull(`${cache.url}/v2/up/big/blob/blobs/${blob.digest}`, 'count', blob.digest);
    await blob.push(cache.url, 'local/blob');
    await expectUpstreamGets(upstream, beforeCached + 1, 'filling the cache');
    const upstreamGets = upstreamBlobGets(upstream);
    for (const client of ['count', 'verify'] as Client[]) {
      const cachedRuns: number[] = [];
      const hostedRuns: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        cachedRuns.push(await pull(`${cache.url}/v2/up/big/blob/blobs/${blob.digest}`, client, blob.digest));
        hostedRuns.push(await pull(`${cache.url}/v2/local/blob/blobs/${blob.digest}`, client, blob.digest));
      }
      results['cached pull'] = { ...results['cached pull'], [client]: median(cachedRuns) } as Record<Client, number>;
      results['hosted pull'] = { ...results['hosted pull'], [client]: median(hostedRuns) } as Record<Client, number>;
      ratios.cached = { ...ratios.cached, [client]: median(hostedRuns.map((h, i) => h / (cachedRuns[i] as number))) } as Record<Client, number>;
    }
    await sleep(500);
    await expectUpstreamGets(upstream, upstreamGets, 'cached pulls');

    const rows = Object.entries(results).map(([name, r]) => ({ name, count: r.count, verify: r.verify }));
    console.log('');
    console.log(`${'GET of the blob'.padEnd(32)}${'byte-counting client'.padStart(26)}${'sha256-checking client'.padStart(26)}`);
    for (const r of rows) console.log(`${r.name.padEnd(32)}${`${r.count.toFixed(2)} s  ${rate(r.count)}`.padStart(26)}${`${r.verify.toFixed(2)} s  ${rate(r.verify)}`.padStart(26)}`);
    const pct = (kind: string, c: Client) => `${((ratios[kind]?.[c] as number) * 100).toFixed(0)}%`;
    console.log('');
    console.log('throughput ratios (median of the per-run ratios; each pair measured back to back):');
    for (const c of ['count', 'verify'] as Client[]) {
      console.log(`  ${c === 'count' ? 'byte-counting' : 'sha256-checking'} client: first pull through the cache at ${pct('first', c)} of direct (target >= 90%), cached pull at ${pct('cached', c)} of hosted (target 100%)`);
    }
    console.log(`cache peak RSS during first pulls: ${peak.toFixed(0)} MiB`);
  } finally {
    await relay?.close();
    for (const s of servers.reverse()) await s.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
