// The reference registry and berth share one Redis database over one storage root: berth answers
// a HEAD from what the reference cached (a cache hit, no storage I/O), because both use the same
// keys (docker-registry is installed by .ci/run).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startBerth } from '../helpers/berth-server.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';
import { freePort } from '../helpers/ports.js';
import { pushBlob, req } from '../helpers/registry-client.js';
import { eventually, scrape, sum } from '../observability/prom-text.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

describe('redis cache shared with the reference registry', () => {
  let redis: RedisServer;
  let root: string;

  before(async () => {
    redis = await startRedisServer();
    root = mkdtempSync(join(tmpdir(), 'berth-shared-root-'));
  });
  after(async () => {
    await redis?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('berth serves a HEAD from descriptors the reference cached', async () => {
    const redisConfig = { addr: redis.addr, db: 4 };
    const cache = { storage: { cache: { blobdescriptor: 'redis' } }, redis: redisConfig };
    const reference = await startReferenceRegistry({ rootdirectory: root, extraConfig: cache });
    let digest: string;
    try {
      digest = await pushBlob(reference.url, 'shared/app', randomBytes(5000));
      assert.equal((await req('HEAD', `${reference.url}/v2/shared/app/blobs/${digest}`)).status, 200);
    } finally {
      await reference.stop();
    }
    const raw = new Redis({ port: redis.port, db: 4 });
    try {
      assert.equal(await raw.sismember('repository::shared/app::blobs', digest), 1, 'the reference did not cache the membership');
      assert.equal(await raw.hget(`blobs::${digest}`, 'size'), '5000');
    } finally {
      raw.disconnect();
    }

    const debugPort = await freePort();
    const berth = await startBerth({
      rootdirectory: root,
      extraConfig: { ...cache, http: { debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true } } } },
    });
    try {
      const debug = `http://127.0.0.1:${debugPort}`;
      await eventually('berth to connect to redis', async () => (await req('GET', `${debug}/debug/health`)).status === 200);
      const before = await scrape(debug);
      const head = await req('HEAD', `${berth.url}/v2/shared/app/blobs/${digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '5000');
      const after = await scrape(debug);
      assert.equal(sum(after, 'registry_storage_cache_total', { cache: 'redis', type: 'Hit' }) - sum(before, 'registry_storage_cache_total', { cache: 'redis', type: 'Hit' }), 1);
      assert.equal(sum(after, 'registry_storage_action_seconds_count'), sum(before, 'registry_storage_action_seconds_count'), 'berth went to storage');
    } finally {
      await berth.stop();
    }
  });
});
