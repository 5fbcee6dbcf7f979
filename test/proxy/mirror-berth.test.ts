// The reference's proxy mode (`proxy.remoteurl`: the whole registry mirrors one upstream) with
// another berth process as the upstream, a counting forwarder between them, and skopeo pulling
// through the cache: byte-identical content, a second pull that leaves the upstream alone, cached
// content served while the upstream is down, and writes refused.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import { buildMultiArchIndex, buildOciImage, layoutBlobs, type BuiltImage, type BuiltIndex } from '../helpers/fixtures.js';
import { MANIFEST_ACCEPT, req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { copy, dockerRef, inspectRaw, listTags } from '../helpers/skopeo.js';
import { Forwarder } from './helpers/forwarder.js';
import { eventually, hasBlobData, hasLayerLink, hasManifestLink, tagLink, uploadsLeft } from './helpers/storage.js';

const STEP = { timeout: 180_000 };

describe('pull-through mirror of a berth upstream (proxy.remoteurl)', () => {
  let work: string;
  let upstream: RegistryServer;
  let forwarder: Forwarder;
  let cache: RegistryServer;
  let image: BuiltImage;
  let multi: BuiltIndex;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-proxy-mirror-'));
    upstream = await startBerth();
    image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 3 * 1024 * 1024 }, { size: 700_000 }, { size: 40_000 }] });
    multi = await buildMultiArchIndex(join(work, 'multi'), { tag: 'v1' });
    await copy(image.ref, dockerRef(upstream.url, 'team/app', 'v1'));
    await copy(image.ref, dockerRef(upstream.url, 'team/app', 'v0'));
    await copy(multi.ref, dockerRef(upstream.url, 'team/multi', 'v1'), { all: true });
    forwarder = await Forwarder.start(upstream.url);
    cache = await startBerth({ extraConfig: { log: { level: 'info' }, proxy: { remoteurl: forwarder.url } } });
  }, STEP);

  after(async () => {
    await cache?.stop();
    await forwarder?.stop();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('pulls a multi-layer image through the cache byte for byte, and keeps it', STEP, async () => {
    const dest = join(work, 'pulled-app');
    await copy(dockerRef(cache.url, 'team/app', 'v1'), `oci:${dest}:v1`);
    const blobs = await layoutBlobs(dest); // every file checked against its digest
    for (const digest of [image.manifest.digest, ...image.blobs]) assert.ok(blobs.has(digest), `pulled layout lacks ${digest}`);
    assert.ok((await inspectRaw(dockerRef(cache.url, 'team/app', 'v1'))).equals(image.manifest.bytes));

    const root = cache.rootdirectory as string;
    for (const digest of image.blobs) {
      assert.ok(hasBlobData(root, digest), `blob ${digest} stored in the cache`);
      assert.ok(hasLayerLink(root, 'team/app', digest), `blob ${digest} linked into team/app`);
    }
    assert.ok(hasManifestLink(root, 'team/app', image.manifest.digest));
    assert.equal(tagLink(root, 'team/app', 'v1'), image.manifest.digest);
    await eventually('no upload is left behind', () => uploadsLeft(root, 'team/app').length === 0);
  });

  it('pulls a multi-arch index with every platform byte for byte', STEP, async () => {
    const dest = join(work, 'pulled-multi');
    await copy(dockerRef(cache.url, 'team/multi', 'v1'), `oci:${dest}:v1`, { all: true });
    const blobs = await layoutBlobs(dest);
    for (const digest of [multi.index.digest, ...multi.images.map((i) => i.manifest.digest), ...multi.blobs]) {
      assert.ok(blobs.has(digest), `pulled layout lacks ${digest}`);
    }
    assert.ok((await inspectRaw(dockerRef(cache.url, 'team/multi', 'v1'))).equals(multi.index.bytes));
  });

  it('pulls again without fetching anything from the upstream', STEP, async () => {
    const before = forwarder.seen.length;
    await copy(dockerRef(cache.url, 'team/app', 'v1'), `oci:${join(work, 'again-app')}:v1`);
    await copy(dockerRef(cache.url, 'team/multi', 'v1'), `oci:${join(work, 'again-multi')}:v1`, { all: true });
    const byTag = forwarder.seen.slice(before);
    // By tag, the cache asks the upstream where the tag points now (one HEAD per tag) and nothing else.
    assert.deepEqual(
      byTag.map((s) => `${s.method} ${s.path}`).sort(),
      ['HEAD /v2/team/app/manifests/v1', 'HEAD /v2/team/multi/manifests/v1'],
    );
    // By digest, the upstream is not touched at all.
    const mark = forwarder.seen.length;
    await copy(dockerRef(cache.url, 'team/app', image.manifest.digest), `oci:${join(work, 'digest-app')}:v1`);
    await copy(dockerRef(cache.url, 'team/multi', multi.index.digest), `oci:${join(work, 'digest-multi')}:v1`, { all: true });
    assert.equal(forwarder.seen.length, mark, `upstream requests: ${JSON.stringify(forwarder.seen.slice(mark))}`);
  });

  it('answers 404 for what the upstream does not have, and refuses writes with 405', STEP, async () => {
    const missingTag = await req('GET', `${cache.url}/v2/team/app/manifests/nope`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(missingTag.status, 404);
    assert.equal(missingTag.json<{ errors: { code: string }[] }>().errors[0]?.code, 'MANIFEST_UNKNOWN');
    const missingBlob = await req('GET', `${cache.url}/v2/team/app/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(missingBlob.status, 404);
    assert.equal(missingBlob.json<{ errors: { code: string }[] }>().errors[0]?.code, 'BLOB_UNKNOWN');
    const missingRepo = await req('GET', `${cache.url}/v2/nobody/here/tags/list`);
    assert.equal(missingRepo.status, 404);

    const writes = [
      req('POST', `${cache.url}/v2/team/app/blobs/uploads/`),
      req('PUT', `${cache.url}/v2/team/app/manifests/v2`, { headers: { 'content-type': image.manifest.mediaType }, body: image.manifest.bytes }),
      req('DELETE', `${cache.url}/v2/team/app/manifests/${image.manifest.digest}`),
      req('DELETE', `${cache.url}/v2/team/app/blobs/${image.layers[0]?.digest}`),
    ];
    for (const res of await Promise.all(writes)) {
      assert.equal(res.status, 405, res.text());
      assert.equal(res.json<{ errors: { code: string }[] }>().errors[0]?.code, 'UNSUPPORTED');
    }
  });

  it('lists tags from the upstream', STEP, async () => {
    assert.deepEqual(await listTags(dockerRef(cache.url, 'team/app')), ['v0', 'v1']);
  });

  it('serves cached content while the upstream is down, and says 503 for the rest', STEP, async () => {
    await forwarder.stop();
    await upstream.stop();
    const dest = join(work, 'offline-app');
    await copy(dockerRef(cache.url, 'team/app', 'v1'), `oci:${dest}:v1`);
    const blobs = await layoutBlobs(dest);
    for (const digest of image.blobs) assert.ok(blobs.has(digest));
    await copy(dockerRef(cache.url, 'team/multi', 'v1'), `oci:${join(work, 'offline-multi')}:v1`, { all: true });
    // Only the tags pulled before are known while offline.
    assert.deepEqual(await listTags(dockerRef(cache.url, 'team/app')), ['v1']);

    const uncached = await req('GET', `${cache.url}/v2/team/app/manifests/v2`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(uncached.status, 503, uncached.text());
    assert.equal(uncached.json<{ errors: { code: string }[] }>().errors[0]?.code, 'UNAVAILABLE');

    const log = readFileSync(cache.logFile, 'utf8');
    assert.match(log, /upstream unavailable; serving the cached manifest/);
  });
});
