// A berth upstream with token auth (its built-in token server): the cache runs the Bearer dance
// with its configured credentials, reuses the token while it is valid, fetches a new one when the
// upstream rejects the old (here: the upstream restarted with a new signing key), and passes the
// upstream's refusal on as 403 when it has no credentials that work.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { startBerth } from '../helpers/berth-server.js';
import { buildOciImage, layoutBlobs, type BuiltImage } from '../helpers/fixtures.js';
import { MANIFEST_ACCEPT, req } from '../helpers/registry-client.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { copy, dockerRef } from '../helpers/skopeo.js';
import { Forwarder } from './helpers/forwarder.js';

const STEP = { timeout: 180_000 };
const ACCESS = { rules: [{ users: ['alice'], repositories: ['team/**'], actions: ['*'] }] };

describe('pull-through from a berth upstream with token auth', () => {
  let work: string;
  let upstreamRoot: string;
  let htpasswd: string;
  let upstream: RegistryServer;
  let forwarder: Forwarder;
  let cache: RegistryServer;
  let image: BuiltImage;

  const startUpstream = (keys: string) =>
    startBerth({ rootdirectory: upstreamRoot, extraConfig: { tokenserver: { enabled: true, htpasswd, keydirectory: join(work, keys), expiration: '10m' }, access: ACCESS } });
  const tokenRequests = () => forwarder.count('GET', /^\/auth\/token\?/);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-proxy-token-'));
    upstreamRoot = join(work, 'upstream');
    htpasswd = join(work, 'htpasswd');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('alice-pw', 6).replace(/^\$2b\$/, '$2y$')}\n`);
    upstream = await startUpstream('keys-1');
    image = await buildOciImage(join(work, 'img'), { tag: 'v1', layers: [{ size: 600_000 }, { size: 50_000 }] });
    await copy(image.ref, dockerRef(upstream.url, 'team/app', 'v1'), { extraArgs: ['--dest-creds', 'alice:alice-pw'] });
    forwarder = await Forwarder.start(upstream.url);
    cache = await startBerth({
      extraConfig: {
        proxies: [
          { prefix: 'tok', remoteurl: forwarder.url, username: 'alice', password: 'alice-pw' },
          { prefix: 'anon', remoteurl: forwarder.url },
        ],
      },
    });
  }, STEP);

  after(async () => {
    await cache?.stop();
    await forwarder?.stop();
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('pulls through with a token fetched for the repository scope, and reuses it', STEP, async () => {
    const dest = join(work, 'pulled');
    await copy(dockerRef(cache.url, 'tok/team/app', 'v1'), `oci:${dest}:v1`);
    const blobs = await layoutBlobs(dest);
    for (const digest of [image.manifest.digest, ...image.blobs]) assert.ok(blobs.has(digest), `pulled layout lacks ${digest}`);
    const tokenCalls = forwarder.seen.filter((s) => s.path.startsWith('/auth/token?'));
    assert.equal(tokenCalls.length, 1, 'one token for the whole pull');
    const scope = new URL(tokenCalls[0]?.path ?? '', 'http://x').searchParams.get('scope');
    assert.equal(scope, 'repository:team/app:pull');

    const mark = forwarder.seen.length;
    await copy(dockerRef(cache.url, 'tok/team/app', 'v1'), `oci:${join(work, 'again')}:v1`);
    assert.deepEqual(forwarder.seen.slice(mark).map((s) => `${s.method} ${s.path} ${s.status}`), ['HEAD /v2/team/app/manifests/v1 200']);
  });

  it('fetches a new token when the upstream rejects the one it has', STEP, async () => {
    // A new signing key: every token issued so far is now invalid.
    await upstream.stop();
    upstream = await startUpstream('keys-2');
    forwarder.retarget(upstream.url);
    const before = tokenRequests();
    const mark = forwarder.seen.length;
    const res = await req('GET', `${cache.url}/v2/tok/team/app/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(res.status, 200, res.text());
    assert.ok(res.body.equals(image.manifest.bytes));
    assert.equal(tokenRequests(), before + 1);
    assert.ok(forwarder.seen.slice(mark).some((s) => s.status === 401), 'the old token was refused first');
    assert.ok(forwarder.seen.slice(mark).some((s) => s.method === 'HEAD' && s.status === 200), 'then accepted with the new one');
  });

  it('answers 403 DENIED when the upstream grants an anonymous token nothing', STEP, async () => {
    const res = await req('GET', `${cache.url}/v2/anon/team/app/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(res.status, 403, res.text());
    assert.equal(res.json<{ errors: { code: string }[] }>().errors[0]?.code, 'DENIED');
  });
});
