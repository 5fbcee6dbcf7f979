// Prometheus metrics on the debug server of a berth process with the Redis cache (on a
// redis-server this test starts): a HEAD on a cached blob does no storage I/O, and the HTTP,
// cache, transfer, upload and process metrics are exposed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startBerth } from '../helpers/berth-server.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { freePort } from '../helpers/ports.js';
import { pushBlob, req } from '../helpers/registry-client.js';
import { startRedisServer, type RedisServer } from '../cache/redis-server.js';
import { eventually, scrape, sum } from './prom-text.js';

describe('metrics on the debug server', () => {
  let redis: RedisServer;
  let berth: RegistryServer;
  let debugUrl: string;

  before(async () => {
    redis = await startRedisServer();
    const debugPort = await freePort();
    debugUrl = `http://127.0.0.1:${debugPort}`;
    berth = await startBerth({
      extraConfig: {
        storage: { cache: { blobdescriptor: 'redis' } },
        redis: { addr: redis.addr, db: 1, dialtimeout: '1s', readtimeout: '1s', writetimeout: '1s', pool: { maxidle: 4, maxactive: 8, idletimeout: '60s' } },
        http: { debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true, path: '/metrics' } } },
        log: { accesslog: { disabled: true } },
      },
    });
    // The cache is in use once the health report is clean.
    await eventually('a healthy registry', async () => (await req('GET', `${debugUrl}/debug/health`)).status === 200);
  });
  after(async () => {
    await berth?.stop();
    await redis?.dispose();
  });

  it('a HEAD on a blob in the Redis cache does no storage I/O', async () => {
    const bytes = randomBytes(4096);
    const digest = await pushBlob(berth.url, 'metrics/head', bytes);
    const before = await scrape(debugUrl);
    const N = 25;
    for (let i = 0; i < N; i++) {
      const res = await req('HEAD', `${berth.url}/v2/metrics/head/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(bytes.length));
    }
    const after = await scrape(debugUrl);
    const ops = (s: typeof before) => sum(s, 'registry_storage_action_seconds_count');
    assert.ok(ops(before) > 0, 'the push should have been measured as storage operations');
    assert.equal(ops(after), ops(before), 'HEADs on a cached blob touched storage');
    assert.equal(sum(after, 'registry_storage_cache_total', { cache: 'redis', type: 'Hit' }) - sum(before, 'registry_storage_cache_total', { cache: 'redis', type: 'Hit' }), N);
    assert.equal(
      sum(after, 'registry_http_requests_total', { handler: 'blob', method: 'HEAD', code: '200' }) - sum(before, 'registry_http_requests_total', { handler: 'blob', method: 'HEAD', code: '200' }),
      N,
    );
  });

  it('a HEAD the cache cannot answer goes to storage, and its failures are counted', async () => {
    await pushBlob(berth.url, 'metrics/miss', randomBytes(100));
    const unknown = `sha256:${'ab'.repeat(32)}`;
    const s0 = await scrape(debugUrl);
    assert.equal((await req('HEAD', `${berth.url}/v2/metrics/miss/blobs/${unknown}`)).status, 404);
    const s1 = await scrape(debugUrl);
    const delta = (name: string, labels: Record<string, string>) => sum(s1, name, labels) - sum(s0, name, labels);
    assert.ok(delta('registry_storage_action_seconds_count', { action: 'GetContent' }) >= 1, 'the link was not read from storage');
    assert.ok(delta('registry_storage_action_errors_total', { action: 'GetContent', error: 'PathNotFoundError' }) >= 1);
    assert.equal(delta('registry_storage_cache_total', { cache: 'redis', type: 'Miss' }), 1);
  });

  it('counts requests with latency histograms, bytes pushed and pulled, uploads and process metrics', async () => {
    const s0 = await scrape(debugUrl);
    const bytes = randomBytes(70_000);
    const digest = await pushBlob(berth.url, 'metrics/bytes', bytes);
    const get = await req('GET', `${berth.url}/v2/metrics/bytes/blobs/${digest}`);
    assert.equal(get.status, 200);
    assert.equal((await req('GET', `${berth.url}/v2/metrics/bytes/blobs/sha256:${'0'.repeat(64)}`)).status, 404);
    const s1 = await scrape(debugUrl);
    const delta = (name: string, labels: Record<string, string> = {}) => sum(s1, name, labels) - sum(s0, name, labels);

    assert.equal(delta('registry_bytes_pushed_total', { kind: 'blob' }), bytes.length);
    assert.equal(delta('registry_bytes_pulled_total', { kind: 'blob' }), bytes.length);
    assert.equal(delta('registry_uploads_total', { event: 'started' }), 1);
    assert.equal(delta('registry_uploads_total', { event: 'completed' }), 1);
    assert.equal(sum(s1, 'registry_uploads_in_progress'), 0);
    assert.equal(delta('registry_http_requests_total', { handler: 'blob_upload', method: 'POST', code: '202' }), 1);
    assert.equal(delta('registry_http_requests_total', { handler: 'blob_upload_chunk', method: 'PUT', code: '201' }), 1);
    assert.equal(delta('registry_http_requests_total', { handler: 'blob', method: 'GET', code: '404' }), 1);
    assert.equal(delta('registry_http_request_duration_seconds_count', { handler: 'blob', method: 'GET', code: '200' }), 1);
    assert.ok(s1.some((s) => s.name === 'registry_http_request_duration_seconds_bucket' && s.labels.le === '+Inf'));
    assert.ok(sum(s1, 'registry_storage_action_seconds_count', { driver: 'filesystem', action: 'Move' }) >= 1, 'the upload commit (a move) was not measured');
    assert.ok(sum(s1, 'process_cpu_user_seconds_total') > 0, 'process metrics missing');
    assert.ok(s1.some((s) => s.name === 'nodejs_heap_size_used_bytes'), 'Node heap metrics missing');
  });

  it('serves nothing else on the debug server', async () => {
    assert.equal((await req('GET', `${debugUrl}/v2/`)).status, 404);
    assert.equal((await req('POST', `${debugUrl}/metrics`)).status, 405);
  });
});
