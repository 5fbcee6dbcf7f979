// The real-client scenarios (skopeo: OCI image with a 50 MiB layer, Docker schema2, multi-arch
// index with --all, inspect, list-tags, delete) against berth started as its own process, plus
// a registry-to-registry copy that must get its layers by cross-repository mount.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth } from '../helpers/berth-server.js';
import { runClientScenarios } from '../helpers/scenarios.js';
import { buildOciImage } from '../helpers/fixtures.js';
import { copy, dockerRef, inspectRaw } from '../helpers/skopeo.js';

runClientScenarios(() => startBerth(), { name: 'skopeo against berth' });

describe('cross-repository mount with skopeo', () => {
  it('copies an image to a second repository by mounting its layers', { timeout: 180_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), 'berth-mount-'));
    const berth = await startBerth({ extraConfig: { log: { level: 'info', formatter: 'json' } } });
    try {
      const image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 200_000 }, { size: 300_000 }] });
      await copy(image.ref, dockerRef(berth.url, 'mount/source', 'v1'));
      await copy(dockerRef(berth.url, 'mount/source', 'v1'), dockerRef(berth.url, 'mount/target', 'v1'));
      assert.ok((await inspectRaw(dockerRef(berth.url, 'mount/target', 'v1'))).equals(image.manifest.bytes));

      const lines = readFileSync(berth.logFile, 'utf8').split('\n').filter((l) => l.includes('"msg":"request"'));
      const mounts = lines
        .map((l) => JSON.parse(l) as { method: string; url: string; status: number })
        .filter((e) => e.method === 'POST' && e.url.startsWith('/v2/mount/target/blobs/uploads/') && e.url.includes('mount='));
      assert.ok(mounts.length >= image.layers.length, `expected a mount per layer, saw ${mounts.length}`);
      assert.ok(mounts.every((m) => m.status === 201), 'every mount answered 201');
      for (const layer of image.layers) {
        const res = await fetch(`${berth.url}/v2/mount/target/blobs/${layer.digest}`, { method: 'HEAD' });
        assert.equal(res.status, 200);
      }
    } finally {
      await berth.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
