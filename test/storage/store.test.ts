/**
 * The content store over a real filesystem driver: the on-disk layout byte for byte, uploads
 * resumed by other store instances, soft deletes and repository listing.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { Registry } from '../../src/storage/registry.js';
import type { LinkedBlobStore } from '../../src/storage/linked-blob-store.js';
import { InMemoryBlobDescriptorCache } from '../../src/storage/cache/memory.js';
import { digestOf } from '../../src/digest/digest.js';
import { BlobUnknownError, DigestInvalidError, ManifestUnknownError } from '../../src/distribution/errors.js';
import { nativeHashStateAvailable } from '../../src/digest/resumable.js';

let root: string;
const V2 = () => join(root, 'docker/registry/v2');
const newRegistry = () => new Registry({ driver: new FilesystemDriver({ rootdirectory: root }), cache: new InMemoryBlobDescriptorCache() });

async function* chunks(...parts: Buffer[]): AsyncIterable<Buffer> {
  for (const p of parts) yield p;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'berth-store-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('reference on-disk layout', () => {
  it('writes blobs, layer links, manifest revisions and tags exactly where the reference does', async () => {
    const reg = newRegistry();
    const repo = reg.repository('library/alpine');
    const blob = randomBytes(1000);
    const blobDigest = digestOf(blob);
    const hex = blobDigest.slice(7);

    const upload = await repo.blobs.createUpload();
    const uploadDirPath = join(V2(), 'repositories/library/alpine/_uploads', upload.id);
    const startedAt = await readFile(join(uploadDirPath, 'startedat'), 'utf8');
    assert.match(startedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/, 'startedat is RFC 3339 UTC');
    await upload.append(chunks(blob));
    const desc = await upload.commit(blobDigest);
    assert.equal(desc.digest, blobDigest);
    assert.equal(desc.size, 1000);

    assert.deepEqual(await readFile(join(V2(), 'blobs/sha256', hex.slice(0, 2), hex, 'data')), blob);
    assert.equal(await readFile(join(V2(), 'repositories/library/alpine/_layers/sha256', hex, 'link'), 'utf8'), blobDigest);
    await assert.rejects(stat(uploadDirPath), /ENOENT/, 'the upload session is gone after commit');

    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [] }));
    const mDigest = await repo.manifests.put(manifest);
    const mHex = mDigest.slice(7);
    assert.deepEqual(await readFile(join(V2(), 'blobs/sha256', mHex.slice(0, 2), mHex, 'data')), manifest);
    assert.equal(await readFile(join(V2(), 'repositories/library/alpine/_manifests/revisions/sha256', mHex, 'link'), 'utf8'), mDigest);

    await repo.tags.tag('3.20', mDigest);
    assert.equal(await readFile(join(V2(), 'repositories/library/alpine/_manifests/tags/3.20/current/link'), 'utf8'), mDigest);
    assert.equal(await readFile(join(V2(), 'repositories/library/alpine/_manifests/tags/3.20/index/sha256', mHex, 'link'), 'utf8'), mDigest);
    // Directories are implicit: the finished upload leaves no empty `_uploads` behind.
    assert.deepEqual(await readdir(join(V2(), 'repositories/library/alpine')), ['_layers', '_manifests']);
  });

  it('serves what the reference would have written, read back through a fresh store', async () => {
    const repo = newRegistry().repository('library/alpine');
    const tags = await repo.tags.all();
    assert.deepEqual(tags, ['3.20']);
    const digest = await repo.tags.get('3.20');
    const body = JSON.parse((await repo.manifests.get(digest)).toString()) as { schemaVersion: number };
    assert.equal(body.schemaVersion, 2);
  });
});

describe('uploads', () => {
  it('continues a chunked upload in another store instance and after the first is gone', async () => {
    const parts = [randomBytes(3 * 1024 * 1024 + 17), randomBytes(1024 * 1024 + 5), randomBytes(777)];
    const whole = Buffer.concat(parts);
    const expected = digestOf(whole);

    // The first instance lives only inside this block; afterwards only storage remains.
    const upload = await (async () => {
      const first = newRegistry();
      const up = await first.repository('chunks/a').blobs.createUpload();
      await up.append(chunks(parts[0]!));
      return up;
    })();

    const second = newRegistry();
    const resumed = await second.repository('chunks/a').blobs.getUpload(upload.id);
    assert.equal(resumed.size, parts[0]!.length);
    const states = await readdir(join(V2(), 'repositories/chunks/a/_uploads', upload.id, 'hashstates/sha256')).catch((): string[] => []);
    if (nativeHashStateAvailable) assert.ok(states.includes(String(parts[0]!.length)), `a hash state is saved at the chunk end, got ${states}`);
    await resumed.append(chunks(parts[1]!));

    const third = newRegistry();
    const last = await third.repository('chunks/a').blobs.getUpload(upload.id);
    await last.append(chunks(parts[2]!));
    const desc = await last.commit(expected);
    assert.equal(desc.digest, expected);
    assert.equal(desc.size, whole.length);
    assert.deepEqual((await third.repository('chunks/a').blobs.stat(expected)).size, whole.length);
  });

  it('rebuilds the hash from storage when no saved state is left', async () => {
    const parts = [randomBytes(200_001), randomBytes(99_999)];
    const expected = digestOf(Buffer.concat(parts));
    const upload = await newRegistry().repository('chunks/b').blobs.createUpload();
    await upload.append(chunks(parts[0]!));
    await rm(join(V2(), 'repositories/chunks/b/_uploads', upload.id, 'hashstates'), { recursive: true, force: true });
    const other = await newRegistry().repository('chunks/b').blobs.getUpload(upload.id);
    await other.append(chunks(parts[1]!));
    assert.equal((await other.commit(expected)).digest, expected);
  });

  it('keeps what arrived before a client failure, so the upload can continue', async () => {
    const reg = newRegistry();
    const upload = await reg.repository('chunks/c').blobs.createUpload();
    const good = randomBytes(5000);
    async function* broken(): AsyncIterable<Buffer> {
      yield good;
      throw new Error('client went away');
    }
    await assert.rejects(upload.append(broken()), /client went away/);
    const again = await newRegistry().repository('chunks/c').blobs.getUpload(upload.id);
    assert.equal(again.size, 5000);
    const rest = randomBytes(123);
    await again.append(chunks(rest));
    const expected = digestOf(Buffer.concat([good, rest]));
    assert.equal((await again.commit(expected)).digest, expected);
  });

  it('refuses a wrong digest, commits nothing and removes the session', async () => {
    const reg = newRegistry();
    const upload = await reg.repository('chunks/d').blobs.createUpload();
    const data = randomBytes(64);
    await upload.append(chunks(data));
    const wrong = digestOf(Buffer.from('something else'));
    await assert.rejects(upload.commit(wrong), DigestInvalidError);
    await assert.rejects(reg.repository('chunks/d').blobs.stat(wrong), BlobUnknownError);
    await assert.rejects(reg.blobStore.stat(digestOf(data)), BlobUnknownError);
    await assert.rejects(stat(join(V2(), 'repositories/chunks/d/_uploads', upload.id)), /ENOENT/);
  });

  it('verifies sha512 digests too', async () => {
    const data = randomBytes(10_000);
    const upload = await newRegistry().repository('chunks/e').blobs.createUpload();
    await upload.append(chunks(data));
    const expected = `sha512:${createHash('sha512').update(data).digest('hex')}`;
    const desc = await upload.commit(expected);
    assert.equal(desc.digest, expected);
    const hex = expected.slice(7);
    assert.deepEqual(await readFile(join(V2(), 'blobs/sha512', hex.slice(0, 2), hex, 'data')), data);
  });
});

describe('links, deletes and listings', () => {
  it('scopes blobs to repositories, mounts across them, and soft-deletes links only', async () => {
    const reg = newRegistry();
    const a = reg.repository('scope/a');
    const b = reg.repository('scope/b');
    const data = randomBytes(300);
    const digest = digestOf(data);
    const up = await a.blobs.createUpload();
    await up.append(chunks(data));
    await up.commit(digest);
    await assert.rejects(b.blobs.stat(digest), BlobUnknownError, 'another repository cannot see the blob');
    assert.ok(await b.blobs.mount(a.blobs, digest));
    assert.equal((await b.blobs.stat(digest)).size, 300);

    await a.blobs.delete(digest);
    await assert.rejects(a.blobs.stat(digest), BlobUnknownError, 'deleted link is gone even though the cache had it');
    assert.equal((await b.blobs.stat(digest)).size, 300, 'the other repository keeps its link');
    assert.equal((await reg.blobStore.stat(digest)).size, 300, 'the bytes stay for garbage collection');
    await assert.rejects(a.blobs.delete(digest), BlobUnknownError);
  });

  it('deletes manifests by revision and tags by name', async () => {
    const repo = newRegistry().repository('scope/m');
    const m = Buffer.from('{"schemaVersion":2}');
    const digest = await repo.manifests.put(m);
    await repo.tags.tag('one', digest);
    await repo.tags.tag('two', digest);
    assert.deepEqual((await repo.tags.lookup(digest)).sort(), ['one', 'two']);
    await repo.tags.untag('one');
    assert.deepEqual(await repo.tags.all(), ['two']);
    await repo.manifests.delete(digest);
    await assert.rejects(repo.manifests.get(digest), ManifestUnknownError);
    await assert.rejects(repo.tags.untag('one'), ManifestUnknownError);
  });

  it('lists repositories in the reference order with a start-after key and a limit', async () => {
    const reg = newRegistry();
    const names = ['list/a', 'list/a-b', 'list/a/b', 'list/b', 'list/c/d/e', 'list/ab'];
    for (const name of names) await (reg.repository(name).blobs as LinkedBlobStore).linkBlob({ digest: digestOf(name), size: 1, mediaType: 'x' });
    const all = (await reg.repositories({ limit: 1000 })).filter((n) => n.startsWith('list/'));
    assert.deepEqual(all, ['list/a', 'list/a/b', 'list/a-b', 'list/ab', 'list/b', 'list/c/d/e']);
    assert.deepEqual(await reg.repositories({ last: 'list/a/b', limit: 2 }), ['list/a-b', 'list/ab']);
    // scope/a lost its only link above, and with it its `_layers` directory: it is no longer listed.
    assert.deepEqual(await reg.repositories({ last: 'list/b', limit: 10 }), ['list/c/d/e', 'scope/b']);
  });
});
