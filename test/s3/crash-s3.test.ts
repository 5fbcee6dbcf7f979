// An instance killed (SIGKILL) in the middle of a chunked upload to S3: nothing half-written
// becomes visible, another instance resumes the upload from what the bucket holds, and an
// upload nobody resumes is purged (its multipart upload aborted with it).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand } from '@aws-sdk/client-s3';
import { startBerth } from '../helpers/berth-server.js';
import { mergeConfig, type RegistryServer } from '../helpers/registry-config.js';
import { req, resolveLocation } from '../helpers/registry-client.js';
import { startRgw, type Rgw } from '../helpers/rgw.js';

const MiB = 1024 * 1024;
const STEP = { timeout: 180_000 };
const ROOT = 'docker/registry/v2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A PATCH whose body the test feeds by hand, so the server can be killed halfway through it. */
function openPatch(url: URL, start: number, length: number) {
  const r = request(url, {
    method: 'PATCH',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), 'content-range': `${start}-${start + length - 1}` },
  });
  const response = new Promise<number>((resolve, reject) => {
    r.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
  });
  response.catch(() => undefined);
  return {
    response,
    async write(bytes: Buffer) {
      if (!r.write(bytes)) await new Promise((resolve) => r.once('drain', resolve));
    },
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('a registry instance killed during a chunked upload to S3', () => {
  let rgw: Rgw;
  let bucket: string;
  const servers: RegistryServer[] = [];
  const blob = randomBytes(20 * MiB);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const first = 6 * MiB;

  const start = async (extra: object = {}) => {
    const server = await startBerth({
      extraConfig: mergeConfig(
        {
          http: { secret: 'shared-by-all-instances' },
          storage: { filesystem: null, s3: rgw.storageConfig(bucket, { chunksize: 5 * MiB }), redirect: { disable: true } },
        },
        extra,
      ),
    });
    servers.push(server);
    return server;
  };
  const keys = async (prefix: string) =>
    ((await rgw.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key as string);
  const openUploads = async (prefix: string) =>
    ((await rgw.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }))).Uploads ?? []).map((u) => ({ key: u.Key as string, id: u.UploadId as string }));

  /** POST an upload on `server`, PATCH the first 6 MiB, then kill it while it takes the next chunk (after parts reached S3). */
  async function killMidUpload(server: RegistryServer, repo: string): Promise<{ location: URL; id: string; dataKey: string }> {
    const post = await req('POST', `${server.url}/v2/${repo}/blobs/uploads/`);
    assert.equal(post.status, 202);
    const id = post.headers.get('docker-upload-uuid') as string;
    let location = resolveLocation(server.url, post.headers.get('location'));
    const patch = await req('PATCH', location.href, { headers: { 'content-type': 'application/octet-stream', 'content-range': `0-${first - 1}` }, body: blob.subarray(0, first) });
    assert.equal(patch.status, 202, patch.text());
    location = resolveLocation(server.url, patch.headers.get('location'));
    const dataKey = `${ROOT}/repositories/${repo}/_uploads/${id}/data`;

    const second = openPatch(location, first, blob.length - first);
    await second.write(blob.subarray(first, first + 12 * MiB));
    // The writer continues the 6 MiB object: its copy and at least one new part are in S3.
    await until('parts of the interrupted chunk in S3', async () => {
      const [upload] = (await openUploads(dataKey)).filter((u) => u.key === dataKey);
      if (!upload) return false;
      const parts = await rgw.client.send(new ListPartsCommand({ Bucket: bucket, Key: dataKey, UploadId: upload.id }));
      return (parts.Parts ?? []).length >= 2;
    });
    process.kill(server.pid, 'SIGKILL');
    await assert.rejects(second.response, 'the client sees the connection drop');
    return { location, id, dataKey };
  }

  before(async () => void (rgw = await startRgw()), STEP);
  after(async () => {
    for (const s of servers) await s.stop();
    await rgw?.stop();
  });

  it('leaves nothing visible, and another instance resumes the upload from what was persisted', STEP, async () => {
    bucket = await rgw.createBucket();
    const a = await start();
    const { location, dataKey } = await killMidUpload(a, 'crash/resume');

    const b = await start();
    const at = new URL(location.pathname + location.search, b.url);
    const status = await req('GET', at.href);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get('range'), `0-${first - 1}`, 'the upload is where the last finished chunk left it');
    assert.equal((await rgw.client.send(new HeadObjectCommand({ Bucket: bucket, Key: dataKey }))).ContentLength, first);
    assert.deepEqual(await keys(`${ROOT}/blobs/`), [], 'no blob appeared');
    assert.equal((await req('HEAD', `${b.url}/v2/crash/resume/blobs/${digest}`)).status, 404);
    assert.equal((await openUploads(dataKey)).length, 1, 'the killed chunk is an open multipart upload, invisible to readers');

    const rest = await req('PATCH', at.href, { headers: { 'content-type': 'application/octet-stream', 'content-range': `${first}-${blob.length - 1}` }, body: blob.subarray(first) });
    assert.equal(rest.status, 202, rest.text());
    const done = resolveLocation(b.url, rest.headers.get('location'));
    done.searchParams.set('digest', digest);
    const put = await req('PUT', done.href);
    assert.equal(put.status, 201, put.text());
    const got = await req('GET', `${b.url}/v2/crash/resume/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(blob), 'the resumed blob is byte-identical');
    assert.deepEqual(await keys(`${ROOT}/repositories/crash/resume/_uploads/`), [], 'the finished upload left no files');
    assert.deepEqual(await openUploads(`${ROOT}/repositories/crash/resume/`), [], 'nor an open multipart upload');
  });

  it('purges an upload nobody resumes, aborting its open multipart upload', STEP, async () => {
    bucket = await rgw.createBucket();
    const victim = await start();
    const { id } = await killMidUpload(victim, 'crash/abandoned');
    const uploadDir = `${ROOT}/repositories/crash/abandoned/_uploads/${id}/`;
    assert.notDeepEqual(await keys(uploadDir), []);
    assert.equal((await openUploads(uploadDir)).length, 1);

    await sleep(1100); // older than the purger's age below
    await start({ storage: { maintenance: { uploadpurging: { enabled: true, age: '1s', interval: '1s', dryrun: false } } } });
    await until('the purger', async () => (await keys(uploadDir)).length === 0 && (await openUploads(uploadDir)).length === 0);
    assert.deepEqual(await keys(`${ROOT}/blobs/`), [], 'no blob appeared');
  });
});
