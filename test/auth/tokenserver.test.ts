// The built-in token server: the Docker token protocol (GET with Basic credentials, several scope
// parameters), the OAuth2 POST form (password and refresh_token grants), anonymous pull where the
// rules allow it, clear refusals, and the signing key generated once and kept across restarts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningRegistry } from '../../src/registry-server.js';
import { req } from '../helpers/registry-client.js';
import { basic, bearer, claimsOf, fetchToken, pushImage, startAuthRegistry, tokenFor, writeHtpasswd, type TokenResponse } from './helpers.js';

const ACCESS = {
  anonymous: [{ repositories: ['public/**'] }],
  rules: [
    { users: ['alice'], repositories: ['team/**', 'public/**'], actions: ['pull', 'push'] },
    { users: ['alice'], repositories: ['team/scratch'], actions: ['delete'] },
    { users: ['bob'], repositories: ['team/**'], actions: ['pull'] },
  ],
};

function form(fields: Record<string, string | string[]>): string {
  const f = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of Array.isArray(v) ? v : [v]) f.append(k, x);
  return f.toString();
}

const postToken = (url: string, fields: Record<string, string | string[]>) =>
  req('POST', `${url}/auth/token`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form(fields) });

describe('built-in token server', () => {
  let dir: string;
  let htpasswd: string;
  let reg: RunningRegistry;
  const start = () =>
    startAuthRegistry({ tokenserver: { enabled: true, htpasswd, keydirectory: join(dir, 'keys'), expiration: '10m' }, access: ACCESS });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-ts-'));
    htpasswd = join(dir, 'htpasswd');
    writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-pw' });
    reg = await start();
  });
  after(async () => {
    await reg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers GET with token, access_token, expires_in and issued_at', async () => {
    const res = await fetchToken(reg.url, { user: 'alice', password: 'alice-pw', service: 'berth', scopes: ['repository:team/app:pull,push'] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = res.json<TokenResponse>();
    assert.equal(body.access_token, body.token);
    assert.equal(body.expires_in, 600);
    assert.ok(Math.abs(Date.parse(body.issued_at) - Date.now()) < 60_000);
    const claims = claimsOf(body.token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.iss, 'berth-token-server');
    assert.equal(claims.aud, 'berth');
    assert.equal((claims.exp as number) - (claims.iat as number), 600);
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
  });

  it('grants several scope parameters, each only as far as the rules allow', async () => {
    const token = await tokenFor(reg.url, 'bob', 'bob-pw', ['repository:team/app:pull,push', 'repository:public/base:pull repository:other/x:pull', 'registry:catalog:*', 'repository:Not_Valid:pull']);
    assert.deepEqual(claimsOf(token).access, [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
      { type: 'repository', name: 'public/base', actions: ['pull'] },
    ]);
  });

  it('lets a pull-only user pull but not push, and refuses delete without the delete action', async () => {
    const alice = await tokenFor(reg.url, 'alice', 'alice-pw', ['repository:team/app:pull,push']);
    const image = await pushImage(reg.url, 'team/app', 'v1', { authorization: bearer(alice) });
    const bob = await tokenFor(reg.url, 'bob', 'bob-pw', ['repository:team/app:pull,push,delete']);
    assert.equal((await req('GET', `${reg.url}/v2/team/app/manifests/v1`, { headers: { authorization: bearer(bob), accept: 'application/vnd.oci.image.manifest.v1+json' } })).status, 200);
    const push = await req('POST', `${reg.url}/v2/team/app/blobs/uploads/`, { headers: { authorization: bearer(bob) } });
    assert.equal(push.status, 401);
    assert.match(push.headers.get('www-authenticate') ?? '', /scope="repository:team\/app:pull,push",error="insufficient_scope"/);
    const del = await req('DELETE', `${reg.url}/v2/team/app/manifests/${image.manifest}`, { headers: { authorization: bearer(alice) } });
    assert.equal(del.status, 401, 'alice may push team/app but not delete there');
    const scratch = await tokenFor(reg.url, 'alice', 'alice-pw', ['repository:team/scratch:pull,push,delete']);
    const img2 = await pushImage(reg.url, 'team/scratch', 'v1', { authorization: bearer(scratch) });
    assert.equal((await req('DELETE', `${reg.url}/v2/team/scratch/manifests/${img2.manifest}`, { headers: { authorization: bearer(scratch) } })).status, 202);
  });

  it('gives anonymous callers pull where configured and nothing else', async () => {
    const alice = await tokenFor(reg.url, 'alice', 'alice-pw', ['repository:public/base:pull,push']);
    await pushImage(reg.url, 'public/base', 'latest', { authorization: bearer(alice) });
    const anon = await tokenFor(reg.url, undefined, undefined, ['repository:public/base:pull,push', 'repository:team/app:pull']);
    const claims = claimsOf(anon);
    assert.equal(claims.sub, '');
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
    const res = await req('GET', `${reg.url}/v2/public/base/manifests/latest`, { headers: { authorization: bearer(anon), accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(res.status, 200);
    assert.equal((await req('GET', `${reg.url}/v2/team/app/tags/list`, { headers: { authorization: bearer(anon) } })).status, 401);
  });

  it('refuses wrong credentials with 401 instead of downgrading to anonymous', async () => {
    for (const opts of [{ user: 'alice', password: 'nope' }, { user: 'mallory', password: 'x' }]) {
      const res = await fetchToken(reg.url, { ...opts, scopes: ['repository:public/base:pull'] });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      assert.equal(res.json<{ errors: { code: string }[] }>().errors[0]?.code, 'UNAUTHORIZED');
    }
    const mismatch = await fetchToken(reg.url, { user: 'alice', password: 'alice-pw', extra: { account: 'bob' } });
    assert.equal(mismatch.status, 401);
  });

  it('refuses another service and other methods', async () => {
    const res = await fetchToken(reg.url, { user: 'alice', password: 'alice-pw', service: 'elsewhere' });
    assert.equal(res.status, 400);
    assert.equal((await req('PUT', `${reg.url}/auth/token`)).status, 405);
  });

  it('implements the OAuth2 password grant with a refresh token for offline access', async () => {
    const res = await postToken(reg.url, { grant_type: 'password', username: 'alice', password: 'alice-pw', service: 'berth', client_id: 'docker', access_type: 'offline', scope: 'repository:team/app:pull repository:team/app:push' });
    assert.equal(res.status, 200);
    const body = res.json<TokenResponse>();
    assert.ok(body.refresh_token);
    assert.equal(body.scope, 'repository:team/app:pull,push');
    assert.deepEqual(claimsOf(body.access_token).access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    // The refresh token is no access token.
    assert.equal((await req('GET', `${reg.url}/v2/`, { headers: { authorization: bearer(body.refresh_token as string) } })).status, 401);

    const refreshed = await postToken(reg.url, { grant_type: 'refresh_token', refresh_token: body.refresh_token as string, service: 'berth', client_id: 'docker', scope: 'repository:team/app:pull' });
    assert.equal(refreshed.status, 200);
    const again = refreshed.json<TokenResponse>();
    assert.equal(claimsOf(again.access_token).sub, 'alice');
    assert.equal((await req('GET', `${reg.url}/v2/team/app/tags/list`, { headers: { authorization: bearer(again.access_token) } })).status, 200);

    const wrong = await postToken(reg.url, { grant_type: 'password', username: 'alice', password: 'bad', client_id: 'docker' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json<{ error: string }>().error, 'invalid_grant');
    const garbage = await postToken(reg.url, { grant_type: 'refresh_token', refresh_token: 'x.y.z', client_id: 'docker' });
    assert.equal(garbage.status, 401);
    const unknown = await postToken(reg.url, { grant_type: 'client_credentials', client_id: 'docker' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json<{ error: string }>().error, 'unsupported_grant_type');
  });

  it('GET with offline_token=true also hands out a refresh token', async () => {
    const res = await fetchToken(reg.url, { user: 'bob', password: 'bob-pw', extra: { offline_token: 'true', client_id: 'test' } });
    assert.ok(res.json<TokenResponse>().refresh_token);
  });

  it('a new password revokes refresh tokens', async () => {
    const res = await postToken(reg.url, { grant_type: 'password', username: 'bob', password: 'bob-pw', access_type: 'offline', client_id: 'docker' });
    const refresh = res.json<TokenResponse>().refresh_token as string;
    writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-new-pw' });
    let status = 200;
    for (let i = 0; i < 100 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await postToken(reg.url, { grant_type: 'refresh_token', refresh_token: refresh, client_id: 'docker' })).status;
    }
    assert.equal(status, 401);
    assert.equal((await fetchToken(reg.url, { user: 'bob', password: 'bob-new-pw' })).status, 200);
  });

  it('generates the signing key once (mode 0600) and keeps trusting it after a restart', async () => {
    const file = join(dir, 'keys', 'token-signing-key.pem');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'keys')).mode & 0o777, 0o700);
    const token = await tokenFor(reg.url, 'alice', 'alice-pw', ['repository:team/app:pull']);
    const before = statSync(file).mtimeMs;
    await reg.close();
    reg = await start();
    assert.equal(statSync(file).mtimeMs, before);
    // In-memory storage starts empty again: 404 means the old token got through the gate.
    assert.equal((await req('GET', `${reg.url}/v2/team/app/tags/list`, { headers: { authorization: bearer(token) } })).status, 404);
  });

  it('basic credentials are not accepted by the registry in token mode', async () => {
    const res = await req('GET', `${reg.url}/v2/`, { headers: { authorization: basic('alice', 'alice-pw') } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${reg.url}/auth/token",service="berth"`);
  });
});

describe('token server configuration errors', () => {
  it('needs tokenserver.htpasswd, and refuses to run beside auth.htpasswd', async () => {
    await assert.rejects(startAuthRegistry({ tokenserver: { enabled: true } }), /tokenserver\.htpasswd: required/);
    await assert.rejects(
      startAuthRegistry({ tokenserver: { enabled: true, htpasswd: '/nonexistent' }, auth: { htpasswd: { realm: 'r', path: '/nonexistent' } } }),
      /tokenserver\.enabled: .*auth\.htpasswd/,
    );
    await assert.rejects(startAuthRegistry({ tokenserver: { enabled: true, htpasswd: '/nonexistent/htpasswd' } }), /tokenserver\.htpasswd: cannot use htpasswd file "\/nonexistent\/htpasswd": file does not exist/);
  });
});

describe('token server realm', () => {
  it('uses http.host and tokenserver.path when configured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-auth-realm-'));
    writeHtpasswd(join(dir, 'htpasswd'), { alice: 'alice-pw' });
    const reg = await startAuthRegistry({
      http: { host: 'https://registry.example.com' },
      tokenserver: { enabled: true, htpasswd: join(dir, 'htpasswd'), keydirectory: join(dir, 'keys'), path: '/token', service: 'registry.example.com' },
    });
    try {
      const res = await req('GET', `${reg.url}/v2/a/manifests/1`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="https://registry.example.com/token",service="registry.example.com",scope="repository:a:pull"');
      const token = await fetchToken(reg.url, { user: 'alice', password: 'alice-pw', path: '/token', service: 'registry.example.com' });
      assert.equal(token.status, 200);
      assert.equal(claimsOf(token.json<TokenResponse>().token).aud, 'registry.example.com');
      assert.equal((await req('GET', `${reg.url}/auth/token`)).status, 404, 'only the configured path');
    } finally {
      await reg.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
