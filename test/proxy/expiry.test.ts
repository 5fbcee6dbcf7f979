// Expiry of pulled-through content: the schedule lands in /scheduler-state.json in the reference's
// format, survives a restart mid-TTL, and when it runs out the cached repository's content goes
// (links, tag, and the bytes nobody else links), hosted content sharing a layer stays, and the
// next pull fetches again.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import { buildOciImage, layoutBlobs, type BuiltImage } from '../helpers/fixtures.js';
import { pushBlob, req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { copy, dockerRef } from '../helpers/skopeo.js';
import { Forwarder } from './helpers/forwarder.js';
import { eventually, hasBlobData, hasLayerLink, hasManifestLink, schedulerState, tagLink } from './helpers/storage.js';

const STEP = { timeout: 180_000 };
const TTL_MS = 10_000;

describe('expiry of pulled-through content', () => {
  let work: string;
  let root: string;
  let upstream: RegistryServer;
  let forwarder: Forwarder;
  let cache: RegistryServer | undefined;
  let image: BuiltImage;
  let shared: string;

  const startCache = () =>
    startBerth({ rootdirectory: root, extraConfig: { log: { level: 'info' }, proxies: [{ prefix: 'up', remoteurl: forwarder.url, ttl: `${TTL_MS}ms` }] } });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-proxy-expiry-'));
    root = join(work, 'root');
    upstream = await startBerth();
    image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 500_000 }, { size: 200_000 }] });
    await copy(image.ref, dockerRef(upstream.url, 'team/app', 'v1'));
    forwarder = await Forwarder.start(upstream.url);
    cache = await startCache();
    // A hosted repository of the cache holds one of the image's layers too.
    shared = image.layers[1]?.digest as string;
    const bytes = readFileSync(join(work, 'img', 'blobs', 'sha256', shared.slice('sha256:'.length)));
    await pushBlob(cache.url, 'local/base', bytes);
  }, STEP);

  after(async () => {
    await cache?.stop();
    await forwarder?.stop();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('schedules what it pulls, keeps the schedule across a restart, and expires it', STEP, async () => {
    const c1 = cache as RegistryServer;
    await copy(dockerRef(c1.url, 'up/team/app', 'v1'), `oci:${join(work, 'first')}:v1`);
    const pulled = [image.manifest.digest, ...image.blobs];

    // The schedule, in the reference's format.
    const expected = new Map([[`up/team/app@${image.manifest.digest}`, 1], ...image.blobs.map((d) => [`up/team/app@${d}`, 0] as [string, number])]);
    await eventually('the schedule is written', () => Object.keys(schedulerState(root) ?? {}).length === expected.size);
    const state = schedulerState(root) ?? {};
    for (const [key, type] of expected) {
      const entry = state[key];
      assert.ok(entry, `scheduled: ${key}`);
      assert.equal(entry.Key, key);
      assert.equal(entry.EntryType, type);
      assert.ok(Number.isFinite(Date.parse(entry.ExpiryData)));
    }
    const firstExpiry = Math.min(...Object.values(state).map((e) => Date.parse(e.ExpiryData)));

    // Restart before anything expires; the new process must take the schedule over.
    await c1.stop();
    cache = undefined;
    assert.ok(Date.now() < firstExpiry, 'precondition: the cache stopped before its content expired');
    for (const d of pulled.slice(1)) assert.ok(hasLayerLink(root, 'up/team/app', d), 'still cached after the stop');
    assert.equal(Object.keys(schedulerState(root) ?? {}).length, expected.size, 'the schedule survived the stop');
    cache = await startCache();

    await eventually('the cached repository content expires', () => pulled.slice(1).every((d) => !hasLayerLink(root, 'up/team/app', d)), TTL_MS + 30_000);
    await eventually('the manifest expires too', () => !hasManifestLink(root, 'up/team/app', image.manifest.digest));
    assert.equal(tagLink(root, 'up/team/app', 'v1'), undefined, 'the tag went with its manifest');
    // The bytes go after every expired link of the batch is gone (one walk decides what nobody links).
    const unshared = [image.manifest.digest, image.config.digest, image.layers[0]?.digest as string];
    await eventually('the bytes nothing else links are removed', () => unshared.every((d) => !hasBlobData(root, d)));
    // The layer a hosted repository also holds stays, and is still served there.
    assert.ok(hasBlobData(root, shared));
    assert.ok(hasLayerLink(root, 'local/base', shared));
    const hosted = await req('GET', `${cache.url}/v2/local/base/blobs/${shared}`);
    assert.equal(hosted.status, 200);
    await eventually('the schedule is emptied', () => Object.keys(schedulerState(root) ?? {}).length === 0);
  });

  it('fetches expired content again on the next pull (bytes still stored are linked, not downloaded)', STEP, async () => {
    const c = cache as RegistryServer;
    const blobGets = (d: string) => forwarder.count('GET', new RegExp(`/blobs/${d}$`));
    const before = new Map(image.blobs.map((d) => [d, blobGets(d)]));
    const dest = join(work, 'second');
    await copy(dockerRef(c.url, 'up/team/app', 'v1'), `oci:${dest}:v1`);
    const blobs = await layoutBlobs(dest);
    for (const d of [image.manifest.digest, ...image.blobs]) assert.ok(blobs.has(d));
    assert.equal(blobGets(image.layers[0]?.digest as string), (before.get(image.layers[0]?.digest as string) ?? 0) + 1);
    assert.equal(blobGets(image.config.digest), (before.get(image.config.digest) ?? 0) + 1);
    assert.equal(blobGets(shared), before.get(shared), 'the shared layer was linked from storage');
    assert.ok(hasLayerLink(root, 'up/team/app', shared));
    await eventually('the new pull is scheduled', () => Object.keys(schedulerState(root) ?? {}).length === 1 + image.blobs.length);
  });
});
