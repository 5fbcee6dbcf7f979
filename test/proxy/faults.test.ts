// An upstream that misbehaves (a forwarder in front of a real berth flips bytes, cuts bodies short,
// or stops answering): nothing wrong is ever committed, a cut download fails the client's body,
// the next pull succeeds, and a timed-out upstream is covered by the cached copy. The cache runs berth's `proxies:` mode here (prefix `up` → the upstream).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import { MANIFEST_ACCEPT, putManifest, req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { download, PatternBlob } from './helpers/blobs.js';
import { Forwarder } from './helpers/forwarder.js';
import { eventually, hasBlobData, hasLayerLink, hasManifestLink, uploadsLeft } from './helpers/storage.js';

const MiB = 1024 * 1024;
const STEP = { timeout: 180_000 };

describe('pull-through from a faulty upstream', () => {
  let upstream: RegistryServer;
  let forwarder: Forwarder;
  let cache: RegistryServer;
  let root: string;
  const large = new PatternBlob('faults-large', 24 * MiB); // hashed off the event loop
  const small = new PatternBlob('faults-small', 1 * MiB); // hashed inline
  const cut = new PatternBlob('faults-cut', 24 * MiB);
  const config = new PatternBlob('faults-config', 1000);
  let manifest: Buffer;
  let manifestDigest: string;

  before(async () => {
    upstream = await startBerth();
    for (const b of [large, small, cut, config]) await b.push(upstream.url, 'team/app');
    manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: small.digest, size: small.size }],
      }),
    );
    manifestDigest = await putManifest(upstream.url, 'team/app', 'v1', 'application/vnd.oci.image.manifest.v1+json', manifest);
    forwarder = await Forwarder.start(upstream.url);
    cache = await startBerth({ extraConfig: { log: { level: 'info' }, proxies: [{ prefix: 'up', remoteurl: forwarder.url, timeout: '1s' }] } });
    root = cache.rootdirectory as string;
  }, STEP);

  after(async () => {
    forwarder?.release();
    await cache?.stop();
    await forwarder?.stop();
    await upstream?.stop();
  });

  const blobURL = (b: PatternBlob) => `${cache.url}/v2/up/team/app/blobs/${b.digest}`;

  async function assertNothingCommitted(digest: string): Promise<void> {
    const failures = () => readFileSync(cache.logFile, 'utf8').split('\n').filter((l) => l.includes('nothing stored') && l.includes(digest)).length;
    await eventually('the cache gives the download up', () => failures() > 0);
    await eventually('the failed download is cleaned up', () => uploadsLeft(root, 'up/team/app').length === 0);
    assert.equal(hasBlobData(root, digest), false, 'no blob data stored');
    assert.equal(hasLayerLink(root, 'up/team/app', digest), false, 'no layer link');
  }

  for (const [name, blob] of [
    ['a large blob', large],
    ['a small blob', small],
  ] as const) {
    it(`fails the client and stores nothing when the upstream sends wrong bytes (${name}), then recovers`, STEP, async () => {
      forwarder.fault = { kind: 'corrupt' };
      const bad = await download(blobURL(blob), blob);
      const outcome = await bad.finished;
      // The bytes stream on as they come; the client's digest check (every registry client has
      // one) rejects them, or the cache cuts the body if the client is still reading when the
      // cache's own check fails. Either way nothing wrong is stored.
      assert.ok(!bad.intact || !outcome.complete, 'the client saw the corrupted byte or a cut body, never a clean end');
      await assertNothingCommitted(blob.digest);

      forwarder.fault = { kind: 'none' };
      const good = await download(blobURL(blob), blob);
      const done = await good.finished;
      assert.ok(done.complete && good.intact && good.received === blob.size, 'the next pull gets the right bytes');
      await eventually('the good download is stored', () => hasBlobData(root, blob.digest) && hasLayerLink(root, 'up/team/app', blob.digest));
    });
  }

  it('fails the client and stores nothing when the upstream cuts the connection, then recovers', STEP, async () => {
    forwarder.fault = { kind: 'cut', after: 5 * MiB };
    const bad = await download(blobURL(cut), cut);
    const outcome = await bad.finished;
    assert.equal(outcome.complete, false);
    assert.ok(bad.intact, 'what did arrive was right');
    await assertNothingCommitted(cut.digest);

    forwarder.fault = { kind: 'none' };
    const before = forwarder.count('GET', /\/blobs\//);
    const good = await download(blobURL(cut), cut);
    const done = await good.finished;
    assert.ok(done.complete && good.intact && good.received === cut.size);
    assert.equal(forwarder.count('GET', /\/blobs\//), before + 1, 'the retry downloaded again');
  });

  it('refuses a manifest whose bytes do not match its digest, then serves the right one', STEP, async () => {
    forwarder.fault = { kind: 'corrupt' };
    const bad = await req('GET', `${cache.url}/v2/up/team/app/manifests/${manifestDigest}`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(bad.status, 502, bad.text());
    assert.equal(hasManifestLink(root, 'up/team/app', manifestDigest), false);

    forwarder.fault = { kind: 'none' };
    const good = await req('GET', `${cache.url}/v2/up/team/app/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(good.status, 200, good.text());
    assert.ok(good.body.equals(manifest));
    assert.ok(hasManifestLink(root, 'up/team/app', manifestDigest));
  });

  it('serves the cached manifest when the upstream stops answering (timeout)', STEP, async () => {
    forwarder.fault = { kind: 'hang-manifests' };
    const res = await req('GET', `${cache.url}/v2/up/team/app/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(res.status, 200, res.text());
    assert.ok(res.body.equals(manifest));
    const uncached = await req('GET', `${cache.url}/v2/up/team/app/manifests/v2`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(uncached.status, 503, uncached.text());
    forwarder.fault = { kind: 'none' };
    assert.match(readFileSync(cache.logFile, 'utf8'), /no response from .* within 1000 ms/);
  });
});
