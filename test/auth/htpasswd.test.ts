// auth.htpasswd beyond the matrix: bcrypt variants, start-up errors, the file re-read when it
// changes, anonymous pull, the cross-repository mount check, a burst of logins; and auth.silly.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningRegistry } from '../../src/registry-server.js';
import { req } from '../helpers/registry-client.js';
import { basic, errorCode, pushImage, startAuthRegistry, writeHtpasswd } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry `check` until it holds (the file is looked at again about once a second). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`never happened: ${what}`);
}

describe('auth.htpasswd', () => {
  let dir: string;
  let path: string;
  let reg: RunningRegistry;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-ht-'));
    path = join(dir, 'htpasswd');
    writeHtpasswd(path, { alice: 'alice-pw', bob: 'bob-pw' });
    reg = await startAuthRegistry({
      auth: { htpasswd: { realm: 'berth', path } },
      access: {
        anonymous: [{ repositories: ['public/*'], actions: ['pull'] }],
        rules: [
          { users: ['alice'], repositories: ['**'], actions: ['*'], catalog: true },
          { users: ['bob'], repositories: ['bob/**'], actions: ['pull', 'push'] },
          { users: ['carol'], repositories: ['**'], actions: ['pull'] },
        ],
      },
    });
  });
  after(async () => {
    await reg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const as = (user: string, pw: string) => ({ authorization: basic(user, pw) });

  it('accepts $2y$, $2a$ and $2b$ entries', async () => {
    for (const variant of ['2y', '2a', '2b'] as const) {
      const file = join(dir, `ht-${variant}`);
      writeHtpasswd(file, { dave: 'dave-pw' }, variant);
      const r = await startAuthRegistry({ auth: { htpasswd: { realm: 'x', path: file } } });
      try {
        assert.equal((await req('GET', `${r.url}/v2/`, { headers: as('dave', 'dave-pw') })).status, 200, variant);
        assert.equal((await req('GET', `${r.url}/v2/`, { headers: as('dave', 'dave-px') })).status, 401, variant);
      } finally {
        await r.close();
      }
    }
  });

  it('without rules, any signed-in user may do everything (as the reference)', async () => {
    const file = join(dir, 'ht-open');
    writeHtpasswd(file, { erin: 'erin-pw' });
    const r = await startAuthRegistry({ auth: { htpasswd: { realm: 'x', path: file } } });
    try {
      const img = await pushImage(r.url, 'any/repo', 'v1', as('erin', 'erin-pw'));
      assert.equal((await req('GET', `${r.url}/v2/_catalog`, { headers: as('erin', 'erin-pw') })).status, 200);
      assert.equal((await req('DELETE', `${r.url}/v2/any/repo/manifests/${img.manifest}`, { headers: as('erin', 'erin-pw') })).status, 202);
    } finally {
      await r.close();
    }
  });

  it('start-up fails with the config key for a missing, unusable or malformed file', async () => {
    await assert.rejects(startAuthRegistry({ auth: { htpasswd: { realm: 'x', path: join(dir, 'missing') } } }), /^Error: auth\.htpasswd\.path: cannot use htpasswd file ".*missing": file does not exist$/);
    mkdirSync(join(dir, 'a-directory'));
    await assert.rejects(startAuthRegistry({ auth: { htpasswd: { realm: 'x', path: join(dir, 'a-directory') } } }), /auth\.htpasswd\.path: .*not a regular file/);
    writeFileSync(join(dir, 'bad'), 'alice:$2y$05$abc\nno-colon-here\n');
    await assert.rejects(startAuthRegistry({ auth: { htpasswd: { realm: 'x', path: join(dir, 'bad') } } }), /auth\.htpasswd\.path: .*invalid entry at line 2/);
  });

  it('lets anonymous callers pull where configured, but not push, and /v2/ still asks for credentials', async () => {
    await pushImage(reg.url, 'public/base', 'v1', as('alice', 'alice-pw'));
    const manifest = await req('GET', `${reg.url}/v2/public/base/manifests/v1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.status, 200);
    assert.equal((await req('GET', `${reg.url}/v2/public/base/tags/list`)).status, 200);
    const push = await req('POST', `${reg.url}/v2/public/base/blobs/uploads/`);
    assert.equal(push.status, 401);
    assert.equal(push.headers.get('www-authenticate'), 'Basic realm="berth"');
    assert.equal((await req('GET', `${reg.url}/v2/public/deeper/nested/tags/list`)).status, 401, '* stays within one component');
    assert.equal((await req('GET', `${reg.url}/v2/`)).status, 401);
    assert.equal((await req('GET', `${reg.url}/v2/_catalog`)).status, 401);
  });

  it('refuses catalog, delete and push beyond the rules with 403 DENIED', async () => {
    const catalog = await req('GET', `${reg.url}/v2/_catalog`, { headers: as('bob', 'bob-pw') });
    assert.equal(catalog.status, 403);
    assert.equal(errorCode(catalog), 'DENIED');
    assert.equal((await req('GET', `${reg.url}/v2/_catalog`, { headers: as('alice', 'alice-pw') })).status, 200);
    const img = await pushImage(reg.url, 'bob/app', 'v1', as('bob', 'bob-pw'));
    assert.equal((await req('DELETE', `${reg.url}/v2/bob/app/manifests/${img.manifest}`, { headers: as('bob', 'bob-pw') })).status, 403);
    assert.equal((await req('POST', `${reg.url}/v2/team/app/blobs/uploads/`, { headers: as('bob', 'bob-pw') })).status, 403);
  });

  it('mounts across repositories only with pull on the source, else falls back to an upload', async () => {
    const img = await pushImage(reg.url, 'private/src', 'v1', as('alice', 'alice-pw'));
    const denied = await req('POST', `${reg.url}/v2/bob/dst/blobs/uploads/?mount=${img.layer}&from=private/src`, { headers: as('bob', 'bob-pw') });
    assert.equal(denied.status, 202, 'bob cannot read private/src: an ordinary upload starts');
    assert.ok(denied.headers.get('docker-upload-uuid'));
    assert.equal((await req('HEAD', `${reg.url}/v2/bob/dst/blobs/${img.layer}`, { headers: as('bob', 'bob-pw') })).status, 404);

    const pub = await pushImage(reg.url, 'public/lib', 'v1', as('alice', 'alice-pw'));
    const mounted = await req('POST', `${reg.url}/v2/bob/dst/blobs/uploads/?mount=${pub.layer}&from=public/lib`, { headers: as('bob', 'bob-pw') });
    assert.equal(mounted.status, 201, 'anonymous pull on public/lib is enough');
    const own = await req('POST', `${reg.url}/v2/other/dst/blobs/uploads/?mount=${img.layer}&from=private/src`, { headers: as('alice', 'alice-pw') });
    assert.equal(own.status, 201);
  });

  it('serves a burst of concurrent requests with one credential', async () => {
    writeHtpasswd(join(dir, 'burst'), { frank: 'frank-pw' });
    const r = await startAuthRegistry({ auth: { htpasswd: { realm: 'x', path: join(dir, 'burst') } } });
    try {
      const results = await Promise.all(Array.from({ length: 64 }, () => req('GET', `${r.url}/v2/`, { headers: as('frank', 'frank-pw') })));
      assert.deepEqual(new Set(results.map((x) => x.status)), new Set([200]));
      const wrong = await Promise.all(Array.from({ length: 8 }, () => req('GET', `${r.url}/v2/`, { headers: as('frank', 'frank-px') })));
      assert.deepEqual(new Set(wrong.map((x) => x.status)), new Set([401]));
    } finally {
      await r.close();
    }
  });

  it('re-reads the file when it changes: new users, removed users, new passwords', async () => {
    assert.equal((await req('GET', `${reg.url}/v2/`, { headers: as('carol', 'carol-pw') })).status, 401);
    writeHtpasswd(path, { alice: 'alice-pw', bob: 'bob-new', carol: 'carol-pw' });
    await eventually(async () => (await req('GET', `${reg.url}/v2/`, { headers: as('carol', 'carol-pw') })).status === 200, 'carol signs in');
    assert.equal((await req('GET', `${reg.url}/v2/`, { headers: as('bob', 'bob-pw') })).status, 401, 'the old password of bob, verified before, no longer works');
    assert.equal((await req('GET', `${reg.url}/v2/`, { headers: as('bob', 'bob-new') })).status, 200);
    writeHtpasswd(path, { alice: 'alice-pw' });
    await eventually(async () => (await req('GET', `${reg.url}/v2/`, { headers: as('carol', 'carol-pw') })).status === 401, 'carol is gone');
  });

  it('refuses everyone while the file is broken, and recovers when it is fixed', async () => {
    writeFileSync(path, 'garbage without a colon\n');
    await eventually(async () => (await req('GET', `${reg.url}/v2/`, { headers: as('alice', 'alice-pw') })).status === 401, 'fail closed');
    writeHtpasswd(path, { alice: 'alice-pw' });
    await eventually(async () => (await req('GET', `${reg.url}/v2/`, { headers: as('alice', 'alice-pw') })).status === 200, 'recovered');
  });
});

describe('auth.silly', () => {
  it('challenges without Authorization, listing each record as a scope, and accepts any header', async () => {
    const r = await startAuthRegistry({ auth: { silly: { realm: 'https://silly.test/token', service: 'silly-svc' } } });
    try {
      const res = await req('POST', `${r.url}/v2/a/b/blobs/uploads/`);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="https://silly.test/token",service="silly-svc",scope="repository:a/b:pull repository:a/b:push"');
      const base = await req('GET', `${r.url}/v2/`);
      assert.equal(base.headers.get('www-authenticate'), 'Bearer realm="https://silly.test/token",service="silly-svc"');
      assert.equal((await req('POST', `${r.url}/v2/a/b/blobs/uploads/`, { headers: { authorization: 'anything' } })).status, 202);
      assert.equal((await req('GET', `${r.url}/v2/_catalog`, { headers: { authorization: 'Bearer whatever' } })).status, 200);
    } finally {
      await r.close();
    }
  });
});
