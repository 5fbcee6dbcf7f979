// The `redirect` and `cloudfront` storage middlewares (middleware.storage in the config): blob GETs
// redirect to the configured base URL, CloudFront URLs carry a canned-policy signature that the
// key pair's public key verifies; a misconfigured middleware stops the start-up with its key named.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBerth } from '../helpers/berth-server.js';
import { pushBlob, req } from '../helpers/registry-client.js';
import { startRgw, type Rgw } from '../helpers/rgw.js';

const STEP = { timeout: 120_000 };

function blobPath(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return `/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
}

describe('storage middleware', () => {
  let work: string;
  let rgw: Rgw | undefined;

  before(() => void (work = mkdtempSync(join(tmpdir(), 'berth-middleware-'))));
  after(async () => {
    await rgw?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('redirect: blob GETs go to baseurl + the storage path; off when redirects are disabled', STEP, async () => {
    const middleware = { storage: [{ name: 'redirect', options: { baseurl: 'https://cdn.example.com/mirror/' } }] };
    const on = await startBerth({ inmemory: true, extraConfig: { middleware } });
    const off = await startBerth({ inmemory: true, extraConfig: { middleware, storage: { redirect: { disable: true } } } });
    try {
      for (const server of [on, off]) {
        const bytes = randomBytes(1000);
        const digest = await pushBlob(server.url, 'mw/redirect', bytes);
        const res = await req('GET', `${server.url}/v2/mw/redirect/blobs/${digest}`);
        if (server === on) {
          assert.equal(res.status, 307);
          assert.equal(res.headers.get('location'), `https://cdn.example.com/mirror${blobPath(digest)}`);
        } else {
          assert.equal(res.status, 200);
          assert.ok(res.body.equals(bytes));
        }
      }
    } finally {
      await on.stop();
      await off.stop();
    }
  });

  it('cloudfront: blob GETs go to a signed CloudFront URL of the object key', STEP, async () => {
    rgw = await startRgw();
    const bucket = await rgw.createBucket();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(work, 'cloudfront.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const server = await startBerth({
      extraConfig: {
        storage: { filesystem: null, s3: rgw.storageConfig(bucket, { rootdirectory: '/registry-root' }) },
        middleware: {
          storage: [{ name: 'cloudfront', options: { baseurl: 'https://d111111abcdef8.cloudfront.net/', privatekey: keyFile, keypairid: 'K2JCJMDEHXQW5F', duration: '30m' } }],
        },
      },
    });
    try {
      const digest = await pushBlob(server.url, 'mw/cloudfront', randomBytes(2000));
      const before = Math.floor(Date.now() / 1000);
      const res = await req('GET', `${server.url}/v2/mw/cloudfront/blobs/${digest}`);
      assert.equal(res.status, 307);
      const location = new URL(res.headers.get('location') ?? '');
      assert.equal(`${location.origin}${location.pathname}`, `https://d111111abcdef8.cloudfront.net/registry-root${blobPath(digest)}`);
      assert.equal(location.searchParams.get('Key-Pair-Id'), 'K2JCJMDEHXQW5F');
      const expires = Number(location.searchParams.get('Expires'));
      assert.ok(expires >= before + 30 * 60 - 5 && expires <= before + 30 * 60 + 60, `expires in about 30 minutes (${expires - before} s)`);
      // What CloudFront checks: the canned policy for this URL and time, signed with the key pair.
      const policy = JSON.stringify({ Statement: [{ Resource: `${location.origin}${location.pathname}`, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }] });
      const signature = Buffer.from((location.searchParams.get('Signature') ?? '').replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64');
      assert.ok(verify('RSA-SHA1', Buffer.from(policy), publicKey, signature), 'the signature verifies with the public key');
    } finally {
      await server.stop();
    }
  });

  it('refuses to start with an unknown middleware or a missing option, naming the key', STEP, async () => {
    await assert.rejects(
      startBerth({ inmemory: true, extraConfig: { middleware: { storage: [{ name: 'teleport', options: {} }] } } }),
      /middleware\.storage\[0\]\.name: unknown storage middleware "teleport"/,
    );
    await assert.rejects(
      startBerth({ inmemory: true, extraConfig: { middleware: { storage: [{ name: 'cloudfront', options: { baseurl: 'https://x.cloudfront.net' } }] } } }),
      /middleware\.storage\[0\]\.options\.keypairid: required/,
    );
  });
});
