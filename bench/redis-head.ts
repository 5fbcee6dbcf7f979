// HEAD-blob throughput with the Redis blob descriptor cache, in one run:
//   berth with the in-memory cache, berth with the Redis cache, and the reference registry
//   (docker-registry) with its Redis cache, the two Redis caches on one redis-server (own databases).
// Each server gets one pushed blob, then HEAD /v2/<repo>/blobs/<digest> at concurrency 32.
//
//   node --import tsx bench/redis-head.ts [--duration=s (default 10)] [--rounds=N (default 1)]
//
// With several rounds the servers take turns, so a noisy neighbour hurts them alike; the table
// shows each server's best round. BERTH_COMPILED=1 runs berth from dist/ (build it first).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startBerth } from '../test/helpers/berth-server.js';
import { referenceRegistryAvailable, startReferenceRegistry } from '../test/helpers/reference-registry.js';
import type { RegistryServer } from '../test/helpers/registry-config.js';
import { pushBlob, req } from '../test/helpers/registry-client.js';
import { startRedisServer } from '../test/cache/redis-server.js';
import { runLoad, type LoadResult } from './load.js';

const CONCURRENCY = 32;

interface Args {
  durationS: number;
  rounds: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { durationS: 10, rounds: 1 };
  for (const a of argv) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    const n = Number(v);
    if (k === '--duration' && n > 0) args.durationS = n;
    else if (k === '--rounds' && Number.isInteger(n) && n > 0) args.rounds = n;
    else throw new Error(`unknown or invalid option ${a} (see the header of bench/redis-head.ts)`);
  }
  return args;
}

interface Target {
  name: string;
  server: RegistryServer;
  url: string;
  best?: LoadResult;
}

const redisSection = (addr: string, db: number) => ({
  addr,
  db,
  dialtimeout: '1s',
  readtimeout: '1s',
  writetimeout: '1s',
  // Idle connections for every client connection: the reference's pool closes any beyond maxidle.
  pool: { maxidle: 64, maxactive: 128, idletimeout: '300s' },
});

const quiet = { log: { level: 'error', accesslog: { disabled: true } } };

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const redis = await startRedisServer();
  const targets: Target[] = [];
  try {
    const servers: [string, () => Promise<RegistryServer>][] = [
      ['berth, in-memory cache', () => startBerth({ extraConfig: { ...quiet, storage: { cache: { blobdescriptor: 'inmemory' } } } })],
      ['berth, redis cache', () => startBerth({ extraConfig: { ...quiet, storage: { cache: { blobdescriptor: 'redis' } }, redis: redisSection(redis.addr, 1) } })],
    ];
    if (referenceRegistryAvailable()) {
      servers.push([
        'reference, redis cache',
        () => startReferenceRegistry({ extraConfig: { ...quiet, storage: { cache: { blobdescriptor: 'redis' } }, redis: redisSection(redis.addr, 2) } }),
      ]);
    } else {
      console.log('docker-registry is not installed: measuring berth only');
    }
    for (const [name, start] of servers) {
      const server = await start();
      const digest = await pushBlob(server.url, 'bench/head', randomBytes(1024 * 1024));
      const url = `${server.url}/v2/bench/head/blobs/${digest}`;
      const head = await req('HEAD', url);
      if (head.status !== 200) throw new Error(`${name}: HEAD answered ${head.status}`);
      targets.push({ name, server, url });
      console.log(`${name}: pid ${server.pid} at ${server.url}`);
    }

    // Both Redis-backed servers really use Redis: their databases hold descriptor keys.
    const probe = new Redis({ port: redis.port, lazyConnect: true });
    await probe.connect();
    for (const db of [1, 2]) {
      await probe.select(db);
      console.log(`redis db ${db}: ${await probe.dbsize()} keys`);
    }
    probe.disconnect();

    for (let round = 1; round <= args.rounds; round++) {
      for (const t of targets) {
        const r = await runLoad({ url: t.url, method: 'HEAD', connections: CONCURRENCY, durationMs: args.durationS * 1000 });
        if (r.errors > 0 || r.badStatus > 0) console.log(`${t.name}: ${r.errors} errors, ${r.badStatus} unexpected statuses`);
        console.log(`round ${round} ${t.name}: ${fmt(r.rps)} req/s, p99 ${fmt(r.p99Ms, 2)} ms`);
        if (!t.best || r.rps > t.best.rps) t.best = r;
      }
    }

    const redisBerth = targets.find((t) => t.name === 'berth, redis cache')?.best;
    console.log(`\nHEAD blob, concurrency ${CONCURRENCY}, ${args.durationS} s per run, best of ${args.rounds}`);
    console.log(`${'server'.padEnd(26)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'berth-redis / this'.padStart(19)}`);
    for (const t of targets) {
      const r = t.best;
      if (!r) continue;
      const ratio = redisBerth ? fmt(redisBerth.rps / r.rps, 2) : '-';
      console.log(`${t.name.padEnd(26)} ${fmt(r.rps).padStart(8)} ${fmt(r.p50Ms, 2).padStart(8)} ${fmt(r.p99Ms, 2).padStart(8)} ${ratio.padStart(19)}`);
    }
  } finally {
    for (const t of targets) await t.server.stop();
    await redis.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
