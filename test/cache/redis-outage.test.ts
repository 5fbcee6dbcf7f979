// Redis down is not the registry down. A berth process uses the Redis cache on a redis-server this
// test starts; while clients keep pulling, Redis is stopped and restarted, then frozen and thawed.
// No request fails, each outage is logged once and its end once, /debug/health reports Redis while
// it is away (and the API stays in service), the cache is used again once Redis is back, and a
// blob deleted while Redis was frozen is not served from a stale entry afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startBerth } from '../helpers/berth-server.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { freePort } from '../helpers/ports.js';
import { pushBlob, req } from '../helpers/registry-client.js';
import { eventually, scrape, sum } from '../observability/prom-text.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

interface Traffic {
  stop(): Promise<{ requests: number; failures: string[] }>;
}

/** Clients pulling continuously (HEAD and GET, a few at a time), recording every failure. */
function pull(base: string, repo: string, digest: string, size: number): Traffic {
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const worker = async (method: 'HEAD' | 'GET') => {
    while (running) {
      try {
        const res = await req(method, `${base}/v2/${repo}/blobs/${digest}`, { timeoutMs: 10_000 });
        requests++;
        if (res.status !== 200) failures.push(`${method} ${res.status} ${res.text().slice(0, 200)}`);
        else if (method === 'GET' && res.body.length !== size) failures.push(`GET returned ${res.body.length} bytes`);
      } catch (err) {
        failures.push(`${method} ${(err as Error).message}`);
      }
    }
  };
  const workers = [worker('HEAD'), worker('HEAD'), worker('GET')];
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { requests, failures };
    },
  };
}

const countLines = (file: string, text: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(text)).length;

describe('redis outage', () => {
  let redis: RedisServer;
  let berth: RegistryServer;
  let debugUrl: string;

  before(async () => {
    redis = await startRedisServer();
    const debugPort = await freePort();
    debugUrl = `http://127.0.0.1:${debugPort}`;
    berth = await startBerth({
      extraConfig: {
        log: { level: 'info', accesslog: { disabled: true } },
        storage: { cache: { blobdescriptor: 'redis' } },
        redis: { addr: redis.addr, db: 3, dialtimeout: '300ms', readtimeout: '300ms', writetimeout: '300ms' },
        http: { debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true } } },
      },
    });
    await eventually('a healthy registry', async () => (await req('GET', `${debugUrl}/debug/health`)).status === 200);
  });
  after(async () => {
    await berth?.stop();
    await redis?.dispose();
  });

  const health = async () => {
    const res = await req('GET', `${debugUrl}/debug/health`);
    return { status: res.status, body: res.json<Record<string, string>>() };
  };
  const hits = async () => sum(await scrape(debugUrl), 'registry_storage_cache_total', { cache: 'redis', type: 'Hit' });

  it('keeps serving while redis is stopped, restarted, frozen and thawed', async () => {
    const blob = randomBytes(20_000);
    const digest = await pushBlob(berth.url, 'outage/app', blob);
    const traffic = pull(berth.url, 'outage/app', digest, blob.length);
    try {
      // 1. Redis stops: health reports it, the API stays in service.
      await redis.stop();
      await eventually('health to report redis', async () => {
        const h = await health();
        return h.status === 503 && typeof h.body.redis === 'string';
      });
      assert.equal((await req('GET', `${berth.url}/v2/`)).status, 200, 'a redis outage must not take the API out of service');
      const hitsWhileDown = await hits();
      await new Promise((r) => setTimeout(r, 500)); // pulls keep coming while Redis is away

      // 2. Redis returns (empty): health is clean again and the cache answers again.
      await redis.start();
      await eventually('health to clear', async () => (await health()).status === 200);
      await eventually('cache hits to resume', async () => (await hits()) > hitsWhileDown + 5);

      // 3. Redis freezes: lookups time out once, then skip Redis; a delete meanwhile is remembered.
      const doomed = await pushBlob(berth.url, 'outage/app', randomBytes(300));
      assert.equal((await req('HEAD', `${berth.url}/v2/outage/app/blobs/${doomed}`)).status, 200);
      redis.pause();
      await eventually('health to report the frozen redis', async () => typeof (await health()).body.redis === 'string');
      assert.equal((await req('DELETE', `${berth.url}/v2/outage/app/blobs/${doomed}`)).status, 202);
      redis.resume();
      await eventually('health to clear after the thaw', async () => (await health()).status === 200);
      // The entry Redis still held for the deleted blob was removed before the cache was trusted again.
      assert.equal((await req('HEAD', `${berth.url}/v2/outage/app/blobs/${doomed}`)).status, 404);
      const before = await hits();
      await eventually('cache hits after the thaw', async () => (await hits()) > before + 5);
    } finally {
      const { requests, failures } = await traffic.stop();
      assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
      assert.ok(requests > 20, `only ${requests} requests were made`);
    }
    // One line per outage and one per recovery, however many requests ran into them.
    assert.equal(countLines(berth.logFile, 'redis unavailable'), 2, readFileSync(berth.logFile, 'utf8').slice(-3000));
    assert.equal(countLines(berth.logFile, 'redis available again'), 2);
  });
});
