// The shared cache suite on the Redis cache, against the machine's Redis on 127.0.0.1:6379 (its
// own database and a key prefix unique to the run, removed afterwards), plus what is particular
// to Redis: the reference's key layout, and failing fast when Redis is not there.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { runCacheSuite } from '../../src/storage/cache/testsuite/cache-suite.js';
import { RedisBlobDescriptorCache } from '../../src/storage/cache/redis.js';
import { CacheUnavailableError } from '../../src/storage/cache/redis-availability.js';
import { createRedisClient, parseRedisAddr } from '../../src/storage/cache/redis-client.js';
import { createLogger } from '../../src/observability/logger.js';
import { digestOf } from '../../src/digest/digest.js';
import type { RedisConfig } from '../../src/config/index.js';
import { freePort } from '../helpers/ports.js';

const DB = 12;

function redisConfig(addr: string, extra: Partial<RedisConfig> = {}): RedisConfig {
  return {
    addrs: [addr],
    db: DB,
    readtimeout: 1000,
    dialtimeout: 1000,
    tls: { enabled: false, clientcas: [] },
    ...extra,
  } as RedisConfig;
}

/** Delete every key under the prefix. */
async function removeKeys(raw: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await raw.del(...keys);
  } while (cursor !== '0');
}

async function countKeys(raw: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

runCacheSuite('redis', async () => {
  const prefix = `berth-test-${randomBytes(4).toString('hex')}:`;
  const cache = new RedisBlobDescriptorCache(createRedisClient(redisConfig('127.0.0.1:6379')), { prefix });
  await cache.availability.ready(5000);
  return {
    provider: cache,
    teardown: async () => {
      const raw = new Redis({ port: 6379, db: DB });
      try {
        await removeKeys(raw, prefix);
        assert.equal(await countKeys(raw, prefix), 0);
      } finally {
        raw.disconnect();
      }
      await cache.close();
    },
  };
});

describe('redis cache specifics', () => {
  const prefix = `berth-test-${randomBytes(4).toString('hex')}:`;
  let cache: RedisBlobDescriptorCache;
  let raw: Redis;

  before(async () => {
    cache = new RedisBlobDescriptorCache(createRedisClient(redisConfig('127.0.0.1:6379')), { prefix });
    await cache.availability.ready(5000);
    raw = new Redis({ port: 6379, db: DB });
  });
  after(async () => {
    await removeKeys(raw, prefix);
    raw.disconnect();
    await cache.close();
  });

  it('stores entries under the reference registry’s keys, so both can share one database', async () => {
    const d = { digest: digestOf(randomBytes(8)), size: 1234, mediaType: 'application/vnd.oci.image.layer.v1.tar' };
    await cache.repositoryScoped('team/app').set(d.digest, d);
    assert.deepEqual(await raw.hgetall(`${prefix}blobs::${d.digest}`), { digest: d.digest, size: '1234', mediatype: d.mediaType });
    assert.equal(await raw.sismember(`${prefix}repository::team/app::blobs`, d.digest), 1);
    assert.equal(await raw.hget(`${prefix}repository::team/app::blobs::${d.digest}`, 'mediatype'), d.mediaType);

    // An entry written the way the reference writes it is read back.
    const other = digestOf(randomBytes(8));
    await raw.hset(`${prefix}blobs::${other}`, 'digest', other, 'size', '77', 'mediatype', 'application/octet-stream');
    await raw.sadd(`${prefix}repository::team/app::blobs`, other);
    assert.deepEqual(await cache.repositoryScoped('team/app').get(other), { digest: other, size: 77, mediaType: 'application/octet-stream' });
  });

  it('treats an entry without a size (the reference’s old "length" field) as a miss', async () => {
    const d = digestOf(randomBytes(8));
    await raw.hset(`${prefix}blobs::${d}`, 'digest', d, 'length', '10');
    assert.equal(await cache.get(d), undefined);
  });

  it('a repository’s media type wins over the global one', async () => {
    const d = { digest: digestOf(randomBytes(8)), size: 5, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' };
    await cache.set(d.digest, { ...d, mediaType: 'application/octet-stream' });
    await cache.repositoryScoped('team/other').set(d.digest, d);
    assert.equal((await cache.repositoryScoped('team/other').get(d.digest))?.mediaType, d.mediaType);
    assert.equal((await cache.get(d.digest))?.mediaType, 'application/octet-stream');
  });
});

describe('redis cache without a reachable redis', () => {
  it('fails every call at once and logs the outage once, not per call', async () => {
    const port = await freePort(); // nothing listens there
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', formatter: 'json', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    const cache = new RedisBlobDescriptorCache(createRedisClient(redisConfig(`127.0.0.1:${port}`)), { logger, probeIntervalMs: 50 });
    try {
      const d = digestOf('x');
      // Wait for the first connection attempt to fail.
      await assert.rejects(cache.availability.ready(1000));
      for (let i = 0; i < 20; i++) {
        await assert.rejects(cache.repositoryScoped('a/b').get(d), CacheUnavailableError);
        await assert.rejects(cache.set(d, { digest: d, size: 1, mediaType: 'x' }), CacheUnavailableError);
      }
      await new Promise((r) => setTimeout(r, 300));
      const outages = lines.filter((l) => l.includes('redis not reachable'));
      assert.equal(outages.length, 1, lines.join(''));
    } finally {
      await cache.close();
    }
  });

  it('parses the address forms of redis.addr', () => {
    assert.deepEqual(parseRedisAddr('127.0.0.1:6380'), { host: '127.0.0.1', port: 6380 });
    assert.deepEqual(parseRedisAddr('redis'), { host: 'redis', port: 6379 });
    assert.deepEqual(parseRedisAddr('[::1]:7000'), { host: '::1', port: 7000 });
    assert.deepEqual(parseRedisAddr('/run/redis.sock'), { path: '/run/redis.sock' });
    assert.throws(() => parseRedisAddr('host:notaport'), /redis\.addrs/);
  });
});
