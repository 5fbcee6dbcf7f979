import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCacheSuite } from '../../src/storage/cache/testsuite/cache-suite.js';
import { InMemoryBlobDescriptorCache } from '../../src/storage/cache/memory.js';
import { digestOf } from '../../src/digest/digest.js';

runCacheSuite('memory', async () => ({ provider: new InMemoryBlobDescriptorCache() }));

describe('memory cache bound', () => {
  it('holds at most blobdescriptorsize entries, evicting the least recently used', async () => {
    const cache = new InMemoryBlobDescriptorCache(3);
    const ds = ['a', 'b', 'c', 'd'].map((s) => ({ digest: digestOf(s), size: 1, mediaType: 'application/octet-stream' }));
    for (const d of ds.slice(0, 3)) await cache.set(d.digest, d);
    // Touch the first so the second is the oldest.
    assert.ok(await cache.get(ds[0]!.digest));
    await cache.set(ds[3]!.digest, ds[3]!);
    assert.equal(cache.entries.descriptors, 3);
    assert.equal(await cache.get(ds[1]!.digest), undefined, 'least recently used entry should be gone');
    assert.ok(await cache.get(ds[0]!.digest));
    assert.ok(await cache.get(ds[3]!.digest));
  });

  it('rejects a nonsensical size', () => {
    assert.throws(() => new InMemoryBlobDescriptorCache(0));
  });
});
