/** Hashing off the event loop: same digests and states as the synchronous path, in order. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createHasher, resumeHasher } from '../../src/digest/resumable.js';

it('hashes queued batches in order and agrees with node:crypto', async () => {
  for (const alg of ['sha256', 'sha512'] as const) {
    const data = randomBytes(3 * 1024 * 1024 + 77);
    const h = createHasher(alg);
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < data.length; i += 300_001) {
      const part = data.subarray(i, Math.min(data.length, i + 300_001));
      jobs.push(h.updateInBackground([part.subarray(0, 1000), part.subarray(1000)]));
    }
    assert.equal(h.offset, data.length, 'offset counts queued bytes at once');
    await Promise.all(jobs);
    await h.settled();
    assert.equal(h.digest(), `${alg}:${createHash(alg).update(data).digest('hex')}`);
  }
});

it('exports the same state after background work as after synchronous updates', async () => {
  const data = randomBytes(1_000_003);
  const sync = createHasher('sha256');
  sync.update(data);
  const bg = createHasher('sha256');
  await bg.updateInBackground([data]);
  await bg.settled();
  assert.deepEqual(bg.exportState(), sync.exportState());
  const resumed = resumeHasher('sha256', bg.exportState()!);
  assert.equal(resumed.offset, data.length);
});

it('refuses synchronous use while background work is running', async () => {
  const h = createHasher('sha256');
  const job = h.updateInBackground([randomBytes(8 * 1024 * 1024)]);
  assert.throws(() => h.digest(), /busy/);
  await job;
  await h.settled();
  assert.match(h.digest(), /^sha256:[0-9a-f]{64}$/);
});
