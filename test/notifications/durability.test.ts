// The registry is killed (SIGKILL) while its endpoint is down and events are queued; started again
// on the same queue directory, with the endpoint back up, it delivers every queued event, in
// order, once, and then the new ones.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth } from '../helpers/berth-server.js';
import { buildOciImage } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { pushBlob, req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { copy, dockerRef } from '../helpers/skopeo.js';
import { startReceiver, type Receiver } from './receivers.js';
import { describeEvent } from './scenario.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killHard(server: RegistryServer): Promise<void> {
  process.kill(server.pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (isAlive(server.pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${server.pid} survived SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function pendingOf(debugPort: number): Promise<number> {
  const res = await req('GET', `http://127.0.0.1:${debugPort}/debug/notifications`);
  return res.json<{ endpoints: { pending: number }[] }>().endpoints[0]!.pending;
}

describe('durable notification delivery', () => {
  it('delivers every event queued before a SIGKILL after the restart, in order, none twice', { timeout: 240_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), 'berth-durable-'));
    const root = join(work, 'root');
    const queue = join(work, 'queue');
    // The endpoint's port, with nothing listening on it until the end.
    const receiverPort = await freePort();
    const debugPort = await freePort();
    const config = {
      http: { debug: { addr: `127.0.0.1:${debugPort}` } },
      notifications: {
        endpoints: [{ name: 'audit', url: `http://127.0.0.1:${receiverPort}/events`, timeout: '500ms', threshold: 3, backoff: '250ms' }],
        queue: { directory: queue },
      },
    };
    let berth: RegistryServer | undefined;
    let receiver: Receiver | undefined;
    try {
      const image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 30_000 }] });
      berth = await startBerth({ rootdirectory: root, extraConfig: config });
      const firstInstance = berth;

      // Sequential pushes whose events have a known order, and a real client's push.
      const expected: string[] = [];
      for (let i = 0; i < 40; i++) {
        const digest = await pushBlob(berth.url, 'durable/blobs', randomBytes(512));
        expected.push(`push PUT durable/blobs ${digest}`);
      }
      await copy(image.ref, dockerRef(berth.url, 'durable/app', 'v1'));
      const skopeoEvents = [...image.blobs.map((d) => `push PUT durable/app ${d}`), `push PUT durable/app ${image.manifest.digest} v1`];

      const queued = expected.length + skopeoEvents.length;
      assert.equal(await pendingOf(debugPort), queued, 'everything is waiting in the queue');
      await killHard(firstInstance);
      await firstInstance.stop(); // already dead: only removes its temp dir
      assert.ok(readdirSync(join(queue, 'audit')).some((f) => f.endsWith('.log')), 'the queue is on disk');

      berth = await startBerth({ rootdirectory: root, extraConfig: config });
      assert.equal(await pendingOf(debugPort), queued, 'the restarted registry found the queue');
      const after = await pushBlob(berth.url, 'durable/blobs', randomBytes(512));

      receiver = await startReceiver({ kind: 'record' }, receiverPort);
      const events = await receiver.waitFor((es) => es.length >= queued + 1, 60_000, 'the queued events');
      const lines = events.map(describeEvent);

      // Order: the 40 sequential pushes first, then skopeo's (its blobs in any order, the manifest
      // last), then the event from after the restart.
      assert.deepEqual(lines.slice(0, 40), expected);
      assert.deepEqual(lines.slice(40, queued).sort(), [...skopeoEvents].sort());
      assert.equal(lines[queued - 1], skopeoEvents.at(-1), 'the manifest after its blobs');
      assert.equal(lines[queued], `push PUT durable/blobs ${after}`);
      // The endpoint was down the whole time, so at-least-once allows no repeat here.
      assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'no event twice');
      assert.equal(events.length, queued + 1);
      // Events keep the instance that produced them.
      assert.notEqual(events[0]!.source.instanceID, events[queued]!.source.instanceID);
      assert.equal(await pendingOf(debugPort), 0);
    } finally {
      await berth?.stop();
      await receiver?.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
