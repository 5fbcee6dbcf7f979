// Health checks from the `health:` section, /debug/health on the debug server, and the API
// answering 503 while a check fails, as the reference does. In-process registries on real
// listeners; the checked file, HTTP service and TCP port are real too.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { validateConfiguration } from '../../src/config/index.js';
import { startRegistry, type RunningRegistry } from '../../src/registry-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { HealthRegistry } from '../../src/health/health-registry.js';
import { freePort } from '../helpers/ports.js';
import { req } from '../helpers/registry-client.js';
import { eventually } from '../observability/prom-text.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-health-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function start(health: object): Promise<{ reg: RunningRegistry; debug: string }> {
  const debugPort = await freePort();
  const { config } = validateConfiguration({
    version: '0.1',
    storage: { filesystem: { rootdirectory: mkdtempSync(join(dir, 'root-')) } },
    http: { addr: '127.0.0.1:0', secret: 'health-test', debug: { addr: `127.0.0.1:${debugPort}` } },
    health,
  });
  const logger = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const reg = await startRegistry(config, { logger });
  return { reg, debug: `http://127.0.0.1:${debugPort}` };
}

function listenHttp(status: number): Promise<{ server: Server; url: string }> {
  return new Promise((resolve) => {
    const server = createServer((_req, res) => {
      res.writeHead(status);
      res.end();
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${port}/ping` });
    });
  });
}

describe('health', () => {
  it('a file check takes the API out of service while the file exists, and /debug/health says why', async () => {
    const file = join(dir, 'maintenance');
    writeFileSync(file, '');
    const { reg, debug } = await start({ file: [{ file, interval: '50ms' }] });
    try {
      await eventually('the API to answer 503', async () => (await req('GET', `${reg.url}/v2/`)).status === 503);
      const base = await req('GET', `${reg.url}/v2/`);
      assert.deepEqual(base.json(), { errors: [{ code: 'UNAVAILABLE', message: 'service unavailable', detail: 'health check failed: please see /debug/health' }] });
      assert.equal((await req('GET', `${reg.url}/v2/_catalog`)).status, 503);
      const h = await req('GET', `${debug}/debug/health`);
      assert.equal(h.status, 503);
      assert.match(h.headers.get('content-type') ?? '', /application\/json/);
      assert.deepEqual(h.json(), { [file]: 'file exists' });

      rmSync(file);
      await eventually('the API to come back', async () => (await req('GET', `${reg.url}/v2/`)).status === 200);
      const healthy = await req('GET', `${debug}/debug/health`);
      assert.equal(healthy.status, 200);
      assert.deepEqual(healthy.json(), {});
    } finally {
      await reg.close();
    }
  });

  it('http and tcp checks report a wrong status and a closed port; the storage driver check passes', async () => {
    const up = await listenHttp(200);
    const closedPort = await freePort();
    const { reg, debug } = await start({
      storagedriver: { enabled: true, interval: '50ms' },
      http: [{ uri: up.url, statuscode: 204, interval: '50ms', timeout: '1s' }],
      tcp: [{ addr: `127.0.0.1:${closedPort}`, interval: '50ms', timeout: '1s' }],
    });
    try {
      await eventually('both checks to fail', async () => Object.keys((await req('GET', `${debug}/debug/health`)).json<object>()).length === 2);
      assert.deepEqual((await req('GET', `${debug}/debug/health`)).json(), {
        [up.url]: 'downstream service returned unexpected status: 200',
        [`127.0.0.1:${closedPort}`]: `connection to 127.0.0.1:${closedPort} failed`,
      });
      assert.equal((await req('GET', `${reg.url}/v2/`)).status, 503);
    } finally {
      await reg.close();
      up.server.close();
    }
  });

  it('passing checks leave the API alone', async () => {
    const up = await listenHttp(200);
    const { reg, debug } = await start({
      storagedriver: { enabled: true, interval: '50ms' },
      http: [{ uri: up.url, interval: '50ms' }],
      tcp: [{ addr: up.url.replace('http://', '').replace('/ping', ''), interval: '50ms' }],
    });
    try {
      await new Promise((r) => setTimeout(r, 200)); // a few rounds of checks
      assert.equal((await req('GET', `${debug}/debug/health`)).status, 200);
      assert.equal((await req('GET', `${reg.url}/v2/`)).status, 200);
    } finally {
      await reg.close();
      up.server.close();
    }
  });
});

describe('health thresholds', () => {
  it('fails only after `threshold` failures in a row, and one success clears it', async () => {
    const health = new HealthRegistry();
    let ok = false;
    health.register('flaky', async () => {
      if (!ok) throw new Error('down');
    }, { intervalMs: 60_000, threshold: 2, critical: true });
    await health.runAll();
    assert.equal(health.serving, true, 'one failure is below the threshold');
    await health.runAll();
    assert.equal(health.serving, false);
    assert.deepEqual(health.failing(), { flaky: 'down' });
    ok = true;
    await health.runAll();
    assert.equal(health.serving, true);
    assert.deepEqual(health.failing(), {});
  });

  it('reports advisory checks without taking the API out of service', () => {
    const health = new HealthRegistry();
    health.report('redis', new Error('connection refused'));
    assert.equal(health.serving, true);
    assert.deepEqual(health.failing(), { redis: 'connection refused' });
    health.report('redis', undefined);
    assert.deepEqual(health.failing(), {});
  });

  it('keeps a status reported before its periodic check is registered, under the same name', async () => {
    const health = new HealthRegistry();
    health.report('redis', new Error('not reachable'));
    assert.equal(health.register('redis', async () => undefined, { intervalMs: 60_000, threshold: 1, critical: false }), 'redis');
    assert.deepEqual(health.failing(), { redis: 'not reachable' });
    await health.runAll();
    assert.deepEqual(health.failing(), {});
    assert.equal(health.register('redis', async () => undefined, { intervalMs: 60_000, threshold: 1, critical: false }), 'redis#2');
  });
});
