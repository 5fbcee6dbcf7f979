// The expiry schedule is shared with the reference implementation: a storage root used by
// docker-registry in proxy mode and then by berth (or the other way round) keeps its schedule.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';
import { req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { PatternBlob } from './helpers/blobs.js';
import { Forwarder } from './helpers/forwarder.js';
import { eventually, hasLayerLink, schedulerState } from './helpers/storage.js';

const STEP = { timeout: 120_000 };

describe('expiry schedule shared with the reference implementation', () => {
  let work: string;
  let root: string;
  let upstream: RegistryServer;
  let forwarder: Forwarder;
  const first = new PatternBlob('compat-first', 50_000);
  const second = new PatternBlob('compat-second', 60_000);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-proxy-compat-'));
    root = join(work, 'root');
    upstream = await startBerth();
    await first.push(upstream.url, 'team/app');
    await second.push(upstream.url, 'team/app');
    forwarder = await Forwarder.start(upstream.url);
  }, STEP);

  after(async () => {
    await forwarder?.stop();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('keeps the schedule the reference wrote, and the reference reads the one berth wrote', STEP, async () => {
    const reference = await startReferenceRegistry({ rootdirectory: root, extraConfig: { proxy: { remoteurl: forwarder.url } } });
    let refKey: string;
    try {
      const res = await req('GET', `${reference.url}/v2/team/app/blobs/${first.digest}`);
      assert.equal(res.status, 200);
      refKey = `team/app@${first.digest}`;
      // The reference writes its schedule every few seconds.
      await eventually('the reference writes its schedule', () => schedulerState(root)?.[refKey] !== undefined, 30_000);
    } finally {
      await reference.stop();
    }
    const written = schedulerState(root)?.[refKey];
    assert.equal(written?.EntryType, 0);
    const refExpiry = Date.parse(written?.ExpiryData ?? '');
    assert.ok(refExpiry > Date.now(), 'the reference scheduled the blob in the future');

    const cache = await startBerth({ rootdirectory: root, extraConfig: { proxy: { remoteurl: forwarder.url, ttl: '1h' } } });
    try {
      const gets = forwarder.count('GET', /\/blobs\//);
      const cached = await req('GET', `${cache.url}/v2/team/app/blobs/${first.digest}`);
      assert.equal(cached.status, 200);
      assert.equal(forwarder.count('GET', /\/blobs\//), gets, 'what the reference cached is served from storage');
      assert.equal((await req('GET', `${cache.url}/v2/team/app/blobs/${second.digest}`)).status, 200);
      // The client has every byte before the cache has verified and linked the blob (and only then
      // scheduled it); stopping earlier would abort that download, as a shutdown does.
      await eventually('berth links the blob it pulled through', () => hasLayerLink(root, 'team/app', second.digest));
    } finally {
      await cache.stop();
    }
    const state = schedulerState(root) ?? {};
    assert.equal(Date.parse(state[refKey]?.ExpiryData ?? ''), refExpiry, "the reference's entry is kept as it was");
    assert.equal(state[`team/app@${second.digest}`]?.EntryType, 0, "berth's own entry is added");

    const again = await startReferenceRegistry({ rootdirectory: root, extraConfig: { proxy: { remoteurl: forwarder.url } } });
    try {
      const res = await req('GET', `${again.url}/v2/team/app/blobs/${second.digest}`);
      assert.equal(res.status, 200, 'the reference starts and serves over the schedule berth wrote');
    } finally {
      await again.stop();
    }
  });
});
