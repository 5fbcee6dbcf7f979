// Notification events from a real session (skopeo push and pull, HEADs, a 304, a mount, deletes)
// against berth started as its own process, received by real HTTP endpoints; and the same session
// against the reference registry, whose events ours must match field for field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth } from '../helpers/berth-server.js';
import { buildOciImage, MEDIA, type BuiltImage } from '../helpers/fixtures.js';
import { referenceRegistryAvailable, startReferenceRegistry } from '../helpers/reference-registry.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { startReceiver, type ReceivedEvent } from './receivers.js';
import { describeEvent, expectedSequence, OTHER, REPO, runScenario, sortBlobRuns, TAG } from './scenario.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';
const OCTET = 'application/octet-stream';

async function testImage(dir: string): Promise<BuiltImage> {
  return buildOciImage(join(dir, 'img'), { tag: TAG, layers: [{ size: 20_000 }, { size: 60_000 }] });
}

const find = (events: ReceivedEvent[], line: string): ReceivedEvent[] => events.filter((e) => describeEvent(e) === line);

describe('notification events', () => {
  it('a skopeo session produces the expected events, every field included', { timeout: 240_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), 'berth-events-'));
    const all = await startReceiver();
    const manifestsOnly = await startReceiver();
    const unused = await startReceiver();
    let berth: RegistryServer | undefined;
    try {
      const image = await testImage(work);
      berth = await startBerth({
        extraConfig: {
          notifications: {
            events: { includereferences: true },
            endpoints: [
              { name: 'all', url: all.url, headers: { Authorization: ['Bearer s3cret'] } },
              { name: 'manifests', url: manifestsOnly.url, ignoredmediatypes: [OCTET], ignore: { actions: ['pull'] } },
              { name: 'off', url: unused.url, disabled: true },
            ],
          },
        },
      });
      const started = Date.now();
      await runScenario(berth.url, image, join(work, 'pulled'));
      const expected = expectedSequence(image);
      const events = await all.waitFor((es) => es.length >= expected.length, 30_000, `${expected.length} events`);
      const ended = Date.now();
      assert.deepEqual(sortBlobRuns(events.map(describeEvent)), sortBlobRuns(expected));

      // Envelopes: the reference's media type, the configured headers.
      for (const r of all.requests) {
        assert.equal(r.headers['content-type'], EVENTS_MEDIA_TYPE);
        assert.equal(r.headers.authorization, 'Bearer s3cret');
      }

      // What every event carries.
      const instance = events[0]!.source.instanceID;
      for (const e of events) {
        assert.deepEqual(Object.keys(e), ['id', 'timestamp', 'action', 'target', 'request', 'actor', 'source']);
        assert.match(e.id, UUID);
        const t = Date.parse(e.timestamp);
        assert.ok(t >= started - 1000 && t <= ended + 1000, `timestamp ${e.timestamp} within the session`);
        assert.deepEqual(e.actor, {}, 'anonymous requests have an empty actor');
        assert.deepEqual(e.source, { addr: `${hostname()}:${berth.port}`, instanceID: instance });
        assert.deepEqual(Object.keys(e.request), ['id', 'addr', 'host', 'method', 'useragent']);
        assert.ok(typeof e.request.id === 'string' && e.request.id.length > 0);
        assert.match(String(e.request.addr), /^127\.0\.0\.1:\d+$/);
        assert.equal(e.request.host, berth.host);
      }
      assert.match(String(instance), UUID);
      assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'event ids are unique');

      // The manifest push: every target field, references included.
      const m = image.manifest;
      const [push] = find(events, `push PUT ${REPO} ${m.digest} ${TAG}`);
      assert.deepEqual(push!.target, {
        mediaType: MEDIA.ociManifest,
        size: m.size,
        digest: m.digest,
        length: m.size,
        repository: REPO,
        url: `${berth.url}/v2/${REPO}/manifests/${m.digest}`,
        tag: TAG,
        references: [image.config, ...image.layers].map((d) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest })),
      });
      assert.match(String(push!.request.useragent), /skopeo/);

      // Blob pushes and pulls.
      const sizes = new Map([image.config, ...image.layers].map((d) => [d.digest, d.size]));
      for (const [digest, size] of sizes) {
        const blobTarget: Record<string, unknown> = { mediaType: OCTET, size, digest, length: size, repository: REPO, url: `${berth.url}/v2/${REPO}/blobs/${digest}` };
        assert.deepEqual(find(events, `push PUT ${REPO} ${digest}`)[0]!.target, blobTarget);
        assert.deepEqual(find(events, `pull GET ${REPO} ${digest}`)[0]!.target, blobTarget);
      }

      // Pulls by tag carry the tag; HEAD is reported as a pull with method HEAD.
      const [pull] = find(events, `pull GET ${REPO} ${m.digest} ${TAG}`);
      assert.equal(pull!.target.tag, TAG);
      assert.equal(pull!.target.mediaType, MEDIA.ociManifest);
      assert.equal(find(events, `pull HEAD ${REPO} ${m.digest} ${TAG}`).length, 1);

      // The mount names where the blob came from.
      const layer = image.layers[0]!;
      assert.deepEqual(find(events, `mount POST ${OTHER} ${layer.digest}`)[0]!.target, {
        mediaType: OCTET,
        size: layer.size,
        digest: layer.digest,
        length: layer.size,
        repository: OTHER,
        fromRepository: REPO,
        url: `${berth.url}/v2/${OTHER}/blobs/${layer.digest}`,
      });

      // Deletes: just repository and digest (or tag); the manifest and its tag go in one request.
      const [blobDelete] = find(events, `delete DELETE ${OTHER} ${layer.digest}`);
      assert.deepEqual(blobDelete!.target, { digest: layer.digest, repository: OTHER });
      const [manifestDelete] = find(events, `delete DELETE ${REPO} ${m.digest}`);
      const [tagDelete] = find(events, `delete DELETE ${REPO} ${TAG}`);
      assert.deepEqual(manifestDelete!.target, { digest: m.digest, repository: REPO });
      assert.deepEqual(tagDelete!.target, { repository: REPO, tag: TAG });
      assert.equal(manifestDelete!.request.id, tagDelete!.request.id);
      assert.notEqual(push!.request.id, pull!.request.id);

      // The filtered endpoint: no pulls, no blob media type; the disabled one: nothing at all.
      const filtered = await manifestsOnly.waitFor((es) => es.length >= 4, 30_000, 'the filtered endpoint');
      assert.deepEqual(filtered.map(describeEvent), [
        `push PUT ${REPO} ${m.digest} ${TAG}`,
        `delete DELETE ${OTHER} ${layer.digest}`,
        `delete DELETE ${REPO} ${m.digest}`,
        `delete DELETE ${REPO} ${TAG}`,
      ]);
      assert.deepEqual(filtered[0], push, 'the same event, byte for byte, to every endpoint');
      assert.equal(unused.requests.length, 0);
    } finally {
      await berth?.stop();
      await Promise.all([all.close(), manifestsOnly.close(), unused.close()]);
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('matches what the reference registry sends for the same session', { timeout: 300_000 }, async () => {
    if (!referenceRegistryAvailable()) throw new Error('docker-registry (the reference implementation) is not installed: apt-get install -y docker-registry');
    const work = mkdtempSync(join(tmpdir(), 'berth-events-ref-'));
    const ours = await startReceiver();
    const theirs = await startReceiver();
    const servers: RegistryServer[] = [];
    try {
      const image = await testImage(work);
      const config = (url: string) => ({ notifications: { events: { includereferences: true }, endpoints: [{ name: 'rec', url, timeout: '5s' }] } });
      const reference = await startReferenceRegistry({ extraConfig: config(theirs.url) });
      servers.push(reference);
      const berth = await startBerth({ extraConfig: config(ours.url) });
      servers.push(berth);
      await runScenario(reference.url, image, join(work, 'pulled-ref'));
      await runScenario(berth.url, image, join(work, 'pulled-berth'));
      const expected = expectedSequence(image);
      const theirEvents = await theirs.waitFor((es) => es.length >= expected.length, 30_000, 'the reference');
      const ourEvents = await ours.waitFor((es) => es.length >= expected.length, 30_000, 'berth');

      // The reference does what we say it does (HEAD is a pull, a 304 is not, ...).
      assert.deepEqual(sortBlobRuns(theirEvents.map(describeEvent)), sortBlobRuns(expected));
      // And each of our events has the same keys, in the same order, with the same values.
      const shape = (server: RegistryServer) => (e: ReceivedEvent) =>
        JSON.stringify({
          keys: Object.keys(e),
          action: e.action,
          target: { ...e.target, url: e.target.url?.replace(server.url, '<origin>') },
          request: { keys: Object.keys(e.request), method: e.request.method, host: e.request.host === server.host, useragent: e.request.useragent },
          actor: e.actor,
          source: Object.keys(e.source),
        });
      assert.deepEqual(ourEvents.map(shape(berth)).sort(), theirEvents.map(shape(reference)).sort());
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await Promise.all([ours.close(), theirs.close()]);
      rmSync(work, { recursive: true, force: true });
    }
  });
});
