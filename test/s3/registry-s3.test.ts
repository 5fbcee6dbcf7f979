// berth on S3 (a real Ceph RGW) end to end with skopeo: the shared client scenarios with blob
// redirects on, then a multi-layer image and a multi-arch index pushed and pulled with redirects
// on (blob GETs answer 307 to a presigned RGW URL that skopeo follows) and off (berth streams the
// bytes itself). Each registry gets its own bucket.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import { buildMultiArchIndex, buildOciImage, layoutBlobs, type BuiltImage, type BuiltIndex } from '../helpers/fixtures.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { req } from '../helpers/registry-client.js';
import { startRgw, type Rgw } from '../helpers/rgw.js';
import { runClientScenarios } from '../helpers/scenarios.js';
import { copy, dockerRef, inspectRaw } from '../helpers/skopeo.js';

const MiB = 1024 * 1024;
const STEP = { timeout: 180_000 };

let rgwStarting: Promise<Rgw> | undefined;
const rgw = () => (rgwStarting ??= startRgw());
after(async () => (await rgwStarting?.catch(() => undefined))?.stop());

/** berth on a fresh bucket of the shared RGW; request lines logged as JSON (for the statuses). */
async function berthOnS3(redirects: boolean): Promise<RegistryServer> {
  const s3 = await rgw();
  const bucket = await s3.createBucket();
  return startBerth({
    extraConfig: {
      log: { level: 'info', formatter: 'json' },
      storage: { filesystem: null, s3: s3.storageConfig(bucket), redirect: { disable: !redirects } },
    },
  });
}

interface RequestLine {
  method: string;
  url: string;
  status: number;
}

function requestLines(server: RegistryServer): RequestLine[] {
  return readFileSync(server.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l) as RequestLine);
}

runClientScenarios(() => berthOnS3(true), { name: 'skopeo scenarios against berth on S3 (redirects on)', bigLayer: 24 * MiB });

for (const redirects of [true, false]) {
  describe(`berth on S3 with redirects ${redirects ? 'on' : 'off'}`, () => {
    let server: RegistryServer;
    let work: string;
    let image: BuiltImage;
    let multi: BuiltIndex;

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'berth-s3-e2e-'));
      // 12 MiB crosses the 10 MiB part size: that layer goes up as a multipart upload.
      image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 2000 }, { size: 12 * MiB }, { size: 700 * 1024 }] });
      multi = await buildMultiArchIndex(join(work, 'multi'), { tag: 'v1' });
      server = await berthOnS3(redirects);
    }, STEP);
    after(async () => {
      await server?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it('pushes and pulls a multi-layer image byte-identically', STEP, async () => {
      await copy(image.ref, dockerRef(server.url, 'e2e/app', 'v1'));
      assert.ok((await inspectRaw(dockerRef(server.url, 'e2e/app', 'v1'))).equals(image.manifest.bytes));
      const out = join(work, 'pulled');
      await copy(dockerRef(server.url, 'e2e/app', 'v1'), `oci:${out}:v1`);
      const pulled = await layoutBlobs(out); // every file checked against its digest
      for (const d of [image.manifest.digest, ...image.blobs]) assert.ok(pulled.has(d), `pulled image lacks ${d}`);
      for (const layer of image.layers) assert.equal(pulled.get(layer.digest), layer.size);

      const blobGets = requestLines(server).filter((l) => l.method === 'GET' && l.url.startsWith('/v2/e2e/app/blobs/'));
      assert.ok(blobGets.length >= image.blobs.length, `skopeo fetched ${blobGets.length} blobs`);
      const expected = redirects ? 307 : 200;
      assert.ok(blobGets.every((l) => l.status === expected), `blob GETs answered ${blobGets.map((l) => l.status).join(',')}, expected ${expected}`);
    });

    it('serves a blob by GET: a presigned redirect or the bytes themselves', STEP, async () => {
      const layer = image.layers[1] as BuiltImage['layers'][number];
      const want = readFileSync(join(work, 'img', 'blobs', ...layer.digest.split(':')));
      const res = await req('GET', `${server.url}/v2/e2e/app/blobs/${layer.digest}`);
      if (redirects) {
        assert.equal(res.status, 307);
        const location = new URL(res.headers.get('location') ?? '');
        assert.equal(location.origin, (await rgw()).endpoint, 'redirected straight to the object store');
        assert.ok(location.searchParams.get('X-Amz-Signature'), 'the URL is presigned');
        assert.equal(location.searchParams.get('X-Amz-Expires'), '1200');
        const direct = await req('GET', location.href);
        assert.equal(direct.status, 200);
        assert.ok(direct.body.equals(want), 'the object store serves the same bytes');
      } else {
        assert.equal(res.status, 200);
        assert.ok(res.body.equals(want));
      }
      const head = await req('HEAD', `${server.url}/v2/e2e/app/blobs/${layer.digest}`);
      assert.equal(head.status, 200, 'HEAD is answered by the registry itself');
      assert.equal(head.headers.get('content-length'), String(layer.size));
      const ranged = await req('GET', `${server.url}/v2/e2e/app/blobs/${layer.digest}`, { headers: { range: 'bytes=10-19' } });
      assert.equal(ranged.status, redirects ? 307 : 206);
    });

    it('pushes and pulls a multi-arch index with --all byte-identically', STEP, async () => {
      const ref = dockerRef(server.url, 'e2e/multi', 'v1');
      await copy(multi.ref, ref, { all: true });
      assert.ok((await inspectRaw(ref)).equals(multi.index.bytes), 'index differs');
      const out = join(work, 'pulled-multi');
      await copy(ref, `oci:${out}:v1`, { all: true });
      const pulled = await layoutBlobs(out);
      for (const d of [multi.index.digest, ...multi.images.map((i) => i.manifest.digest), ...multi.blobs]) assert.ok(pulled.has(d), `pulled index lacks ${d}`);
    });
  });
}
