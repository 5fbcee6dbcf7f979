// The access matrix in token mode with the built-in token server: every route × every method, for
// callers without a token, with tokens holding different grants, and with a token for another
// repository. The challenges must have the reference's exact format.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningRegistry } from '../../src/registry-server.js';
import { req } from '../helpers/registry-client.js';
import { bearer, claimsOf, errorCode, startAuthRegistry, tokenFor, writeHtpasswd } from './helpers.js';
import { allowed, CASES, MATRIX_ACCESS, passwordOf, REPO, requestInit, USERS } from './routes.js';

describe('access matrix with the built-in token server', () => {
  let dir: string;
  let reg: RunningRegistry;
  const tokens = new Map<string, string>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-tmatrix-'));
    const path = join(dir, 'htpasswd');
    writeHtpasswd(path, Object.fromEntries(Object.keys(USERS).map((u) => [u, passwordOf(u)])));
    reg = await startAuthRegistry({ tokenserver: { enabled: true, htpasswd: path, keydirectory: join(dir, 'keys') }, access: MATRIX_ACCESS });
    // Every user asks for everything; the token carries what the rules grant.
    for (const user of Object.keys(USERS)) {
      tokens.set(user, await tokenFor(reg.url, user, passwordOf(user), [`repository:${REPO}:pull,push,delete`, 'registry:catalog:*']));
    }
  });
  after(async () => {
    await reg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const realm = () => `${reg.url}/auth/token`;

  it('challenges callers without a token with realm, service and the exact scope', async () => {
    for (const c of CASES) {
      const res = await req(c.method, reg.url + c.path, requestInit(c));
      assert.equal(res.status, 401, `${c.method} ${c.path}`);
      const scope = c.scope === '' ? '' : `,scope="${c.scope}"`;
      assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm()}",service="berth"${scope}`, `${c.method} ${c.path}`);
      if (c.method !== 'HEAD') assert.equal(errorCode(res), 'UNAUTHORIZED');
    }
  });

  it('puts only the granted subset of the asked actions in each token', () => {
    const access = (user: string) => claimsOf(tokens.get(user) as string).access;
    assert.deepEqual(access('puller'), [{ type: 'repository', name: REPO, actions: ['pull'] }]);
    assert.deepEqual(access('pusher'), [{ type: 'repository', name: REPO, actions: ['pull', 'push'] }]);
    assert.deepEqual(access('lister'), [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    assert.deepEqual(access('outsider'), []);
    assert.deepEqual(access('admin'), [
      { type: 'repository', name: REPO, actions: ['pull', 'push', 'delete'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  for (const user of Object.keys(USERS)) {
    it(`lets ${user}'s token through exactly where it grants access`, async () => {
      for (const c of CASES) {
        const init = requestInit(c);
        const res = await req(c.method, reg.url + c.path, { ...init, headers: { ...init.headers, authorization: bearer(tokens.get(user) as string) } });
        if (allowed(user, c)) {
          assert.ok(res.status !== 401 && res.status !== 403, `${user} ${c.method} ${c.path}: ${res.status} ${res.text()}`);
        } else {
          assert.equal(res.status, 401, `${user} ${c.method} ${c.path}`);
          assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm()}",service="berth",scope="${c.scope}",error="insufficient_scope"`);
        }
      }
    });
  }

  it('does not accept a token for repository A on repository B', async () => {
    const token = await tokenFor(reg.url, 'admin', passwordOf('admin'), ['repository:matrix/a:pull,push,delete']);
    const ok = await req('GET', `${reg.url}/v2/matrix/a/tags/list`, { headers: { authorization: bearer(token) } });
    assert.equal(ok.status, 404); // past the gate: the repository is simply empty
    for (const c of CASES.filter((x) => x.route !== 'base')) {
      const init = requestInit(c);
      const res = await req(c.method, reg.url + c.path, { ...init, headers: { ...init.headers, authorization: bearer(token) } });
      assert.equal(res.status, 401, `${c.method} ${c.path}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope"$/);
    }
  });

  it('answers a garbage token with invalid_token', async () => {
    const res = await req('GET', `${reg.url}/v2/${REPO}/tags/list`, { headers: { authorization: bearer('not.a.token') } });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), `Bearer realm="${realm()}",service="berth",scope="repository:${REPO}:pull",error="invalid_token"`);
  });
});
