// Real-client scenarios that any registry under test must pass: skopeo pushes
// and pulls an OCI image (one 50 MiB layer), a Docker schema2 image and a
// multi-arch index, byte for byte, then lists tags and deletes. Written once
// against the reference implementation; point it at berth with startBerth.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildDockerSchema2,
  buildMultiArchIndex,
  buildOciImage,
  dirBlobPath,
  fileDigest,
  layoutBlobs,
  sha256,
  type BuiltImage,
  type BuiltIndex,
} from './fixtures.js';
import { MANIFEST_ACCEPT, req } from './registry-client.js';
import { copy, deleteImage, dockerRef, inspectRaw, listTags } from './skopeo.js';

export interface StartedServer {
  /** http://HOST:PORT */
  url: string;
  stop(): Promise<void>;
}

export interface ScenarioOptions {
  /** Name of the describe block. Default "client scenarios". */
  name?: string;
  /** Size of the big layer in bytes. Default 50 MiB. */
  bigLayer?: number;
}

interface Fixtures {
  oci: BuiltImage;
  small: BuiltImage;
  schema2: BuiltImage;
  multi: BuiltIndex;
}

const MiB = 1024 * 1024;
const STEP = { timeout: 180_000 };

/** GET a manifest over HTTP and check bytes, digest header and content type. */
async function assertManifestServed(url: string, repo: string, ref: string, expected: Buffer, mediaType: string): Promise<void> {
  const res = await req('GET', `${url}/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT } });
  assert.equal(res.status, 200, `GET manifest ${repo}:${ref}: ${res.text()}`);
  assert.ok(res.body.equals(expected), `manifest ${repo}:${ref} bytes differ from what was pushed`);
  assert.equal(res.headers.get('docker-content-digest'), sha256(expected));
  assert.equal(res.headers.get('content-type'), mediaType);
}

/** HEAD every blob: 200, right length and digest header. */
async function assertBlobsServed(url: string, repo: string, image: BuiltImage): Promise<void> {
  for (const d of [image.config, ...image.layers]) {
    const res = await req('HEAD', `${url}/v2/${repo}/blobs/${d.digest}`);
    assert.equal(res.status, 200, `HEAD blob ${d.digest} in ${repo}`);
    assert.equal(res.headers.get('content-length'), String(d.size));
    assert.equal(res.headers.get('docker-content-digest'), d.digest);
  }
}

/** A pulled OCI layout holds exactly-hashed files for every expected digest, and its tag names `top`. */
async function assertLayoutHolds(dir: string, tag: string, top: string, digests: string[]): Promise<void> {
  const blobs = await layoutBlobs(dir); // each file is checked against its own name
  for (const d of [top, ...digests]) assert.ok(blobs.has(d), `pulled layout lacks ${d}`);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.equal(entry?.digest, top, 'pulled layout tags a different manifest');
}

/**
 * Register a describe block running every scenario against a fresh server
 * from `startServer`, stopped afterwards. Fixtures are built once per block in
 * a temp dir. Call at the top level of a test file.
 */
export function runClientScenarios(startServer: () => Promise<StartedServer>, opts: ScenarioOptions = {}): void {
  describe(opts.name ?? 'client scenarios', () => {
    let server: StartedServer | undefined;
    let work = '';
    let fx: Fixtures;
    const url = () => {
      if (!server) throw new Error('server not started');
      return server.url;
    };
    const ref = (repo: string, tag?: string) => dockerRef(url(), repo, tag);

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'berth-scenarios-'));
      const oci = await buildOciImage(join(work, 'oci'), {
        tag: 'v1',
        layers: [{ size: 3000 }, { size: opts.bigLayer ?? 50 * MiB }, { size: 2 * MiB }],
      });
      const small = await buildOciImage(join(work, 'small'), { tag: 'v1', layers: [{ size: 4096 }] });
      const schema2 = await buildDockerSchema2(
        await buildOciImage(join(work, 'for-schema2'), { layers: [{ size: 1000 }, { size: 300 * 1024 }] }),
        join(work, 'schema2'),
      );
      const multi = await buildMultiArchIndex(join(work, 'multi'), { tag: 'v1' });
      fx = { oci, small, schema2, multi };
      server = await startServer();
    }, STEP);

    after(async () => {
      await server?.stop();
      if (work && process.env.BERTH_KEEP_TMP !== '1') rmSync(work, { recursive: true, force: true });
    });

    it('pushes and pulls a multi-layer OCI image byte-identically', STEP, async () => {
      const repo = 'scenarios/oci';
      await copy(fx.oci.ref, ref(repo, 'v1'));
      assert.ok((await inspectRaw(ref(repo, 'v1'))).equals(fx.oci.manifest.bytes), 'inspect --raw differs');
      await assertManifestServed(url(), repo, 'v1', fx.oci.manifest.bytes, fx.oci.manifest.mediaType);
      await assertManifestServed(url(), repo, fx.oci.manifest.digest, fx.oci.manifest.bytes, fx.oci.manifest.mediaType);
      await assertBlobsServed(url(), repo, fx.oci);
      const out = join(work, 'pulled-oci');
      await copy(ref(repo, 'v1'), `oci:${out}:v1`);
      await assertLayoutHolds(out, 'v1', fx.oci.manifest.digest, fx.oci.blobs);
    });

    it('pushes and pulls a Docker schema2 image byte-identically', STEP, async () => {
      const repo = 'scenarios/schema2';
      await copy(fx.schema2.ref, ref(repo, 'v1'));
      await assertManifestServed(url(), repo, 'v1', fx.schema2.manifest.bytes, fx.schema2.manifest.mediaType);
      await assertBlobsServed(url(), repo, fx.schema2);
      const out = join(work, 'pulled-schema2');
      await copy(ref(repo, 'v1'), `dir:${out}`);
      assert.ok(readFileSync(join(out, 'manifest.json')).equals(fx.schema2.manifest.bytes), 'pulled manifest differs');
      for (const d of fx.schema2.blobs) assert.equal(await fileDigest(dirBlobPath(out, d)), d);
    });

    it('pushes and pulls a multi-arch index with --all byte-identically', STEP, async () => {
      const repo = 'scenarios/multi';
      await copy(fx.multi.ref, ref(repo, 'v1'), { all: true });
      assert.ok((await inspectRaw(ref(repo, 'v1'))).equals(fx.multi.index.bytes), 'index differs');
      await assertManifestServed(url(), repo, 'v1', fx.multi.index.bytes, fx.multi.index.mediaType);
      for (const image of fx.multi.images) {
        await assertManifestServed(url(), repo, image.manifest.digest, image.manifest.bytes, image.manifest.mediaType);
        await assertBlobsServed(url(), repo, image);
      }
      const out = join(work, 'pulled-multi');
      await copy(ref(repo, 'v1'), `oci:${out}:v1`, { all: true });
      const everything = [...fx.multi.images.map((i) => i.manifest.digest), ...fx.multi.blobs];
      await assertLayoutHolds(out, 'v1', fx.multi.index.digest, everything);
    });

    it('lists tags, including tags added by registry-to-registry copies', STEP, async () => {
      const repo = 'scenarios/tags';
      await copy(fx.small.ref, ref(repo, 'v1'));
      await copy(ref(repo, 'v1'), ref(repo, 'v2'));
      await copy(ref(repo, 'v1'), ref(repo, 'latest'));
      assert.deepEqual([...(await listTags(ref(repo)))].sort(), ['latest', 'v1', 'v2']);
      const res = await req('GET', `${url()}/v2/${repo}/tags/list`);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), { name: repo, tags: ['latest', 'v1', 'v2'] });
    });

    it('deletes an image by tag (its manifest goes, other manifests stay)', STEP, async () => {
      const repo = 'scenarios/delete';
      await copy(fx.schema2.ref, ref(repo, 'doomed'));
      await copy(fx.small.ref, ref(repo, 'kept'));
      await deleteImage(ref(repo, 'doomed'));
      assert.deepEqual(await listTags(ref(repo)), ['kept']);
      const gone = await req('GET', `${url()}/v2/${repo}/manifests/${fx.schema2.manifest.digest}`, {
        headers: { accept: MANIFEST_ACCEPT },
      });
      assert.equal(gone.status, 404);
      assert.equal(gone.json<{ errors: { code: string }[] }>().errors[0]?.code, 'MANIFEST_UNKNOWN');
      assert.ok((await inspectRaw(ref(repo, 'kept'))).equals(fx.small.manifest.bytes));
      // skopeo delete removed the manifest by digest; a second delete finds nothing.
      await assert.rejects(deleteImage(ref(repo, 'doomed')));
    });

    it('lists every pushed repository in the catalog', STEP, async () => {
      const res = await req('GET', `${url()}/v2/_catalog`);
      assert.equal(res.status, 200);
      const { repositories } = res.json<{ repositories: string[] }>();
      for (const r of ['scenarios/delete', 'scenarios/multi', 'scenarios/oci', 'scenarios/schema2', 'scenarios/tags']) {
        assert.ok(repositories.includes(r), `catalog lacks ${r}`);
      }
      assert.deepEqual(repositories, [...repositories].sort());
    });
  });
}
