// berth's `proxies:` extension with the reference implementation (docker-registry, htpasswd with
// bcrypt) as the upstream: a prefix proxied with Basic credentials, a prefix with wrong
// credentials, and hosted repositories beside them that accept pushes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { startBerth } from '../helpers/berth-server.js';
import { buildOciImage, layoutBlobs, type BuiltImage } from '../helpers/fixtures.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';
import { MANIFEST_ACCEPT, req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { copy, dockerRef, inspectRaw, SkopeoError } from '../helpers/skopeo.js';
import { Forwarder } from './helpers/forwarder.js';
import { schedulerState } from './helpers/storage.js';

const STEP = { timeout: 180_000 };

describe('several upstreams beside hosted repositories (proxies:), reference upstream with htpasswd', () => {
  let work: string;
  let reference: RegistryServer;
  let forwarder: Forwarder;
  let cache: RegistryServer;
  let image: BuiltImage;
  let hostedImage: BuiltImage;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-proxy-prefixes-'));
    const htpasswd = join(work, 'htpasswd');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('s3cret', 6)}\n`);
    reference = await startReferenceRegistry({ extraConfig: { auth: { htpasswd: { realm: 'upstream', path: htpasswd } } } });
    image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 1024 * 1024 }, { size: 300_000 }] });
    hostedImage = await buildOciImage(join(work, 'hosted'), { tag: 'v1', layers: [{ size: 200_000 }] });
    await copy(image.ref, dockerRef(reference.url, 'team/app', 'v1'), { extraArgs: ['--dest-creds', 'alice:s3cret'] });
    forwarder = await Forwarder.start(reference.url);
    cache = await startBerth({
      extraConfig: {
        proxies: [
          { prefix: 'ref.test', remoteurl: forwarder.url, username: 'alice', password: 's3cret', ttl: '0s' },
          { prefix: 'bad.test', remoteurl: forwarder.url, username: 'alice', password: 'wrong' },
        ],
      },
    });
  }, STEP);

  after(async () => {
    await cache?.stop();
    await forwarder?.stop();
    await reference?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('pulls through a prefix with Basic credentials, byte for byte', STEP, async () => {
    const dest = join(work, 'pulled');
    await copy(dockerRef(cache.url, 'ref.test/team/app', 'v1'), `oci:${dest}:v1`);
    const blobs = await layoutBlobs(dest);
    for (const digest of [image.manifest.digest, ...image.blobs]) assert.ok(blobs.has(digest), `pulled layout lacks ${digest}`);
    assert.ok((await inspectRaw(dockerRef(cache.url, 'ref.test/team/app', 'v1'))).equals(image.manifest.bytes));
    // The upstream saw the name without the prefix, and credentials once it asked for them.
    assert.ok(forwarder.seen.some((s) => s.path === '/v2/team/app/manifests/v1' && s.status === 200));
    assert.ok(forwarder.seen.every((s) => s.path.startsWith('/v2/team/app/')), JSON.stringify(forwarder.seen));
    // ttl 0: nothing is scheduled for expiry.
    assert.equal(Object.keys(schedulerState(cache.rootdirectory as string) ?? {}).length, 0);

    const mark = forwarder.seen.length;
    await copy(dockerRef(cache.url, 'ref.test/team/app', 'v1'), `oci:${join(work, 'again')}:v1`);
    assert.deepEqual(forwarder.seen.slice(mark).map((s) => `${s.method} ${s.path} ${s.status}`), ['HEAD /v2/team/app/manifests/v1 200']);
  });

  it('answers 403 DENIED when the upstream refuses the configured credentials', STEP, async () => {
    const res = await req('GET', `${cache.url}/v2/bad.test/team/app/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(res.status, 403, res.text());
    assert.equal(res.json<{ errors: { code: string }[] }>().errors[0]?.code, 'DENIED');
  });

  it('keeps every other repository hosted: pushes work there and answer 405 under a proxied prefix', STEP, async () => {
    await copy(hostedImage.ref, dockerRef(cache.url, 'local/app', 'v1'));
    assert.ok((await inspectRaw(dockerRef(cache.url, 'local/app', 'v1'))).equals(hostedImage.manifest.bytes));

    await assert.rejects(copy(hostedImage.ref, dockerRef(cache.url, 'ref.test/team/app', 'v2')), SkopeoError);
    const push = await req('POST', `${cache.url}/v2/ref.test/team/app/blobs/uploads/`);
    assert.equal(push.status, 405);
    assert.equal(push.json<{ errors: { code: string }[] }>().errors[0]?.code, 'UNSUPPORTED');

    const catalog = await req('GET', `${cache.url}/v2/_catalog`);
    assert.deepEqual(catalog.json<{ repositories: string[] }>().repositories, ['local/app', 'ref.test/team/app']);
  });

  it('mounts into a hosted repository only what the cache really stores', STEP, async () => {
    const cached = image.layers[0]?.digest as string;
    const mounted = await req('POST', `${cache.url}/v2/local/copy/blobs/uploads/?mount=${cached}&from=ref.test/team/app`);
    assert.equal(mounted.status, 201, mounted.text());
    // Known upstream but never pulled through: an ordinary upload starts instead.
    const other = await buildOciImage(join(work, 'other'), { tag: 'v1', layers: [{ size: 10_000 }] });
    await copy(other.ref, dockerRef(reference.url, 'team/app', 'other'), { extraArgs: ['--dest-creds', 'alice:s3cret'] });
    const uncached = other.layers[0]?.digest as string;
    const notMounted = await req('POST', `${cache.url}/v2/local/copy/blobs/uploads/?mount=${uncached}&from=ref.test/team/app`);
    assert.equal(notMounted.status, 202, notMounted.text());
    const head = await req('HEAD', `${cache.url}/v2/local/copy/blobs/${uncached}`);
    assert.equal(head.status, 404);
  });
});
