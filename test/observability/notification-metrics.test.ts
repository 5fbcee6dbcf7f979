// The notification queues' figures appear on the Prometheus endpoint of the debug server: a push
// while the endpoint is unreachable shows up as pending events for that endpoint.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startBerth } from '../helpers/berth-server.js';
import { freePort } from '../helpers/ports.js';
import { pushBlob } from '../helpers/registry-client.js';
import { eventually, scrape } from './prom-text.js';

it('serves per-endpoint notification metrics with the registry metrics', { timeout: 120_000 }, async () => {
  const debugPort = await freePort();
  const deadPort = await freePort(); // nothing listens here
  const berth = await startBerth({
    extraConfig: {
      http: { debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true, path: '/metrics' } } },
      notifications: { endpoints: [{ name: 'audit', url: `http://127.0.0.1:${deadPort}/events`, timeout: '200ms', threshold: 1, backoff: '30s' }] },
    },
  });
  try {
    await pushBlob(berth.url, 'notify/metrics', randomBytes(100));
    await eventually('pending notification events', async () => {
      const samples = await scrape(`http://127.0.0.1:${debugPort}`);
      const pending = samples.filter((s) => s.name === 'registry_notifications_pending' && s.labels.endpoint === 'audit');
      return pending.length === 1 && pending[0]!.value >= 1;
    });
    const samples = await scrape(`http://127.0.0.1:${debugPort}`);
    assert.ok(samples.some((s) => s.name === 'registry_http_requests_total'), 'the registry metrics are still there');
  } finally {
    await berth.stop();
  }
});
