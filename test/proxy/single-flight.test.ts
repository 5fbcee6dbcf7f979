// Concurrent pulls of one uncached blob through the cache: one upstream download, every client
// streaming from it while it runs (late joiners and range requests included), all of them
// getting the right bytes; and the download lands in storage for the next pull.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { download, PatternBlob, type Download } from './helpers/blobs.js';
import { Forwarder } from './helpers/forwarder.js';
import { eventually, hasBlobData, hasLayerLink } from './helpers/storage.js';

const MiB = 1024 * 1024;
const STEP = { timeout: 300_000 };

describe('single-flight pull-through of a large blob', () => {
  let upstream: RegistryServer;
  let forwarder: Forwarder;
  let cache: RegistryServer;
  const blob = new PatternBlob('single-flight', 200 * MiB);

  before(async () => {
    upstream = await startBerth();
    await blob.push(upstream.url, 'big/blob');
    forwarder = await Forwarder.start(upstream.url);
    cache = await startBerth({ extraConfig: { log: { level: 'info' }, proxy: { remoteurl: forwarder.url } } });
  }, STEP);

  after(async () => {
    forwarder?.release();
    await cache?.stop();
    await forwarder?.stop();
    await upstream?.stop();
  });

  it('serves twenty concurrent pulls of an uncached 200 MiB blob from one upstream GET', STEP, async () => {
    const url = `${cache.url}/v2/big/blob/blobs/${blob.digest}`;
    // Hold the upstream body a third of the way through, to watch the clients while it runs.
    forwarder.hold(64 * MiB);
    const first = await Promise.all(Array.from({ length: 10 }, () => download(url, blob)));
    await forwarder.holdReached;
    await eventually('the first clients stream bytes while the download is still running', () => first.every((d) => d.received >= 8 * MiB));

    // Late joiners start from byte 0 and catch up from what is already downloaded.
    const late = await Promise.all(Array.from({ length: 9 }, () => download(url, blob)));
    // A range beyond what has arrived waits for it (its response starts with its first byte).
    const rangedResponse = download(url, blob, 150 * MiB);
    await eventually('late joiners catch up while the download is still running', () => late.every((d) => d.received >= 8 * MiB));
    assert.ok([...first, ...late].every((d) => d.received <= 64 * MiB), 'nobody got more than the upstream sent so far');

    forwarder.release();
    const ranged = await rangedResponse;
    const all: Download[] = [...first, ...late, ranged];
    const results = await Promise.all(all.map((d) => d.finished));
    all.forEach((d, i) => {
      const expected = d === ranged ? blob.size - 150 * MiB : blob.size;
      assert.equal(d.status, d === ranged ? 206 : 200, `client ${i} status`);
      assert.ok(results[i]?.complete, `client ${i} got a complete body (${results[i]?.error?.message ?? ''})`);
      assert.equal(d.received, expected, `client ${i} byte count`);
      assert.ok(d.intact, `client ${i} got the right bytes`);
    });
    assert.equal(forwarder.count('GET', /\/blobs\//), 1, 'exactly one upstream blob GET');

    // Stored: the next pull comes from the cache's storage.
    const root = cache.rootdirectory as string;
    await eventually('the blob is stored and linked', () => hasBlobData(root, blob.digest) && hasLayerLink(root, 'big/blob', blob.digest));
    // Plain HTTP upstream, filesystem storage: the body was read by the addon into recycled
    // buffers lent to the clients above, and none of them saw a byte overwritten.
    const stored = readFileSync(cache.logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('blob pulled through and stored'));
    assert.match(stored ?? '', /native=true/, 'the upstream body was read natively');
    const again = await download(url, blob);
    const done = await again.finished;
    assert.ok(done.complete && again.intact && again.received === blob.size);
    assert.equal(forwarder.count('GET', /\/blobs\//), 1, 'the cached pull did not go upstream');
  });

  it('serves a client slower than the upstream from memory: the download waits for it and reads nothing back from the spool', STEP, async () => {
    const slow = new PatternBlob('slow-client', 48 * MiB);
    await slow.push(upstream.url, 'big/slow');
    // About 40 MiB/s, well below what the upstream sends here.
    const d = await download(`${cache.url}/v2/big/slow/blobs/${slow.digest}`, slow, 0, { pauseMsPerMiB: 25 });
    const done = await d.finished;
    assert.ok(done.complete && d.intact && d.received === slow.size, 'the slow client got every byte, right');
    const stored = () =>
      readFileSync(cache.logFile, 'utf8')
        .split('\n')
        .find((l) => l.includes('blob pulled through and stored') && l.includes(slow.digest));
    await eventually('the download is logged', () => stored() !== undefined);
    assert.match(stored() ?? '', /native=true/);
    assert.match(stored() ?? '', /servedFromSpool=0\b/, 'every byte reached the client from memory');
  });

  it('keeps pace with its client, but a client that stops reading does not hold the download up', STEP, async () => {
    const stall = new PatternBlob('stalled-client', 96 * MiB);
    await stall.push(upstream.url, 'big/stall');
    const root = cache.rootdirectory as string;
    // A client that takes the first bytes and then stops reading (its socket buffers fill up).
    let received = 0;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request(`${cache.url}/v2/big/stall/blobs/${stall.digest}`, { agent: false }, resolve).on('error', reject).end();
    });
    assert.equal(res.statusCode, 200);
    const chunks: Buffer[] = [];
    let stalled = false;
    await new Promise<void>((resolve) => {
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        received += c.length;
        if (!stalled && received >= 4 * MiB) {
          stalled = true;
          res.pause();
          resolve();
        }
      });
    });
    // The download notices the stall and finishes on its own: the blob is stored and linked.
    await eventually('the blob is stored while the client is stalled', () => hasBlobData(root, stall.digest) && hasLayerLink(root, 'big/stall', stall.digest), 60_000);
    // The client then reads on and gets every byte, right.
    const done = new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
    });
    res.resume();
    await done;
    const body = Buffer.concat(chunks);
    assert.equal(body.length, stall.size);
    assert.ok(stall.matches(0, body), 'the stalled client got the right bytes');
  });
});
