// The listener and its plumbing, with the registry in process: multi-tag pushes, pushes by digest,
// tag deletes, the referrers listing, the actor, forwarded addresses, relative URLs, the status
// route on the debug server, metric samples, the default queue directory and its lock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { validateConfiguration } from '../../src/config/index.js';
import type { Installer } from '../../src/composition.js';
import { notificationMetrics } from '../../src/features/notifications.js';
import { Notifier, queueDirName } from '../../src/notifications/notifier.js';
import { queueDirectory } from '../../src/notifications/queue-directory.js';
import { createLogger } from '../../src/observability/logger.js';
import { startRegistry, type RunningRegistry } from '../../src/registry-server.js';
import { MEDIA } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { mergeConfig } from '../helpers/registry-config.js';
import { req, resolveLocation } from '../helpers/registry-client.js';
import { startReceiver, type Receiver } from './receivers.js';
import { describeEvent } from './scenario.js';

const quiet = () => createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface Started {
  reg: RunningRegistry;
  receiver: Receiver;
  dir: string;
  stop(): Promise<void>;
}

async function start(extra: object = {}, installers: Installer[] = [], logLines?: string[]): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-listener-'));
  const receiver = await startReceiver();
  const raw = mergeConfig(
    {
      version: '0.1',
      log: { level: 'error' },
      storage: { inmemory: {}, delete: { enabled: true } },
      http: { addr: '127.0.0.1:0', secret: 'test' },
      notifications: { endpoints: [{ name: 'rec', url: receiver.url }], queue: { directory: join(dir, 'queue') } },
    },
    extra,
  );
  const { config } = validateConfiguration(raw);
  const logger = logLines
    ? createLogger({ level: 'warn', destination: new Writable({ write: (c, _e, cb) => void (logLines.push(String(c)), cb()) }) })
    : quiet();
  const reg = await startRegistry(config, { logger, installers });
  return {
    reg,
    receiver,
    dir,
    async stop() {
      await reg.close();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function monolithic(base: string, repo: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const digest = sha256(bytes);
  const res = await req('POST', `${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: { ...headers, 'content-type': 'application/octet-stream' }, body: bytes });
  assert.equal(res.status, 201, res.text());
  return digest;
}

function manifestOf(config: string, configSize: number, layer: string, layerSize: number, subject?: { digest: string; size: number }): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: config, size: configSize },
      layers: [{ mediaType: MEDIA.ociLayer, digest: layer, size: layerSize }],
      ...(subject ? { subject: { mediaType: MEDIA.ociManifest, ...subject } } : {}),
    }),
  );
}

describe('notification listener', () => {
  it('reports a push per tag applied, untagged pushes by digest, tag deletes, and no pulls for the referrers listing', { timeout: 60_000 }, async () => {
    const s = await start();
    try {
      const base = s.reg.url;
      const repo = 'lst/app';
      const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
      const layer = Buffer.from('layer bytes');
      const c = await monolithic(base, repo, config);
      // A chunked upload: POST, PATCH, PUT.
      const started = await req('POST', `${base}/v2/${repo}/blobs/uploads/`);
      const patched = await req('PATCH', resolveLocation(base, started.headers.get('location')).toString(), { headers: { 'content-type': 'application/octet-stream' }, body: layer });
      const finish = resolveLocation(base, patched.headers.get('location'));
      finish.searchParams.set('digest', sha256(layer));
      assert.equal((await req('PUT', finish.toString())).status, 201);
      const l = sha256(layer);

      const first = manifestOf(c, config.length, l, layer.length);
      const d1 = sha256(first);
      const put1 = await req('PUT', `${base}/v2/${repo}/manifests/${d1}?tag=a&tag=b`, { headers: { 'content-type': MEDIA.ociManifest }, body: first });
      assert.equal(put1.status, 201);
      const second = manifestOf(c, config.length, l, layer.length, { digest: d1, size: first.length });
      const d2 = sha256(second);
      assert.equal((await req('PUT', `${base}/v2/${repo}/manifests/${d2}`, { headers: { 'content-type': MEDIA.ociManifest }, body: second })).status, 201);
      assert.equal((await req('GET', `${base}/v2/${repo}/referrers/${d1}`)).status, 200);
      assert.equal((await req('DELETE', `${base}/v2/${repo}/manifests/a`)).status, 202);

      const events = await s.receiver.waitFor((es) => es.length >= 6, 20_000);
      assert.deepEqual(events.map(describeEvent), [
        `push POST ${repo} ${c}`,
        `push PUT ${repo} ${l}`,
        `push PUT ${repo} ${d1} a`,
        `push PUT ${repo} ${d1} b`,
        `push PUT ${repo} ${d2}`,
        `delete DELETE ${repo} a`,
      ]);
      assert.equal(events[2]!.request.id, events[3]!.request.id, 'both tags come from one request');
      assert.notEqual(events[2]!.id, events[3]!.id);
    } finally {
      await s.stop();
    }
  });

  it('names the authenticated user, the forwarded client address, and builds relative URLs when configured', { timeout: 60_000 }, async () => {
    // Stands in for the auth layer: it sets ctx.user.
    const fakeAuth: Installer = { name: 'fake-auth', app: (comp) => void comp.gates.push((ctx) => void (ctx.user = ctx.req.headers['x-test-user'] as string | undefined)) };
    const s = await start({ http: { relativeurls: true } }, [fakeAuth]);
    try {
      const digest = await monolithic(s.reg.url, 'who/app', Buffer.from('abc'), { 'x-test-user': 'alice', 'x-forwarded-for': '203.0.113.7, 10.0.0.1', 'user-agent': 'test-agent/1.0' });
      await monolithic(s.reg.url, 'who/app', Buffer.from('def'), { 'x-real-ip': '2001:db8::1' });
      const [withUser, anonymous] = await s.receiver.waitFor((es) => es.length >= 2);
      assert.deepEqual(withUser!.actor, { name: 'alice' });
      assert.equal(withUser!.request.addr, '203.0.113.7');
      assert.equal(withUser!.request.useragent, 'test-agent/1.0');
      assert.equal(withUser!.target.url, `/v2/who/app/blobs/${digest}`);
      assert.deepEqual(anonymous!.actor, {});
      assert.equal(anonymous!.request.addr, '2001:db8::1');
    } finally {
      await s.stop();
    }
  });

  it('serves its status on the debug server and hands metric samples to an exporter', { timeout: 60_000 }, async () => {
    const debugPort = await freePort();
    const s = await start({ http: { debug: { addr: `127.0.0.1:${debugPort}` } } });
    try {
      await monolithic(s.reg.url, 'st/app', Buffer.from('status'));
      await s.receiver.waitFor((es) => es.length >= 1);
      const res = await req('GET', `http://127.0.0.1:${debugPort}/debug/notifications`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = res.json<{ queueDirectory: string; maxEvents: number; endpoints: Record<string, unknown>[] }>();
      assert.equal(body.queueDirectory, join(s.dir, 'queue'));
      assert.equal(body.maxEvents, 100000);
      assert.deepEqual(
        { ...body.endpoints[0], lastSuccess: typeof body.endpoints[0]!.lastSuccess },
        {
          name: 'rec',
          url: s.receiver.url,
          pending: 0,
          events: 1,
          delivered: 1,
          failed: 0,
          errors: 0,
          dropped: 0,
          ignored: 0,
          lost: 0,
          lastStatus: 200,
          lastError: null,
          lastSuccess: 'string',
          lastFailure: null,
          consecutiveFailures: 0,
          backoffUntil: null,
          statuses: { '200': 1 },
        },
      );
      const samples = notificationMetrics(s.reg.composition)!.samples();
      const value = (name: string, labels: Record<string, string>) => samples.find((m) => m.name === name && Object.entries(labels).every(([k, v]) => m.labels[k] === v))?.value;
      assert.equal(value('registry_notifications_events_total', { type: 'Successes', endpoint: 'rec' }), 1);
      assert.equal(value('registry_notifications_pending', { endpoint: 'rec' }), 0);
      assert.equal(value('registry_notifications_status_total', { code: '200', endpoint: 'rec' }), 1);
      assert.equal(value('berth_notifications_last_status', { endpoint: 'rec' }), 200);
    } finally {
      await s.stop();
    }
  });
});

