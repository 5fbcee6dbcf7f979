/** Every endpoint and error path of the Distribution API, over a real listener. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { req, resolveLocation } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from './fixture.js';

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ACCEPT_ALL = [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

let r: TestRegistry;
before(async () => {
  r = await startTestRegistry();
});
after(async () => {
  await r.stop();
});

function errorCode(res: { json<T>(): T }): string | undefined {
  return res.json<{ errors: { code: string }[] }>().errors[0]?.code;
}

async function pushBlob(repo: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const res = await req('POST', `${r.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 201, res.text());
  return digest;
}

async function pushImage(repo: string, tag: string, extra: Record<string, unknown> = {}): Promise<{ digest: string; body: Buffer; layer: string; config: string }> {
  const layerData = randomBytes(2048);
  const configData = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rnd: randomBytes(4).toString('hex') }));
  const layer = await pushBlob(repo, layerData);
  const config = await pushBlob(repo, configData);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: configData.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer, size: layerData.length }],
    ...extra,
  };
  const body = Buffer.from(JSON.stringify(manifest));
  const res = await req('PUT', `${r.url}/v2/${repo}/manifests/${tag}`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
  assert.equal(res.status, 201, res.text());
  assert.equal(res.headers.get('docker-content-digest'), sha256(body));
  return { digest: sha256(body), body, layer, config };
}

describe('base and routing', () => {
  it('answers /v2/ with 200 and the API version header', async () => {
    const res = await req('GET', `${r.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(res.json(), {});
  });

  it('answers unknown paths with 404 and wrong methods with 405, both in the OCI error format', async () => {
    const unknown = await req('GET', `${r.url}/v3/nothing`);
    assert.equal(unknown.status, 404);
    assert.ok(errorCode(unknown));
    const wrong = await req('POST', `${r.url}/v2/foo/tags/list`);
    assert.equal(wrong.status, 405);
    assert.equal(errorCode(wrong), 'UNSUPPORTED');
  });

  it('refuses malformed names and digests with 4xx, never 500', async () => {
    for (const path of ['/v2/UPPER/tags/list', '/v2/a..b/blobs/uploads/', '/v2/-a/manifests/latest', `/v2/${'a'.repeat(256)}/tags/list`]) {
      const res = await req(path.includes('uploads') ? 'POST' : 'GET', `${r.url}${path}`);
      assert.equal(res.status, 400, path);
      assert.equal(errorCode(res), 'NAME_INVALID', path);
    }
    for (const d of ['sha256:abc', 'sha256:' + 'G'.repeat(64), 'md5:' + 'a'.repeat(32), 'nocolon']) {
      const res = await req('GET', `${r.url}/v2/foo/blobs/${d}`);
      assert.equal(res.status, 400, d);
      assert.equal(errorCode(res), 'DIGEST_INVALID', d);
    }
    const badTag = await req('GET', `${r.url}/v2/foo/manifests/-bad`);
    assert.ok(badTag.status >= 400 && badTag.status < 500);
    const badEncoding = await req('GET', `${r.url}/v2/foo%ZZ/tags/list`);
    assert.ok(badEncoding.status >= 400 && badEncoding.status < 500);
  });
});

describe('blobs', () => {
  it('serves a pushed blob with headers, ranges and conditional requests', async () => {
    const data = randomBytes(10_000);
    const digest = await pushBlob('blobs/a', data);
    const head = await req('HEAD', `${r.url}/v2/blobs/a/blobs/${digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '10000');
    assert.equal(head.headers.get('docker-content-digest'), digest);
    assert.equal(head.headers.get('etag'), `"${digest}"`);
    assert.match(head.headers.get('cache-control') ?? '', /max-age/);

    const get = await req('GET', `${r.url}/v2/blobs/a/blobs/${digest}`);
    assert.deepEqual(get.body, data);

    const part = await req('GET', `${r.url}/v2/blobs/a/blobs/${digest}`, { headers: { Range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 100-199/10000');
    assert.deepEqual(part.body, data.subarray(100, 200));
    const tail = await req('GET', `${r.url}/v2/blobs/a/blobs/${digest}`, { headers: { Range: 'bytes=9990-' } });
    assert.deepEqual(tail.body, data.subarray(9990));
    const bad = await req('GET', `${r.url}/v2/blobs/a/blobs/${digest}`, { headers: { Range: 'bytes=20000-20001' } });
    assert.equal(bad.status, 416);

    const cached = await req('GET', `${r.url}/v2/blobs/a/blobs/${digest}`, { headers: { 'If-None-Match': `"${digest}"` } });
    assert.equal(cached.status, 304);
    assert.equal(cached.body.length, 0);
  });

  it('does not serve a blob to a repository that has no link to it', async () => {
    const digest = await pushBlob('blobs/owner', randomBytes(100));
    const res = await req('GET', `${r.url}/v2/blobs/other/blobs/${digest}`);
    assert.equal(res.status, 404);
    assert.equal(errorCode(res), 'BLOB_UNKNOWN');
    const head = await req('HEAD', `${r.url}/v2/blobs/other/blobs/${digest}`);
    assert.equal(head.status, 404);
  });

  it('deletes only the repository link', async () => {
    const data = randomBytes(100);
    const digest = await pushBlob('blobs/del', data);
    await req('POST', `${r.url}/v2/blobs/keep/blobs/uploads/?mount=${digest}&from=blobs/del`);
    const del = await req('DELETE', `${r.url}/v2/blobs/del/blobs/${digest}`);
    assert.equal(del.status, 202);
    assert.equal((await req('HEAD', `${r.url}/v2/blobs/del/blobs/${digest}`)).status, 404);
    assert.equal((await req('HEAD', `${r.url}/v2/blobs/keep/blobs/${digest}`)).status, 200);
    const again = await req('DELETE', `${r.url}/v2/blobs/del/blobs/${digest}`);
    assert.equal(again.status, 404);
    assert.equal(errorCode(again), 'BLOB_UNKNOWN');
  });
});

describe('uploads', () => {
  it('runs a chunked upload with status checks, an out-of-order chunk and a last chunk on PUT', async () => {
    const parts = [randomBytes(1000), randomBytes(2000), randomBytes(500)];
    const whole = Buffer.concat(parts);
    const start = await req('POST', `${r.url}/v2/up/a/blobs/uploads/`);
    assert.equal(start.status, 202);
    assert.equal(start.headers.get('range'), '0-0');
    const uuid = start.headers.get('docker-upload-uuid');
    assert.ok(uuid);
    const firstLocation = resolveLocation(r.url, start.headers.get('location'));

    const p1 = await req('PATCH', firstLocation.href, { body: parts[0], headers: { 'Content-Range': '0-999', 'Content-Type': 'application/octet-stream' } });
    assert.equal(p1.status, 202, p1.text());
    assert.equal(p1.headers.get('range'), '0-999');
    const loc2 = resolveLocation(r.url, p1.headers.get('location'));

    // A retried chunk that does not start at the current end: 416, and nothing changes.
    const retry = await req('PATCH', loc2.href, { body: parts[0], headers: { 'Content-Range': '0-999' } });
    assert.equal(retry.status, 416);
    assert.equal(retry.headers.get('range'), '0-999');

    // The oldest Location still names the upload.
    const status = await req('GET', firstLocation.href);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-999');
    assert.equal(status.headers.get('docker-upload-uuid'), uuid);
    const stale = await req('PATCH', firstLocation.href, { body: parts[1], headers: { 'Content-Range': '0-1999' } });
    assert.equal(stale.status, 416);

    const p2 = await req('PATCH', loc2.href, { body: parts[1] });
    assert.equal(p2.status, 202);
    assert.equal(p2.headers.get('range'), '0-2999');
    const loc3 = resolveLocation(r.url, p2.headers.get('location'));
    loc3.searchParams.set('digest', sha256(whole));
    const done = await req('PUT', loc3.href, { body: parts[2], headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(done.status, 201, done.text());
    assert.equal(done.headers.get('docker-content-digest'), sha256(whole));
    assert.ok(done.headers.get('location')?.endsWith(`/v2/up/a/blobs/${sha256(whole)}`));
    const back = await req('GET', `${r.url}/v2/up/a/blobs/${sha256(whole)}`);
    assert.deepEqual(back.body, whole);
    const gone = await req('GET', firstLocation.href);
    assert.equal(gone.status, 404);
    assert.equal(errorCode(gone), 'BLOB_UPLOAD_UNKNOWN');
  });

  it('refuses a wrong digest on PUT and commits nothing', async () => {
    const start = await req('POST', `${r.url}/v2/up/b/blobs/uploads/`);
    const loc = resolveLocation(r.url, start.headers.get('location'));
    const data = randomBytes(100);
    const wrong = sha256('not this');
    loc.searchParams.set('digest', wrong);
    const res = await req('PUT', loc.href, { body: data });
    assert.equal(res.status, 400);
    assert.equal(errorCode(res), 'DIGEST_INVALID');
    assert.equal((await req('HEAD', `${r.url}/v2/up/b/blobs/${wrong}`)).status, 404);
    assert.equal((await req('HEAD', `${r.url}/v2/up/b/blobs/${sha256(data)}`)).status, 404);
    const missing = await req('PUT', `${r.url}/v2/up/b/blobs/uploads/${start.headers.get('docker-upload-uuid')}`);
    assert.ok(missing.status === 400 || missing.status === 404);
  });

  it('cancels with DELETE, and refuses forged or unknown upload URLs', async () => {
    const start = await req('POST', `${r.url}/v2/up/c/blobs/uploads/`);
    const loc = resolveLocation(r.url, start.headers.get('location'));
    const forged = new URL(loc.href.replace('/up/c/', '/up/other/'));
    const forgedRes = await req('GET', forged.href);
    assert.equal(forgedRes.status, 400);
    assert.equal(errorCode(forgedRes), 'BLOB_UPLOAD_INVALID');
    assert.equal((await req('DELETE', loc.href)).status, 204);
    const after = await req('GET', loc.href);
    assert.equal(after.status, 404);
    assert.equal(errorCode(after), 'BLOB_UPLOAD_UNKNOWN');
    const junk = await req('GET', `${r.url}/v2/up/c/blobs/uploads/not-a-uuid`);
    assert.equal(junk.status, 404);
  });

  it('mounts from another repository with 201, and falls back to an upload when it cannot', async () => {
    const digest = await pushBlob('mount/src', randomBytes(300));
    const ok = await req('POST', `${r.url}/v2/mount/dst/blobs/uploads/?mount=${digest}&from=mount/src`);
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get('docker-content-digest'), digest);
    assert.equal((await req('HEAD', `${r.url}/v2/mount/dst/blobs/${digest}`)).status, 200);
    const none = await req('POST', `${r.url}/v2/mount/dst2/blobs/uploads/?mount=${sha256('absent')}&from=mount/src`);
    assert.equal(none.status, 202);
    assert.ok(none.headers.get('docker-upload-uuid'));
  });
});

describe('manifests', () => {
  it('stores, negotiates and serves a manifest by tag and by digest', async () => {
    const { digest, body } = await pushImage('man/a', 'v1');
    const byTag = await req('GET', `${r.url}/v2/man/a/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(byTag.status, 200);
    assert.equal(byTag.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(byTag.headers.get('docker-content-digest'), digest);
    assert.deepEqual(byTag.body, body);
    const head = await req('HEAD', `${r.url}/v2/man/a/manifests/${digest}`, { headers: { Accept: ACCEPT_ALL } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(body.length));
    assert.match(head.headers.get('cache-control') ?? '', /max-age/);
    const notModified = await req('GET', `${r.url}/v2/man/a/manifests/v1`, { headers: { Accept: ACCEPT_ALL, 'If-None-Match': `"${digest}"` } });
    assert.equal(notModified.status, 304);
    const unknown = await req('GET', `${r.url}/v2/man/a/manifests/nope`, { headers: { Accept: ACCEPT_ALL } });
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'MANIFEST_UNKNOWN');
  });

  it('tags several names in one PUT by digest', async () => {
    const { body, digest } = await pushImage('man/b', 'first');
    const res = await req('PUT', `${r.url}/v2/man/b/manifests/${digest}?tag=x&tag=y`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(res.status, 201);
    const tags = await req('GET', `${r.url}/v2/man/b/tags/list`);
    assert.deepEqual(tags.json(), { name: 'man/b', tags: ['first', 'x', 'y'] });
  });

  it('refuses manifests that reference unknown blobs, are malformed, too large, schema 1 or mislabelled', async () => {
    const missing = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('nope'), size: 4 },
      layers: [],
    };
    const r1 = await req('PUT', `${r.url}/v2/man/c/manifests/t`, { body: JSON.stringify(missing), headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r1.status, 400);
    assert.equal(errorCode(r1), 'MANIFEST_BLOB_UNKNOWN');

    const r2 = await req('PUT', `${r.url}/v2/man/c/manifests/t`, { body: '{not json', headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r2.status, 400);
    assert.equal(errorCode(r2), 'MANIFEST_INVALID');

    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const r3 = await req('PUT', `${r.url}/v2/man/c/manifests/t`, { body: big, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r3.status, 413);

    const schema1 = { schemaVersion: 1, name: 'man/c', tag: 't', fsLayers: [], history: [] };
    const r4 = await req('PUT', `${r.url}/v2/man/c/manifests/t`, { body: JSON.stringify(schema1), headers: { 'Content-Type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' } });
    assert.equal(r4.status, 400);
    assert.match(r4.text(), /schema 1 is not supported/);

    const r5 = await req('PUT', `${r.url}/v2/man/c/manifests/t`, { body: JSON.stringify({ ...missing, mediaType: OCI_INDEX }), headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r5.status, 400);

    const { body } = await pushImage('man/c', 'ok');
    const r6 = await req('PUT', `${r.url}/v2/man/c/manifests/${sha256('other')}`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal(r6.status, 400);
    assert.equal(errorCode(r6), 'DIGEST_INVALID');
  });

  it('requires index children to exist as manifests in the repository', async () => {
    const child = await pushImage('man/idx', 'amd64');
    const index = (children: { digest: string; size: number }[]) =>
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, ...c, platform: { os: 'linux', architecture: 'amd64' } })) });
    const bad = await req('PUT', `${r.url}/v2/man/idx/manifests/multi`, { body: index([{ digest: sha256('ghost'), size: 10 }]), headers: { 'Content-Type': OCI_INDEX } });
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'MANIFEST_BLOB_UNKNOWN');
    const good = await req('PUT', `${r.url}/v2/man/idx/manifests/multi`, { body: index([{ digest: child.digest, size: child.body.length }]), headers: { 'Content-Type': OCI_INDEX } });
    assert.equal(good.status, 201, good.text());
    const got = await req('GET', `${r.url}/v2/man/idx/manifests/multi`, { headers: { Accept: ACCEPT_ALL } });
    assert.equal(got.headers.get('content-type'), OCI_INDEX);
  });

  it('deletes by tag (only the tag) and by digest (the revision and every tag on it)', async () => {
    const { digest, body } = await pushImage('man/d', 'one');
    await req('PUT', `${r.url}/v2/man/d/manifests/two`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
    await req('PUT', `${r.url}/v2/man/d/manifests/three`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
    assert.equal((await req('DELETE', `${r.url}/v2/man/d/manifests/one`)).status, 202);
    assert.equal((await req('GET', `${r.url}/v2/man/d/manifests/${digest}`, { headers: { Accept: ACCEPT_ALL } })).status, 200);
    assert.deepEqual((await req('GET', `${r.url}/v2/man/d/tags/list`)).json(), { name: 'man/d', tags: ['three', 'two'] });
    assert.equal((await req('DELETE', `${r.url}/v2/man/d/manifests/${digest}`)).status, 202);
    assert.equal((await req('GET', `${r.url}/v2/man/d/manifests/${digest}`, { headers: { Accept: ACCEPT_ALL } })).status, 404);
    assert.equal((await req('GET', `${r.url}/v2/man/d/manifests/two`, { headers: { Accept: ACCEPT_ALL } })).status, 404);
    const again = await req('DELETE', `${r.url}/v2/man/d/manifests/${digest}`);
    assert.equal(again.status, 404);
    assert.equal(errorCode(again), 'MANIFEST_UNKNOWN');
  });
});

describe('listings and referrers', () => {
  it('paginates tags with n, last and a Link header; unknown repositories are NAME_UNKNOWN', async () => {
    const { body } = await pushImage('list/t', 'a');
    for (const t of ['b', 'c', 'd', 'e']) await req('PUT', `${r.url}/v2/list/t/manifests/${t}`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
    const p1 = await req('GET', `${r.url}/v2/list/t/tags/list?n=2`);
    assert.deepEqual(p1.json(), { name: 'list/t', tags: ['a', 'b'] });
    const link = p1.headers.get('link');
    assert.match(link ?? '', /<.*\/v2\/list\/t\/tags\/list\?n=2&last=b>; rel="next"/);
    const next = link!.slice(1, link!.indexOf('>'));
    const p2 = await req('GET', new URL(next, r.url).href);
    assert.deepEqual(p2.json(), { name: 'list/t', tags: ['c', 'd'] });
    const p3 = await req('GET', `${r.url}/v2/list/t/tags/list?n=2&last=d`);
    assert.deepEqual(p3.json(), { name: 'list/t', tags: ['e'] });
    assert.equal(p3.headers.get('link'), null);
    const unknown = await req('GET', `${r.url}/v2/list/none/tags/list`);
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'NAME_UNKNOWN');
    const badN = await req('GET', `${r.url}/v2/list/t/tags/list?n=-1`);
    assert.equal(badN.status, 400);
  });

  it('paginates the catalog', async () => {
    for (const n of ['cat/x1', 'cat/x2', 'cat/x3']) await pushBlob(n, randomBytes(10));
    const all: string[] = [];
    let url: string | undefined = `${r.url}/v2/_catalog?n=2`;
    while (url) {
      const res = await req('GET', url);
      assert.equal(res.status, 200);
      all.push(...res.json<{ repositories: string[] }>().repositories);
      const link = res.headers.get('link');
      url = link ? new URL(link.slice(1, link.indexOf('>')), r.url).href : undefined;
    }
    assert.deepEqual(all, [...all].sort());
    for (const n of ['cat/x1', 'cat/x2', 'cat/x3']) assert.ok(all.includes(n));
  });

  it('lists referrers with artifactType filtering and answers OCI-Subject on PUT', async () => {
    const subject = await pushImage('ref/a', 'base');
    const emptyConfig = Buffer.from('{}');
    const emptyDigest = await pushBlob('ref/a', emptyConfig);
    const makeArtifact = async (artifactType: string) => {
      const m = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyDigest, size: 2 }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.body.length },
        annotations: { 'org.example': artifactType },
      };
      const body = JSON.stringify(m);
      const res = await req('PUT', `${r.url}/v2/ref/a/manifests/${sha256(body)}`, { body, headers: { 'Content-Type': OCI_MANIFEST } });
      assert.equal(res.status, 201, res.text());
      assert.equal(res.headers.get('oci-subject'), subject.digest);
      return sha256(body);
    };
    const sig = await makeArtifact('application/vnd.example.signature');
    const sbom = await makeArtifact('application/vnd.example.sbom');
    const all = await req('GET', `${r.url}/v2/ref/a/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('content-type'), OCI_INDEX);
    const index = all.json<{ manifests: { digest: string; artifactType: string }[] }>();
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [sig, sbom].sort());
    const filtered = await req('GET', `${r.url}/v2/ref/a/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(filtered.json<{ manifests: { digest: string }[] }>().manifests.map((m) => m.digest), [sbom]);
    const none = await req('GET', `${r.url}/v2/ref/a/referrers/${sha256('nothing')}`);
    assert.equal(none.status, 200);
    assert.deepEqual(none.json<{ manifests: unknown[] }>().manifests, []);
  });
});

describe('configuration-driven behaviour', () => {
  it('refuses deletes with 405 UNSUPPORTED when delete is disabled', async () => {
    const other = await startTestRegistry({ deleteEnabled: false });
    try {
      const data = randomBytes(10);
      const digest = sha256(data);
      await req('POST', `${other.url}/v2/x/blobs/uploads/?digest=${digest}`, { body: data });
      const res = await req('DELETE', `${other.url}/v2/x/blobs/${digest}`);
      assert.equal(res.status, 405);
      assert.equal(errorCode(res), 'UNSUPPORTED');
      const m = await req('DELETE', `${other.url}/v2/x/manifests/latest`);
      assert.equal(m.status, 405);
    } finally {
      await other.stop();
    }
  });

  it('answers writes with 405 in read-only mode but still serves reads', async () => {
    const other = await startTestRegistry({ readOnly: true });
    try {
      const res = await req('POST', `${other.url}/v2/x/blobs/uploads/`);
      assert.equal(res.status, 405);
      assert.equal(errorCode(res), 'UNSUPPORTED');
      assert.equal((await req('GET', `${other.url}/v2/`)).status, 200);
    } finally {
      await other.stop();
    }
  });

  it('hands out relative Locations under http.relativeurls and a prefix under http.prefix', async () => {
    const other = await startTestRegistry({ urls: { prefix: '/registry', relative: true } });
    try {
      const res = await req('POST', `${other.url}/registry/v2/x/blobs/uploads/`);
      assert.equal(res.status, 202);
      assert.match(res.headers.get('location') ?? '', /^\/registry\/v2\/x\/blobs\/uploads\/[0-9a-f-]+\?_state=/);
      assert.equal((await req('GET', `${other.url}/v2/`)).status, 404);
    } finally {
      await other.stop();
    }
  });
});

describe('edge cases of uploads', () => {
  it('finishes an upload that never received a byte as the empty blob', async () => {
    const start = await req('POST', `${r.url}/v2/edge/empty/blobs/uploads/`);
    const loc = resolveLocation(r.url, start.headers.get('location'));
    const status = await req('GET', loc.href);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), '0-0');
    const empty = sha256(Buffer.alloc(0));
    loc.searchParams.set('digest', empty);
    const done = await req('PUT', loc.href);
    assert.equal(done.status, 201, done.text());
    const got = await req('GET', `${r.url}/v2/edge/empty/blobs/${empty}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.length, 0);
  });

  it('keeps the bytes of a chunk whose client disconnected, so the upload can continue', async () => {
    const { request } = await import('node:http');
    const start = await req('POST', `${r.url}/v2/edge/cut/blobs/uploads/`);
    const loc = resolveLocation(r.url, start.headers.get('location'));
    const first = randomBytes(300_000);
    await new Promise<void>((resolve) => {
      const cut = request(loc, { method: 'PATCH', headers: { 'Content-Length': String(first.length * 2) } });
      cut.on('error', () => resolve());
      cut.write(first, () => setTimeout(() => cut.destroy(), 200));
      cut.on('close', () => resolve());
    });
    // The server notices the disconnect, keeps what it received and stays consistent.
    let size = -1;
    for (let i = 0; i < 50; i++) {
      const st = await req('GET', loc.href);
      assert.equal(st.status, 204);
      size = Number((st.headers.get('range') ?? '0-0').split('-')[1]) + 1;
      if (size === first.length) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(size, first.length, 'what arrived before the disconnect is kept');
    const rest = randomBytes(1000);
    const p2 = await req('PATCH', loc.href, { body: rest, headers: { 'Content-Range': `${first.length}-${first.length + rest.length - 1}` } });
    assert.equal(p2.status, 202, p2.text());
    const fin = resolveLocation(r.url, p2.headers.get('location'));
    fin.searchParams.set('digest', sha256(Buffer.concat([first, rest])));
    assert.equal((await req('PUT', fin.href)).status, 201);
  });
});
