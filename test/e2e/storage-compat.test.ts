/**
 * Storage compatibility with the reference implementation, both directions: what berth writes,
 * Debian's docker-registry serves from the same directory, and the other way round.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth } from '../helpers/berth-server.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';
import { buildMultiArchIndex, buildOciImage, layoutBlobs, type BuiltImage, type BuiltIndex } from '../helpers/fixtures.js';
import { copy, dockerRef, inspectRaw, listTags } from '../helpers/skopeo.js';

const STEP = { timeout: 240_000 };
let work = '';
let image: BuiltImage;
let index: BuiltIndex;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'berth-compat-'));
  image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 4000 }, { size: 3 * 1024 * 1024 }] });
  index = await buildMultiArchIndex(join(work, 'multi'), { tag: 'v1' });
}, STEP);
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Pull an image into a fresh OCI layout and check every blob and the manifest arrived intact. */
async function pullAndCheck(url: string, repo: string, expected: { manifest: Buffer; blobs: string[] }, all = false): Promise<void> {
  const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
  await copy(dockerRef(url, repo, 'v1'), `oci:${out}:v1`, all ? { all: true } : {});
  const blobs = await layoutBlobs(out);
  for (const d of expected.blobs) assert.ok(blobs.has(d), `blob ${d} missing after pull`);
  const top = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifestDigest = top.manifests[0]?.digest ?? '';
  const bytes = readFileSync(join(out, 'blobs', manifestDigest.replace(':', '/')));
  assert.ok(bytes.equals(expected.manifest), 'pulled manifest differs from the pushed one');
}

describe('storage compatibility with the reference implementation', () => {
  it('the reference serves what berth wrote', STEP, async () => {
    const root = join(work, 'written-by-berth');
    const berth = await startBerth({ rootdirectory: root });
    try {
      await copy(image.ref, dockerRef(berth.url, 'compat/image', 'v1'));
      await copy(index.ref, dockerRef(berth.url, 'compat/multi', 'v1'), { all: true });
    } finally {
      await berth.stop();
    }
    const ref = await startReferenceRegistry({ rootdirectory: root });
    try {
      assert.ok((await inspectRaw(dockerRef(ref.url, 'compat/image', 'v1'))).equals(image.manifest.bytes));
      assert.deepEqual(await listTags(dockerRef(ref.url, 'compat/image')), ['v1']);
      await pullAndCheck(ref.url, 'compat/image', { manifest: image.manifest.bytes, blobs: image.blobs });
      await pullAndCheck(ref.url, 'compat/multi', { manifest: index.index.bytes, blobs: index.blobs }, true);
      const catalog = (await (await fetch(`${ref.url}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, ['compat/image', 'compat/multi']);
    } finally {
      await ref.stop();
    }
  });

  it('berth serves what the reference wrote', STEP, async () => {
    const root = join(work, 'written-by-reference');
    const ref = await startReferenceRegistry({ rootdirectory: root });
    try {
      await copy(image.ref, dockerRef(ref.url, 'compat/image', 'v1'));
      await copy(index.ref, dockerRef(ref.url, 'compat/multi', 'v1'), { all: true });
    } finally {
      await ref.stop();
    }
    const berth = await startBerth({ rootdirectory: root });
    try {
      assert.ok((await inspectRaw(dockerRef(berth.url, 'compat/image', 'v1'))).equals(image.manifest.bytes));
      assert.deepEqual(await listTags(dockerRef(berth.url, 'compat/image')), ['v1']);
      await pullAndCheck(berth.url, 'compat/image', { manifest: image.manifest.bytes, blobs: image.blobs });
      await pullAndCheck(berth.url, 'compat/multi', { manifest: index.index.bytes, blobs: index.blobs }, true);
      const catalog = (await (await fetch(`${berth.url}/v2/_catalog`)).json()) as { repositories: string[] };
      assert.deepEqual(catalog.repositories, ['compat/image', 'compat/multi']);
    } finally {
      await berth.stop();
    }
  });
});
