// Bearer token verification: expired, not-yet-valid, untrusted, `alg: none` and algorithm-confusion
// tokens are refused; x5c chains are checked against the root bundle; `kid` is looked up among the
// bundle's keys (RFC 7638 thumbprint or the libtrust ID of the 2.x reference) and the JWKS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { request } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import type { RunningRegistry } from '../../src/registry-server.js';
import { keyIdsOf, libtrustKeyId } from '../../src/auth/token/key-ids.js';
import { req } from '../helpers/registry-client.js';
import { makePki, type TestPki } from './certs.js';
import { bearer, startAuthRegistry, writeHtpasswd } from './helpers.js';

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: 'berth-token-server',
    aud: 'berth',
    sub: 'alice',
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }],
    ...over,
  };
}

async function sign(key: KeyObject | Uint8Array, header: Record<string, unknown>, payload: Record<string, unknown>): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
}

async function status(url: string, token: string): Promise<{ status: number; challenge: string }> {
  const res = await req('GET', `${url}/v2/team/app/tags/list`, { headers: { authorization: bearer(token) } });
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '' };
}

/** 404 NAME_UNKNOWN means the token got through the gate (the repository is empty). */
const PASSED = 404;

describe('tokens of the built-in token server, forged and tampered with', () => {
  let dir: string;
  let reg: RunningRegistry;
  let key: KeyObject;
  let kid: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-token-'));
    key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    kid = await calculateJwkThumbprint(await exportJWK(key));
    writeFileSync(join(dir, 'signing.pem'), key.export({ type: 'pkcs8', format: 'pem' }));
    writeHtpasswd(join(dir, 'htpasswd'), { alice: 'secret' });
    reg = await startAuthRegistry({ tokenserver: { enabled: true, htpasswd: join(dir, 'htpasswd'), signingkey: join(dir, 'signing.pem') } });
  });
  after(async () => {
    await reg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a well-formed token signed by the configured key', async () => {
    assert.equal((await status(reg.url, await sign(key, { alg: 'ES256', kid }, claims()))).status, PASSED);
  });

  it('refuses an expired token, but tolerates a minute of clock skew', async () => {
    const expired = await status(reg.url, await sign(key, { alg: 'ES256', kid }, claims({ exp: now() - 120, iat: now() - 400, nbf: now() - 400 })));
    assert.equal(expired.status, 401);
    assert.match(expired.challenge, /error="invalid_token"$/);
    const skewed = await status(reg.url, await sign(key, { alg: 'ES256', kid }, claims({ exp: now() - 20, iat: now() - 400, nbf: now() - 400 })));
    assert.equal(skewed.status, PASSED);
  });

  it('refuses a token not valid yet, one without exp, and wrong issuer or audience', async () => {
    for (const over of [{ nbf: now() + 600 }, { exp: undefined }, { iss: 'someone-else' }, { aud: 'other-service' }]) {
      const res = await status(reg.url, await sign(key, { alg: 'ES256', kid }, claims(over)));
      assert.equal(res.status, 401, JSON.stringify(over));
      assert.match(res.challenge, /error="invalid_token"$/);
    }
  });

  it('accepts an audience list that names the service', async () => {
    assert.equal((await status(reg.url, await sign(key, { alg: 'ES256', kid }, claims({ aud: ['x', 'berth'] })))).status, PASSED);
  });

  it('refuses a token signed by an untrusted key, even under the trusted kid', async () => {
    const rogue = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    for (const header of [{ alg: 'ES256', kid }, { alg: 'ES256', kid: 'unknown' }, { alg: 'ES256' }]) {
      const res = await status(reg.url, await sign(rogue, header, claims()));
      assert.equal(res.status, 401, JSON.stringify(header));
      assert.match(res.challenge, /error="invalid_token"$/);
    }
  });

  it('refuses alg: none', async () => {
    for (const header of [{ alg: 'none', kid }, { alg: 'none' }, { alg: 'NONE', kid }]) {
      const res = await status(reg.url, `${b64(header)}.${b64(claims())}.`);
      assert.equal(res.status, 401);
      assert.match(res.challenge, /error="invalid_token"$/);
    }
  });

  it('refuses an HMAC token keyed with the public key (algorithm confusion)', async () => {
    const publicPem = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const res = await status(reg.url, await sign(publicPem, { alg: 'HS256', kid }, claims()));
    assert.equal(res.status, 401);
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const token = await sign(key, { alg: 'ES256', kid }, claims({ access: [] }));
    const [h, , s] = token.split('.');
    const res = await status(reg.url, `${h}.${b64(claims())}.${s}`);
    assert.equal(res.status, 401);
  });
});