describe('notification queue bound', () => {
  it('keeps the newest maxevents while the endpoint is down, counting and logging what it drops', { timeout: 60_000 }, async () => {
    const downPort = await freePort();
    const debugPort = await freePort();
    const lines: string[] = [];
    const s = await start(
      {
        http: { debug: { addr: `127.0.0.1:${debugPort}` } },
        notifications: { endpoints: [{ name: 'rec', url: `http://127.0.0.1:${downPort}/events`, threshold: 1, backoff: '100ms' }], queue: { maxevents: 3 } },
      },
      [],
      lines,
    );
    let late: Receiver | undefined;
    try {
      const digests: string[] = [];
      for (let i = 0; i < 5; i++) digests.push(await monolithic(s.reg.url, 'bound/app', Buffer.from(`blob ${i}`)));
      const res = await req('GET', `http://127.0.0.1:${debugPort}/debug/notifications`);
      const [ep] = res.json<{ endpoints: { pending: number; dropped: number; events: number }[] }>().endpoints;
      assert.deepEqual({ pending: ep!.pending, dropped: ep!.dropped, events: ep!.events }, { pending: 3, dropped: 2, events: 5 });
      assert.ok(lines.some((l) => l.includes('dropped the oldest events')), 'the drop was logged');
      const samples = notificationMetrics(s.reg.composition)!.samples();
      assert.equal(samples.find((m) => m.name === 'registry_notifications_events_total' && m.labels.type === 'Dropped')?.value, 2);

      late = await startReceiver({ kind: 'record' }, downPort);
      const events = await late.waitFor((es) => es.length >= 3);
      assert.deepEqual(events.map((e) => e.target.digest), digests.slice(2), 'the newest three, in order');
    } finally {
      await s.stop();
      await late?.close();
    }
  });
});

