/** Upload purging: old sessions go, young ones and everything else stay; dry runs change nothing. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { Registry } from '../../src/storage/registry.js';
import type { LinkedBlobStore } from '../../src/storage/linked-blob-store.js';
import { purgeUploads, startUploadPurger, type PurgeResult } from '../../src/storage/purge.js';
import { uploadStartedAtPath } from '../../src/storage/paths.js';
import { digestOf } from '../../src/digest/digest.js';

let root: string;
let driver: FilesystemDriver;
let registry: Registry;
const HOUR = 3600_000;

async function uploadStartedAgo(repo: string, ms: number): Promise<string> {
  const up = await registry.repository(repo).blobs.createUpload();
  await driver.putContent(uploadStartedAtPath(repo, up.id), new Date(Date.now() - ms).toISOString().replace(/\.\d+Z$/, 'Z'));
  return up.id;
}

const uploadDir = (repo: string, id: string) => join(root, 'docker/registry/v2/repositories', repo, '_uploads', id);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-purge-'));
  driver = new FilesystemDriver({ rootdirectory: root });
  registry = new Registry({ driver });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('upload purging', () => {
  it('removes uploads older than the age, keeps younger ones and repository content', async () => {
    const old1 = await uploadStartedAgo('purge/a', 200 * HOUR);
    const old2 = await uploadStartedAgo('purge/deep/b', 169 * HOUR);
    const young = await uploadStartedAgo('purge/a', 2 * HOUR);
    await (registry.repository('purge/a').blobs as LinkedBlobStore).linkBlob({ digest: digestOf('x'), size: 1, mediaType: 'x' });

    const dry = await purgeUploads(driver, { olderThan: new Date(Date.now() - 168 * HOUR), dryRun: true });
    assert.equal(dry.purged.length, 2);
    await stat(uploadDir('purge/a', old1)); // still there after the dry run

    const real = await purgeUploads(driver, { olderThan: new Date(Date.now() - 168 * HOUR) });
    assert.deepEqual(real.purged.sort(), [uploadDir('purge/a', old1), uploadDir('purge/deep/b', old2)].map((p) => p.slice(root.length)).sort());
    await assert.rejects(stat(uploadDir('purge/a', old1)), /ENOENT/);
    await assert.rejects(stat(uploadDir('purge/deep/b', old2)), /ENOENT/);
    await stat(uploadDir('purge/a', young));
    await stat(join(root, 'docker/registry/v2/repositories/purge/a/_layers/sha256', digestOf('x').slice(7), 'link')); // links are untouched
  });

  it('runs on a timer after its initial delay and stops when told', async () => {
    const old = await uploadStartedAgo('purge/timer', 300 * HOUR);
    const results: PurgeResult[] = [];
    const stop = startUploadPurger({ driver, ageMs: 168 * HOUR, intervalMs: 60_000, dryRun: false, initialDelayMs: 10, onResult: (r) => results.push(r) });
    try {
      for (let i = 0; i < 200 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    } finally {
      stop();
    }
    assert.equal(results.length, 1);
    assert.ok(results[0]!.purged.some((p) => p.endsWith(old)));
    await assert.rejects(stat(uploadDir('purge/timer', old)), /ENOENT/);
  });
});
