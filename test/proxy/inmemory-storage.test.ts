// The cache over storage that is not the local filesystem (here the inmemory driver): downloads
// spool to a private temp file and are written through the driver as they arrive. Same promises:
// one upstream GET for concurrent pulls, late joiners streaming, nothing stored from a cut
// download, the next pull served from storage.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { download, PatternBlob } from './helpers/blobs.js';
import { Forwarder } from './helpers/forwarder.js';
import { eventually } from './helpers/storage.js';

const MiB = 1024 * 1024;
const STEP = { timeout: 180_000 };

describe('pull-through cache over in-memory storage', () => {
  let upstream: RegistryServer;
  let forwarder: Forwarder;
  let cache: RegistryServer;
  const blob = new PatternBlob('inmemory-shared', 40 * MiB);
  const cut = new PatternBlob('inmemory-cut', 12 * MiB);
  const slow = new PatternBlob('inmemory-slow', 32 * MiB);

  before(async () => {
    upstream = await startBerth();
    await blob.push(upstream.url, 'team/blob');
    await cut.push(upstream.url, 'team/blob');
    await slow.push(upstream.url, 'team/blob');
    forwarder = await Forwarder.start(upstream.url);
    cache = await startBerth({ inmemory: true, extraConfig: { log: { level: 'info' }, proxy: { remoteurl: forwarder.url } } });
  }, STEP);

  after(async () => {
    forwarder?.release();
    await cache?.stop();
    await forwarder?.stop();
    await upstream?.stop();
  });

  const url = (b: PatternBlob) => `${cache.url}/v2/team/blob/blobs/${b.digest}`;
  const storedLine = (b: PatternBlob) => readFileSync(cache.logFile, 'utf8').split('\n').find((l) => l.includes('blob pulled through and stored') && l.includes(b.digest));
  const stored = (b: PatternBlob) => storedLine(b) !== undefined;
  const gets = (b: PatternBlob) => forwarder.count('GET', new RegExp(`/blobs/${b.digest}$`));

  it('shares one upstream download between concurrent and late clients, then serves from storage', STEP, async () => {
    forwarder.hold(16 * MiB);
    const first = await Promise.all(Array.from({ length: 4 }, () => download(url(blob), blob)));
    await forwarder.holdReached;
    await eventually('clients stream while the download runs', () => first.every((d) => d.received >= 4 * MiB));
    const late = await Promise.all(Array.from({ length: 3 }, () => download(url(blob), blob)));
    await eventually('late joiners catch up', () => late.every((d) => d.received >= 4 * MiB));
    forwarder.release();
    const all = [...first, ...late];
    const results = await Promise.all(all.map((d) => d.finished));
    all.forEach((d, i) => assert.ok(results[i]?.complete && d.intact && d.received === blob.size, `client ${i}`));
    assert.equal(gets(blob), 1);

    await eventually('the download is stored', () => stored(blob));
    const again = await download(url(blob), blob);
    assert.ok((await again.finished).complete && again.intact && again.received === blob.size);
    assert.equal(gets(blob), 1, 'the next pull came from storage');
  });

  it('stores nothing from a cut download, and the next pull succeeds', STEP, async () => {
    forwarder.fault = { kind: 'cut', after: 3 * MiB };
    const bad = await download(url(cut), cut);
    assert.equal((await bad.finished).complete, false);
    forwarder.fault = { kind: 'none' };
    const good = await download(url(cut), cut);
    assert.ok((await good.finished).complete && good.intact && good.received === cut.size);
    assert.equal(gets(cut), 2, 'the failed download was not reused');
    await eventually('the download is stored', () => stored(cut));
    const cached = await download(url(cut), cut);
    assert.ok((await cached.finished).complete && cached.intact);
    assert.equal(gets(cut), 2);
  });
  it('serves a client slower than the upstream from memory (a stream body, written through the driver)', STEP, async () => {
    // About 40 MiB/s: the download waits for this client, a batch at a time.
    const d = await download(url(slow), slow, 0, { pauseMsPerMiB: 25 });
    assert.ok((await d.finished).complete && d.intact && d.received === slow.size);
    await eventually('the download is stored', () => stored(slow));
    assert.match(storedLine(slow) ?? '', /native=false/);
    assert.match(storedLine(slow) ?? '', /servedFromSpool=0\b/, 'every byte reached the client from memory');
  });
});