describe('notification queue directory', () => {
  const configWith = (extra: object) =>
    validateConfiguration(mergeConfig({ version: '0.1', storage: { filesystem: { rootdirectory: '/var/lib/registry' } } }, extra)).config;

  it('defaults beside the filesystem storage root, else ./data/notifications', () => {
    assert.equal(queueDirectory(configWith({})), '/var/lib/berth-notifications');
    assert.equal(queueDirectory(configWith({ storage: { filesystem: null, inmemory: {} } })), resolve('data', 'notifications'));
    assert.equal(queueDirectory(configWith({ notifications: { queue: { directory: 'q' } } })), resolve('q'));
  });

  it('names each endpoint queue after its endpoint and refuses names that would collide', () => {
    assert.equal(queueDirName('audit', 0), 'audit');
    assert.equal(queueDirName('', 3), 'endpoint-3');
    assert.match(queueDirName('ci / builds', 0), /^ci_builds-[0-9a-f]{8}$/);
    const dir = mkdtempSync(join(tmpdir(), 'berth-qnames-'));
    try {
      const ep = { name: 'a', disabled: false, url: 'http://127.0.0.1:1/', headers: {}, timeout: 1000, threshold: 10, backoff: 1000, ignoredmediatypes: [], ignore: { mediatypes: [], actions: [] } };
      assert.throws(() => new Notifier({ endpoints: [ep, { ...ep }], directory: dir, maxEvents: 10, logger: quiet() }), /distinct names/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a directory that another live berth process holds', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-qlock-'));
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: other.pid, host: hostname() }));
      const endpoints = [{ name: 'a', disabled: false, url: 'http://127.0.0.1:1/', headers: {}, timeout: 1000, threshold: 10, backoff: 1000, ignoredmediatypes: [], ignore: { mediatypes: [], actions: [] } }];
      assert.throws(() => new Notifier({ endpoints, directory: dir, maxEvents: 10, logger: quiet() }), new RegExp(`in use by berth process ${other.pid}`));
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
      // The holder is gone: its lock is taken over.
      const n = new Notifier({ endpoints, directory: dir, maxEvents: 10, logger: quiet() });
      await n.close();
    } finally {
      other.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
