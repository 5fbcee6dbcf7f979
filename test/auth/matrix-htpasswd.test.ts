// The access matrix under auth.htpasswd with access rules: every route × every method, for
// anonymous callers, wrong passwords and users holding different grants.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningRegistry } from '../../src/registry-server.js';
import { req } from '../helpers/registry-client.js';
import { basic, errorCode, startAuthRegistry, writeHtpasswd } from './helpers.js';
import { allowed, CASES, MATRIX_ACCESS, passwordOf, requestInit, USERS } from './routes.js';

describe('access matrix with htpasswd and access rules', () => {
  let dir: string;
  let reg: RunningRegistry;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-matrix-'));
    const path = join(dir, 'htpasswd');
    writeHtpasswd(path, Object.fromEntries(Object.keys(USERS).map((u) => [u, passwordOf(u)])));
    reg = await startAuthRegistry({ auth: { htpasswd: { realm: 'matrix realm', path } }, access: MATRIX_ACCESS });
  });
  after(async () => {
    await reg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('covers every route and method of the router', () => {
    assert.equal(CASES.length, 21);
  });

  it('asks anonymous callers for Basic credentials everywhere', async () => {
    for (const c of CASES) {
      const init = requestInit(c);
      const res = await req(c.method, reg.url + c.path, init);
      assert.equal(res.status, 401, `${c.method} ${c.path}`);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="matrix realm"', `${c.method} ${c.path}`);
      if (c.method !== 'HEAD') assert.equal(errorCode(res), 'UNAUTHORIZED');
    }
  });

  it('refuses a wrong password, an unknown user and a malformed header', async () => {
    for (const c of CASES) {
      for (const authorization of [basic('admin', 'wrong'), basic('nobody', 'x'), 'Basic !!!', 'Bearer abc']) {
        const init = requestInit(c);
        const res = await req(c.method, reg.url + c.path, { ...init, headers: { ...init.headers, authorization } });
        assert.equal(res.status, 401, `${authorization} ${c.method} ${c.path}`);
      }
    }
  });

  for (const user of Object.keys(USERS)) {
    it(`lets ${user} through exactly where the rules grant it`, async () => {
      for (const c of CASES) {
        const init = requestInit(c);
        const res = await req(c.method, reg.url + c.path, { ...init, headers: { ...init.headers, authorization: basic(user, passwordOf(user)) } });
        if (allowed(user, c)) {
          assert.ok(res.status !== 401 && res.status !== 403, `${user} ${c.method} ${c.path}: ${res.status} ${res.text()}`);
        } else {
          assert.equal(res.status, 403, `${user} ${c.method} ${c.path}: ${res.status}`);
          if (c.method !== 'HEAD') {
            assert.equal(errorCode(res), 'DENIED');
            assert.ok(!res.text().includes('repositories'), 'no data in a denial');
          }
        }
      }
    });
  }
});
