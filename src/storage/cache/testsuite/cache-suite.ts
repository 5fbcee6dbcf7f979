/**
 * The shared blob descriptor cache suite: every cache implementation (memory now, Redis later)
 * registers these tests with one call.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '../../../digest/digest.js';
import type { Descriptor } from '../../../distribution/types.js';
import type { BlobDescriptorCacheProvider } from '../cache.js';

export interface CacheSuiteSetup {
  provider: BlobDescriptorCacheProvider;
  teardown?: () => Promise<void>;
}

function randomDescriptor(mediaType = 'application/octet-stream'): Descriptor {
  const bytes = randomBytes(32);
  return { digest: digestOf(bytes), size: 1 + (bytes[0] ?? 0) * 1000, mediaType };
}

export function runCacheSuite(name: string, setup: () => Promise<CacheSuiteSetup>): void {
  describe(`blob descriptor cache suite: ${name}`, () => {
    let provider: BlobDescriptorCacheProvider;
    let teardown: (() => Promise<void>) | undefined;
    // Repository names unique to this run, so a shared backend (Redis) never sees another run's keys.
    const run = randomBytes(4).toString('hex');
    const repoA = `suite-${run}/a`;
    const repoB = `suite-${run}/b`;

    before(async () => {
      ({ provider, teardown } = await setup());
    });
    after(async () => {
      await teardown?.();
    });

    it('misses on an unknown digest, globally and per repository', async () => {
      const d = randomDescriptor();
      assert.equal(await provider.get(d.digest), undefined);
      assert.equal(await provider.repositoryScoped(repoA).get(d.digest), undefined);
    });

    it('returns exactly what was set, globally', async () => {
      const d = randomDescriptor('application/vnd.oci.image.layer.v1.tar+gzip');
      await provider.set(d.digest, d);
      assert.deepEqual(await provider.get(d.digest), d);
    });

    it('a global descriptor alone does not make a repository a member', async () => {
      const d = randomDescriptor();
      await provider.set(d.digest, d);
      assert.equal(await provider.repositoryScoped(repoA).get(d.digest), undefined);
    });

    it('setting through a repository records membership and the global descriptor', async () => {
      const d = randomDescriptor();
      await provider.repositoryScoped(repoA).set(d.digest, d);
      assert.deepEqual(await provider.repositoryScoped(repoA).get(d.digest), d);
      assert.deepEqual(await provider.get(d.digest), d);
      assert.equal(await provider.repositoryScoped(repoB).get(d.digest), undefined, 'membership leaked to another repository');
    });

    it('clearing in a repository drops only that repository’s membership', async () => {
      const d = randomDescriptor();
      await provider.repositoryScoped(repoA).set(d.digest, d);
      await provider.repositoryScoped(repoB).set(d.digest, d);
      await provider.repositoryScoped(repoA).clear(d.digest);
      assert.equal(await provider.repositoryScoped(repoA).get(d.digest), undefined);
      assert.deepEqual(await provider.repositoryScoped(repoB).get(d.digest), d);
      assert.deepEqual(await provider.get(d.digest), d);
    });

    it('clearing globally makes every repository miss', async () => {
      const d = randomDescriptor();
      await provider.repositoryScoped(repoA).set(d.digest, d);
      await provider.clear(d.digest);
      assert.equal(await provider.get(d.digest), undefined);
      assert.equal(await provider.repositoryScoped(repoA).get(d.digest), undefined);
    });

    it('clearing what was never set is harmless', async () => {
      const d = randomDescriptor();
      await provider.clear(d.digest);
      await provider.repositoryScoped(repoA).clear(d.digest);
      assert.equal(await provider.get(d.digest), undefined);
    });

    it('overwrites a descriptor with a newer one', async () => {
      const d = randomDescriptor();
      await provider.set(d.digest, d);
      const updated: Descriptor = { ...d, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' };
      await provider.set(d.digest, updated);
      assert.deepEqual(await provider.get(d.digest), updated);
    });

    it('keeps sha512 digests and large sizes intact', async () => {
      const bytes = randomBytes(16);
      const digest: Digest = digestOf(bytes, 'sha512');
      const d: Descriptor = { digest, size: 2 ** 40 + 7, mediaType: 'application/octet-stream' };
      await provider.repositoryScoped(repoB).set(digest, d);
      assert.deepEqual(await provider.repositoryScoped(repoB).get(digest), d);
    });

    it('answers many concurrent lookups consistently', async () => {
      const ds = Array.from({ length: 50 }, () => randomDescriptor());
      await Promise.all(ds.map((d) => provider.repositoryScoped(repoA).set(d.digest, d)));
      const got = await Promise.all(ds.map((d) => provider.repositoryScoped(repoA).get(d.digest)));
      assert.deepEqual(got, ds);
    });
  });
}
