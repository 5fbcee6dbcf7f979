// Three berth processes over one S3 bucket (a real Ceph RGW) and one Redis blob descriptor cache,
// as behind a load balancer: a chunked upload begun on the first continues on the second and
// finishes on the third, the image is then pulled from each, and concurrent pushes of one blob
// through different instances end with one correct blob. Redis: 127.0.0.1:6379, database 7,
// flushed before and after.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { startBerth } from '../helpers/berth-server.js';
import { buildOciImage, layoutBlobs, type BuiltImage } from '../helpers/fixtures.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { req, resolveLocation } from '../helpers/registry-client.js';
import { startRgw, type Rgw } from '../helpers/rgw.js';
import { copy, dockerRef, inspectRaw } from '../helpers/skopeo.js';

const MiB = 1024 * 1024;
const STEP = { timeout: 180_000 };
const REDIS_DB = 7;
const ROOT = 'docker/registry/v2';

describe('three instances over one bucket and one Redis', () => {
  let rgw: Rgw;
  let bucket: string;
  let redis: Redis;
  let work: string;
  let instances: RegistryServer[] = [];

  before(async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379, db: REDIS_DB, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    await redis.flushdb();
    work = mkdtempSync(join(tmpdir(), 'berth-instances-'));
    rgw = await startRgw();
    bucket = await rgw.createBucket();
    const config = {
      http: { secret: 'one-secret-for-every-instance' },
      storage: { filesystem: null, s3: rgw.storageConfig(bucket), redirect: { disable: true }, cache: { blobdescriptor: 'redis' } },
      redis: { addr: '127.0.0.1:6379', db: REDIS_DB },
    };
    instances = await Promise.all([1, 2, 3].map(() => startBerth({ extraConfig: config })));
  }, STEP);

  after(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await rgw?.stop();
    await redis?.flushdb().catch(() => undefined);
    redis?.disconnect();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const at = (server: RegistryServer, location: URL) => new URL(location.pathname + location.search, server.url);
  const patch = (url: URL, from: number, bytes: Buffer) =>
    req('PATCH', url.href, { headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${from + bytes.length - 1}` }, body: bytes });

  it('continues a chunked upload across the three, then serves the image from each', STEP, async () => {
    const [a, b, c] = instances as [RegistryServer, RegistryServer, RegistryServer];
    const image: BuiltImage = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 13 * MiB }, { size: 100 * 1024 }] });
    const big = image.layers[0] as BuiltImage['layers'][number];
    const bytes = readFileSync(join(work, 'img', 'blobs', ...big.digest.split(':')));
    const repo = 'fleet/app';

    const post = await req('POST', `${a.url}/v2/${repo}/blobs/uploads/`);
    assert.equal(post.status, 202);
    const first = await patch(resolveLocation(a.url, post.headers.get('location')), 0, bytes.subarray(0, 6 * MiB));
    assert.equal(first.status, 202, `first chunk on instance 1: ${first.text()}`);
    const second = await patch(at(b, resolveLocation(a.url, first.headers.get('location'))), 6 * MiB, bytes.subarray(6 * MiB, 11 * MiB));
    assert.equal(second.status, 202, `second chunk on instance 2: ${second.text()}`);
    assert.equal(second.headers.get('range'), `0-${11 * MiB - 1}`);
    const last = at(c, resolveLocation(b.url, second.headers.get('location')));
    last.searchParams.set('digest', big.digest);
    const put = await req('PUT', last.href, { headers: { 'content-type': 'application/octet-stream' }, body: bytes.subarray(11 * MiB) });
    assert.equal(put.status, 201, `last chunk and commit on instance 3: ${put.text()}`);

    // skopeo finds the big layer present and pushes the rest (through instance 1).
    await copy(image.ref, dockerRef(a.url, repo, 'v1'));
    for (const [i, server] of instances.entries()) {
      const ref = dockerRef(server.url, repo, 'v1');
      assert.ok((await inspectRaw(ref)).equals(image.manifest.bytes), `manifest from instance ${i + 1}`);
      const out = join(work, `pulled-${i}`);
      await copy(ref, `oci:${out}:v1`);
      const pulled = await layoutBlobs(out);
      for (const d of image.blobs) assert.ok(pulled.has(d), `instance ${i + 1} served ${d}`);
      assert.equal(pulled.get(big.digest), big.size);
    }
    assert.equal(await redis.hget(`blobs::${big.digest}`, 'size'), String(big.size), 'the instances share the descriptor through Redis');
  });

  it('ends concurrent pushes of one blob through different instances with one correct blob', STEP, async () => {
    const blob = randomBytes(12 * MiB);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const repo = 'fleet/race';
    const push = async (server: RegistryServer) => {
      const post = await req('POST', `${server.url}/v2/${repo}/blobs/uploads/`);
      assert.equal(post.status, 202);
      const loc = resolveLocation(server.url, post.headers.get('location'));
      loc.searchParams.set('digest', digest);
      const put = await req('PUT', loc.href, { headers: { 'content-type': 'application/octet-stream' }, body: blob });
      assert.equal(put.status, 201, put.text());
      assert.equal(put.headers.get('docker-content-digest'), digest);
    };
    await Promise.all([...instances, ...instances].map(push));

    const hex = digest.slice('sha256:'.length);
    const stored = (await rgw.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${ROOT}/blobs/sha256/${hex.slice(0, 2)}/${hex}/` }))).Contents ?? [];
    assert.deepEqual(stored.map((o) => [o.Key, o.Size]), [[`${ROOT}/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, blob.length]]);
    for (const [i, server] of instances.entries()) {
      const got = await req('GET', `${server.url}/v2/${repo}/blobs/${digest}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(blob), `instance ${i + 1} serves the blob intact`);
    }
    const leftovers = (await rgw.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${ROOT}/repositories/${repo}/_uploads/` }))).Contents ?? [];
    assert.deepEqual(leftovers, [], 'no upload left behind');
    const open = (await rgw.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
    assert.deepEqual(open, [], 'no multipart upload left open');
  });
});
