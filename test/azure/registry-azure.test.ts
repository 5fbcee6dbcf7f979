// berth with the azure driver on azurite, started as its own process: the skopeo scenarios
// (multi-layer OCI image, Docker schema2, multi-arch index, tags, delete, catalog) with
// redirects on and off, blob GETs answered with a 307 to a SAS URL (or with the bytes), and a
// chunked upload whose PATCHes continue the upload's block list.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { pushBlob, req, resolveLocation } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { runClientScenarios } from '../helpers/scenarios.js';

const MiB = 1 << 20;
const noise = (label: string, n: number) => createHash('shake256', { outputLength: n }).update(label).digest();
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let azurite: Azurite | undefined;
const sharedAzurite = async () => (azurite ??= await startAzurite());
after(async () => azurite?.stop());

/**
 * berth whose only storage is an azurite container (`filesystem: null` drops the default driver):
 * a fresh one unless given. Instances on one container share the upload-URL secret.
 */
async function startBerthOnAzurite(redirect: boolean, container?: string): Promise<RegistryServer & { container: string }> {
  const a = await sharedAzurite();
  const name = container ?? (await a.createContainer(redirect ? 'redirect' : 'direct'));
  const server = await startBerth({
    extraConfig: {
      storage: {
        filesystem: null,
        azure: a.parameters(name, { rootdirectory: '/registry' }),
        redirect: { disable: !redirect },
      },
      http: { secret: 'one-secret-for-every-instance' },
    },
  });
  return { ...server, container: name };
}

runClientScenarios(() => startBerthOnAzurite(true), { name: 'skopeo against berth on azurite, redirects on', bigLayer: 20 * MiB });
runClientScenarios(() => startBerthOnAzurite(false), { name: 'skopeo against berth on azurite, redirects off', bigLayer: 20 * MiB });

describe('blob downloads and chunked uploads with berth on azurite', () => {
  const servers: RegistryServer[] = [];
  let redirecting: RegistryServer;
  let direct: RegistryServer & { container: string };
  /** A second instance on `direct`'s container. */
  let twin: RegistryServer;
  before(async () => {
    [redirecting, direct] = await Promise.all([startBerthOnAzurite(true), startBerthOnAzurite(false)]);
    servers.push(redirecting, direct);
    twin = await startBerthOnAzurite(false, direct.container);
    servers.push(twin);
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('with redirects on, a blob GET is a 307 to a SAS URL on the blob service and the bytes arrive intact', { timeout: 60_000 }, async () => {
    const blob = noise('redirected', 9 * MiB + 5);
    const digest = await pushBlob(redirecting.url, 'az/redirect', blob);
    const res = await req('GET', `${redirecting.url}/v2/az/redirect/blobs/${digest}`);
    assert.equal(res.status, 307);
    const location = new URL(res.headers.get('location') ?? '');
    assert.equal(location.origin, new URL(azurite?.serviceURL ?? '').origin, 'the client is sent to the blob service');
    assert.ok(location.searchParams.get('sig'), 'the URL is signed');
    const hex = digest.slice('sha256:'.length);
    assert.ok(location.pathname.endsWith(`/registry/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`), location.pathname);
    const download = await req('GET', location.toString());
    assert.equal(download.status, 200);
    assert.equal(digestOf(download.body), digest);
    // HEAD is answered by the registry itself; an unknown blob is still a 404 from the registry.
    const head = await req('HEAD', `${redirecting.url}/v2/az/redirect/blobs/${digest}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(blob.length));
    const unknown = await req('GET', `${redirecting.url}/v2/az/redirect/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(unknown.status, 404);
  });

  it('with redirects off, the registry serves the bytes, ranges included', { timeout: 60_000 }, async () => {
    const blob = noise('direct', 9 * MiB + 5);
    const digest = await pushBlob(direct.url, 'az/direct', blob);
    const res = await req('GET', `${direct.url}/v2/az/direct/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(digestOf(res.body), digest);
    const range = await req('GET', `${direct.url}/v2/az/direct/blobs/${digest}`, { headers: { range: `bytes=${8 * MiB - 2}-${8 * MiB + 1}` } });
    assert.equal(range.status, 206);
    assert.ok(range.body.equals(blob.subarray(8 * MiB - 2, 8 * MiB + 2)), 'a range across a block boundary');
  });

  it('a chunked upload continues across PATCH requests on two instances and ends as one correct blob', { timeout: 60_000 }, async () => {
    const blob = noise('chunked', 21 * MiB + 3);
    const cuts = [0, 5 * MiB, 5 * MiB + 1, 17 * MiB, blob.length];
    const instances = [direct, twin];
    const start = await req('POST', `${direct.url}/v2/az/chunked/blobs/uploads/`);
    assert.equal(start.status, 202);
    let location = resolveLocation(direct.url, start.headers.get('location'));
    /** The upload URL on instance `i` (same path and state, another host). */
    const on = (i: number) => new URL(`${location.pathname}${location.search}`, (instances[i % 2] as RegistryServer).url);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [from, to] = [cuts[i] as number, cuts[i + 1] as number];
      const patch = await req('PATCH', on(i).toString(), {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` },
        body: blob.subarray(from, to),
      });
      assert.equal(patch.status, 202, patch.text());
      assert.equal(patch.headers.get('range'), `0-${to - 1}`);
      location = resolveLocation(direct.url, patch.headers.get('location'));
    }
    // A retried chunk that starts at the wrong offset is refused and the upload stays usable.
    const stale = await req('PATCH', on(0).toString(), {
      headers: { 'content-type': 'application/octet-stream', 'content-range': '0-9' },
      body: blob.subarray(0, 10),
    });
    assert.equal(stale.status, 416);
    const digest = digestOf(blob);
    const finish = on(1);
    finish.searchParams.set('digest', digest);
    const done = await req('PUT', finish.toString());
    assert.equal(done.status, 201, done.text());
    for (const server of instances) {
      const res = await req('GET', `${server.url}/v2/az/chunked/blobs/${digest}`);
      assert.equal(res.status, 200);
      assert.equal(digestOf(res.body), digest);
    }
  });
});
