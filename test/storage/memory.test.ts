/**
 * A 1 GiB blob pushed through the store in 16 MiB chunks must not grow the process: the store
 * streams, it never holds a blob. The bound is generous (64 MiB over the starting RSS) and the
 * data is generated on the fly, so the only thing that could break it is buffering in our code.
 */
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { Registry } from '../../src/storage/registry.js';

const GiB = 1024 * 1024 * 1024;
const CHUNK = 16 * 1024 * 1024;
let root = '';
after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

it('pushes 1 GiB through the store with flat memory', { timeout: 600_000 }, async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-mem-'));
  const registry = new Registry({ driver: new FilesystemDriver({ rootdirectory: root }) });
  const block = randomBytes(1024 * 1024);
  const hash = createHash('sha256');
  // The same 1 MiB block, stamped with its index so every MiB differs.
  async function* mib(from: number, count: number): AsyncGenerator<Buffer> {
    for (let i = from; i < from + count; i++) {
      const b = Buffer.from(block);
      b.writeUInt32BE(i, 0);
      hash.update(b);
      yield b;
    }
  }
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const upload = await registry.repository('mem/big').blobs.createUpload();
    const perChunk = CHUNK / (1024 * 1024);
    for (let offset = 0; offset < GiB / (1024 * 1024); offset += perChunk) {
      const again = await registry.repository('mem/big').blobs.getUpload(upload.id);
      await again.append(mib(offset, perChunk));
    }
    const digest = `sha256:${hash.digest('hex')}`;
    const final = await registry.repository('mem/big').blobs.getUpload(upload.id);
    const desc = await final.commit(digest);
    assert.equal(desc.size, GiB);
  } finally {
    clearInterval(sampler);
  }
  const growth = (peak - baseline) / (1024 * 1024);
  console.log(`# 1 GiB push: RSS baseline ${(baseline / 1048576).toFixed(0)} MiB, peak ${(peak / 1048576).toFixed(0)} MiB, growth ${growth.toFixed(0)} MiB`);
  assert.ok(growth < 64, `RSS grew by ${growth.toFixed(0)} MiB while pushing 1 GiB`);
});
