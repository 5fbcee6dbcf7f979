// Delivery against endpoints that misbehave: one that refuses its first requests (retries, the
// breaker's backoff, order kept, the status route's counters) and one that never answers (pushes
// are not slowed, other endpoints still get everything).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startBerth } from '../helpers/berth-server.js';
import { freePort } from '../helpers/ports.js';
import { pushBlob, putManifest, req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { MEDIA } from '../helpers/fixtures.js';
import { startReceiver, type Receiver } from './receivers.js';

/** Push a config, one layer and a manifest tagged `tag` with raw HTTP; resolves to the manifest digest. */
async function pushImage(url: string, repo: string, tag: string): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') }));
  const layer = randomBytes(4096);
  const configDigest = await pushBlob(url, repo, config);
  const layerDigest = await pushBlob(url, repo, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
      layers: [{ mediaType: MEDIA.ociLayer, digest: layerDigest, size: layer.length }],
    }),
  );
  return putManifest(url, repo, tag, MEDIA.ociManifest, manifest);
}

interface EndpointStatusJSON {
  name: string;
  pending: number;
  events: number;
  delivered: number;
  failed: number;
  errors: number;
  lastStatus: number | null;
  statuses: Record<string, number>;
}

async function status(debugPort: number): Promise<EndpointStatusJSON[]> {
  const res = await req('GET', `http://127.0.0.1:${debugPort}/debug/notifications`);
  assert.equal(res.status, 200);
  return res.json<{ endpoints: EndpointStatusJSON[] }>().endpoints;
}


describe('notification delivery', () => {
  it('retries an endpoint that refuses its first requests, backing off, and delivers everything in order', { timeout: 120_000 }, async () => {
    const recorder = await startReceiver();
    const flaky = await startReceiver({ kind: 'fail-first', failures: 5, status: 503 });
    const debugPort = await freePort();
    let berth: RegistryServer | undefined;
    try {
      berth = await startBerth({
        extraConfig: {
          http: { debug: { addr: `127.0.0.1:${debugPort}` } },
          notifications: {
            endpoints: [
              { name: 'recorder', url: recorder.url },
              { name: 'flaky', url: flaky.url, threshold: 2, backoff: '200ms', timeout: '2s' },
            ],
          },
        },
      });
      for (let i = 0; i < 3; i++) await pushImage(berth.url, 'retry/app', `v${i}`);
      const expected = await recorder.waitFor((es) => es.length >= 9, 30_000, 'the recorder');
      const delivered = await flaky.waitFor((es) => es.length >= 9, 30_000, 'the flaky endpoint');
      assert.deepEqual(
        delivered.map((e) => e.id),
        expected.map((e) => e.id),
        'the refused events arrive, in order, nothing skipped',
      );
      // Every refused request was the first envelope again: nothing overtook it.
      const refused = flaky.requests.filter((r) => r.status === 503);
      assert.equal(refused.length, 5);
      for (const r of refused) assert.equal(r.events[0]!.id, expected[0]!.id);

      const [rec, fl] = await status(debugPort);
      assert.equal(rec!.name, 'recorder');
      assert.deepEqual({ pending: rec!.pending, delivered: rec!.delivered, failed: rec!.failed, lastStatus: rec!.lastStatus }, { pending: 0, delivered: 9, failed: 0, lastStatus: 200 });
      assert.equal(fl!.name, 'flaky');
      assert.equal(fl!.pending, 0);
      assert.equal(fl!.delivered, 9);
      assert.equal(fl!.events, 9);
      assert.equal(fl!.lastStatus, 200);
      assert.equal(fl!.statuses['503'], fl!.failed, 'refused events are counted by status');
      assert.ok(fl!.failed >= 5, `${fl!.failed} events in refused attempts`);
    } finally {
      await berth?.stop();
      await Promise.all([recorder.close(), flaky.close()]);
    }
  });

  it('a hanging endpoint blocks neither pushes nor the other endpoints', { timeout: 180_000 }, async () => {
    const rounds = 4;
    const receivers: Receiver[] = [];
    const servers: RegistryServer[] = [];
    try {
      const recorder = await startReceiver();
      const hanging = await startReceiver({ kind: 'hang' });
      receivers.push(recorder, hanging);
      const debugPort = await freePort();
      // The hanging endpoint's timeout is far longer than this test may run: a push that waited
      // for its delivery would never finish (the test's timeout fails it).
      const withHang = await startBerth({
        extraConfig: {
          http: { debug: { addr: `127.0.0.1:${debugPort}` } },
          notifications: {
            endpoints: [
              { name: 'hanging', url: hanging.url, timeout: '1h', threshold: 1, backoff: '100ms' },
              { name: 'recorder', url: recorder.url },
            ],
          },
        },
      });
      servers.push(withHang);

      for (let i = 0; i <= rounds; i++) await pushImage(withHang.url, 'latency/app', `v${i}`);

      // The healthy endpoint beside the hanging one got everything; the hanging one holds its queue.
      const total = (rounds + 1) * 3;
      await recorder.waitFor((es) => es.length >= total, 30_000, 'the recorder beside the hanging endpoint');
      assert.ok(hanging.requests.length >= 1, 'the hanging endpoint was tried');
      const [hang, rec] = await status(debugPort);
      assert.equal(hang!.name, 'hanging');
      assert.equal(hang!.delivered, 0);
      assert.equal(hang!.pending, total);
      assert.equal(rec!.delivered, total);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await Promise.all(receivers.map((r) => r.close()));
    }
  });
});
