// Side by side with the reference implementation (Debian's docker-registry 2.8): for every route ×
// method, the same status, error code and WWW-Authenticate challenge under auth.htpasswd and
// auth.token, and the same tokens (signed by a bundle key named by its libtrust ID) accepted or
// refused by both.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { libtrustKeyId } from '../../src/auth/token/key-ids.js';
import { startBerth } from '../helpers/berth-server.js';
import type { RegistryServer } from '../helpers/registry-config.js';
import { startReferenceRegistry } from '../helpers/reference-registry.js';
import { req, type Res } from '../helpers/registry-client.js';
import { makePki, type TestPki } from './certs.js';
import { basic, bearer, errorCode, writeHtpasswd } from './helpers.js';
import { CASES, REPO, requestInit } from './routes.js';

/** Scope actions come out of a Go map in the reference, so compare them as sets. */
function normalise(challenge: string | null): string {
  return (challenge ?? '').replace(/scope="([^"]*)"/, (_m, scope: string) => {
    const sorted = scope
      .split(' ')
      .map((s) => {
        const i = s.lastIndexOf(':');
        return `${s.slice(0, i)}:${s.slice(i + 1).split(',').sort().join(',')}`;
      })
      .join(' ');
    return `scope="${sorted}"`;
  });
}

/** A refusal in full (status, code, challenge); anything else only as "passed the gate". */
function summary(res: Res, method: string): string {
  if (res.status !== 401 && res.status !== 403) return 'passed';
  return `${res.status} ${method === 'HEAD' ? '' : errorCode(res)} ${normalise(res.headers.get('www-authenticate'))}`;
}

// The reference 2.8 has no referrers API: nothing to compare there.
const COMPARED = CASES.filter((c) => c.route !== 'referrers');

async function both(servers: RegistryServer[], method: string, path: string, init: { headers: Record<string, string>; body?: string }): Promise<string[]> {
  const out: string[] = [];
  for (const s of servers) out.push(summary(await req(method, s.url + path, init), method));
  return out;
}

describe('challenges and decisions match the reference implementation', () => {
  let dir: string;
  let pki: TestPki;
  let servers: { htpasswd: RegistryServer[]; token: RegistryServer[] };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-ref-'));
    pki = makePki(dir);
    const htpasswd = join(dir, 'htpasswd');
    writeHtpasswd(htpasswd, { alice: 'wonderland' });
    const htConfig = { auth: { htpasswd: { realm: 'compat realm', path: htpasswd } } };
    const tokenConfig = { auth: { token: { realm: 'https://auth.test/token', service: 'registry.test', issuer: 'compat-issuer', rootcertbundle: pki.bundlePath } } };
    const [refHt, berthHt, refToken, berthToken] = await Promise.all([
      startReferenceRegistry({ extraConfig: htConfig }),
      startBerth({ extraConfig: htConfig }),
      startReferenceRegistry({ extraConfig: tokenConfig }),
      startBerth({ extraConfig: tokenConfig }),
    ]);
    servers = { htpasswd: [refHt, berthHt], token: [refToken, berthToken] };
  });
  after(async () => {
    await Promise.all([...servers.htpasswd, ...servers.token].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('htpasswd: anonymous and wrong-password requests on every route and method', async () => {
    const diffs: string[] = [];
    for (const c of COMPARED) {
      for (const authorization of [undefined, basic('alice', 'wrong')]) {
        const init = requestInit(c);
        if (authorization) init.headers.authorization = authorization;
        const [ref, ours] = await both(servers.htpasswd, c.method, c.path, init);
        if (ours !== ref) diffs.push(`${c.method} ${c.path} ${authorization ?? 'anonymous'}: reference ${ref}, berth ${ours}`);
      }
    }
    assert.deepEqual(diffs, []);
  });

  it('htpasswd: the right password passes the gate on every route and method in both', async () => {
    for (const c of COMPARED) {
      const init = requestInit(c);
      init.headers.authorization = basic('alice', 'wonderland');
      for (const s of servers.htpasswd) {
        const res = await req(c.method, s.url + c.path, init);
        assert.ok(res.status !== 401 && res.status !== 403, `${s.url} ${c.method} ${c.path}: ${res.status}`);
      }
    }
  });

  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: libtrustKeyId(pki.signer.key) }).sign(pki.signer.key);
  const now = () => Math.floor(Date.now() / 1000);
  const base = () => ({ iss: 'compat-issuer', aud: 'registry.test', sub: 'alice', iat: now(), nbf: now(), exp: now() + 300 });

  it('token: challenges without a token and with a token lacking the scope', async () => {
    const pullOnly = await sign({ ...base(), access: [{ type: 'repository', name: REPO, actions: ['pull'] }] });
    const diffs: string[] = [];
    for (const c of COMPARED) {
      for (const authorization of [undefined, bearer(pullOnly)]) {
        const init = requestInit(c);
        if (authorization) init.headers.authorization = authorization;
        const [ref, ours] = await both(servers.token, c.method, c.path, init);
        if (ours !== ref) diffs.push(`${c.method} ${c.path} ${authorization ? 'pull-only token' : 'no token'}: reference ${ref}, berth ${ours}`);
      }
    }
    assert.deepEqual(diffs, []);
  });

  it('token: the same tokens are accepted or refused by both', async () => {
    const access = [{ type: 'repository', name: REPO, actions: ['pull', 'push', 'delete'] }, { type: 'registry', name: 'catalog', actions: ['*'] }];
    const tokens: Record<string, string> = {
      valid: await sign({ ...base(), access }),
      expired: await sign({ ...base(), exp: now() - 3600, access }),
      'wrong audience': await sign({ ...base(), aud: 'elsewhere', access }),
      'wrong issuer': await sign({ ...base(), iss: 'elsewhere', access }),
      'star action': await sign({ ...base(), access: [{ type: 'repository', name: REPO, actions: ['*'] }] }),
    };
    const diffs: string[] = [];
    for (const [name, token] of Object.entries(tokens)) {
      for (const c of COMPARED) {
        const init = requestInit(c);
        init.headers.authorization = bearer(token);
        const results = await Promise.all(servers.token.map(async (s) => (await req(c.method, s.url + c.path, init)).status === 401));
        if (results[1] !== results[0]) diffs.push(`${name}: ${c.method} ${c.path} refused by the reference: ${results[0]}, by berth: ${results[1]}`);
      }
    }
    assert.deepEqual(diffs, []);
  });
});