describe('auth.token with a root certificate bundle and a JWKS', () => {
  let dir: string;
  let pki: TestPki;
  let reg: RunningRegistry;
  const ed = generateKeyPairSync('ed25519');

  const tokenClaims = () => claims({ iss: 'external-issuer', aud: 'registry.test' });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-pki-'));
    pki = makePki(dir);
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(ed.publicKey)), kid: 'ed-key-1' }] }));
    reg = await startAuthRegistry({
      auth: { token: { realm: 'https://auth.test/token', service: 'registry.test', issuer: 'external-issuer', rootcertbundle: pki.bundlePath, jwks: join(dir, 'jwks.json') } },
    });
  });
  after(async () => {
    await reg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('challenges with the configured realm and service', async () => {
    const res = await req('GET', `${reg.url}/v2/team/app/manifests/1`);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="https://auth.test/token",service="registry.test",scope="repository:team/app:pull"');
  });

  it('accepts an x5c chain (leaf, intermediate) that leads to the root', async () => {
    const token = await sign(pki.leaf.key, { alg: 'ES256', x5c: [pki.leaf.der64, pki.intermediate.der64] }, tokenClaims());
    assert.equal((await status(reg.url, token)).status, PASSED);
  });

  it('refuses a chain missing its intermediate, a rogue chain, and a chain signed by another key', async () => {
    const cases = [
      await sign(pki.leaf.key, { alg: 'ES256', x5c: [pki.leaf.der64] }, tokenClaims()),
      await sign(pki.rogueLeaf.key, { alg: 'ES256', x5c: [pki.rogueLeaf.der64, pki.rogueRoot.der64] }, tokenClaims()),
      await sign(pki.rogueLeaf.key, { alg: 'ES256', x5c: [pki.leaf.der64, pki.intermediate.der64] }, tokenClaims()),
    ];
    for (const token of cases) assert.equal((await status(reg.url, token)).status, 401);
  });

  it('finds a bundle key by its RFC 7638 thumbprint and by its libtrust key ID', async () => {
    const thumb = await calculateJwkThumbprint(await exportJWK(pki.signer.key));
    const libtrust = libtrustKeyId(pki.signer.key);
    assert.match(libtrust, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    for (const kid of [thumb, libtrust]) {
      assert.equal((await status(reg.url, await sign(pki.signer.key, { alg: 'RS256', kid }, tokenClaims()))).status, PASSED, kid);
    }
  });

  it("finds an EC bundle key by the value the reference 3.x computes for it (the curve's base point)", async () => {
    const gx = Buffer.from('6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296', 'hex').toString('base64url');
    const gy = Buffer.from('4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5', 'hex').toString('base64url');
    const kid = createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${gx}","y":"${gy}"}`).digest('base64url');
    assert.ok((await keyIdsOf(pki.root.key)).includes(kid));
    assert.equal((await status(reg.url, await sign(pki.root.key, { alg: 'ES256', kid }, tokenClaims()))).status, PASSED);
  });

  it('finds a JWKS key by its kid (EdDSA)', async () => {
    assert.equal((await status(reg.url, await sign(ed.privateKey, { alg: 'EdDSA', kid: 'ed-key-1' }, tokenClaims()))).status, PASSED);
  });

  it('accepts a trusted key given as the jwk header', async () => {
    const jwk = await exportJWK(ed.publicKey);
    assert.equal((await status(reg.url, await sign(ed.privateKey, { alg: 'EdDSA', jwk }, tokenClaims()))).status, PASSED);
    const other = generateKeyPairSync('ed25519');
    const res = await status(reg.url, await sign(other.privateKey, { alg: 'EdDSA', jwk: await exportJWK(other.publicKey) }, tokenClaims()));
    assert.equal(res.status, 401);
  });
});

describe('auth.token options', () => {
  let dir: string;
  let pki: TestPki;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-auth-opts-'));
    pki = makePki(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('signingalgorithms restricts the accepted algorithms', async () => {
    const reg = await startAuthRegistry({
      auth: { token: { realm: 'https://auth.test/token', service: 'registry.test', issuer: 'external-issuer', rootcertbundle: pki.bundlePath, signingalgorithms: ['RS256'] } },
    });
    try {
      const c = claims({ iss: 'external-issuer', aud: 'registry.test' });
      const es = await sign(pki.leaf.key, { alg: 'ES256', x5c: [pki.leaf.der64, pki.intermediate.der64] }, c);
      assert.equal((await status(reg.url, es)).status, 401);
      const rs = await sign(pki.signer.key, { alg: 'RS256', kid: libtrustKeyId(pki.signer.key) }, c);
      assert.equal((await status(reg.url, rs)).status, PASSED);
    } finally {
      await reg.close();
    }
  });

  it('autoredirect points the realm at this host', async () => {
    const reg = await startAuthRegistry({
      auth: { token: { realm: 'unused', service: 's', issuer: 'i', rootcertbundle: pki.bundlePath, autoredirect: true, autoredirectpath: '/auth/token' } },
    });
    try {
      const challenge = await new Promise<string | undefined>((resolve, reject) => {
        const r = request(`${reg.url}/v2/`, { headers: { host: 'registry.example:8443' } }, (res) => {
          res.resume();
          resolve(res.headers['www-authenticate']);
        });
        r.on('error', reject);
        r.end();
      });
      assert.equal(challenge, 'Bearer realm="https://registry.example:8443/auth/token",service="s"');
    } finally {
      await reg.close();
    }
  });

  it('a missing root bundle is a start-up error naming the key', async () => {
    await assert.rejects(
      startAuthRegistry({ auth: { token: { realm: 'r', service: 's', issuer: 'i', rootcertbundle: join(dir, 'nope.pem') } } }),
      /auth\.token\.rootcertbundle: cannot read/,
    );
  });
});
