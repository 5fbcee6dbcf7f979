/**
 * Blob downloads through sendfile(2) (by default, a fresh upload being read into the page cache on
 * the way) and through O_DIRECT reads (storage.filesystem.directreads, a large blob that is not in
 * the page cache): the bytes, ranges and keep-alive are exactly those of the streamed path, slow
 * readers and clients that hang up are handled, and no transfer slot leaks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendfileAvailable, sendfileStats } from '../../src/http/file-response.js';
import { io } from '../../src/native/io.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { fourAtOnce, get as getWith, hangUps, pausedReader } from '../helpers/download-clients.js';
import { req } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from './fixture.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1 << 20;

let r: TestRegistry;
/** A registry whose driver allows O_DIRECT reads (storage.filesystem.directreads). */
let rd: TestRegistry;
let rdRoot: string;
/** A blob read back through the page cache once, so it is resident: served with sendfile. */
let data: Buffer;
let blobPath: string;
/** A blob only ever written (with O_DIRECT), on `rd`: served with O_DIRECT reads. */
let cold: Buffer;
let coldPath: string;

async function upload(body: Buffer, base = r.url): Promise<string> {
  const digest = sha256(body);
  const res = await req('POST', `${base}/v2/files/big/blobs/uploads/?digest=${digest}`, { body });
  assert.equal(res.status, 201, res.text());
  return digest;
}

const blobFile = (root: string, digest: string) => join(root, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data');

/** Fraction of sampled pages of a file that are in the page cache. */
async function residency(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    return (io as NonNullable<typeof io>).resident(fh.fd, 0, (await fh.stat()).size, 64);
  } finally {
    await fh.close();
  }
}

before(async () => {
  r = await startTestRegistry();
  data = randomBytes(32 * MiB);
  const digest = await upload(data);
  await readFile(blobFile(r.root, digest));
  blobPath = `/v2/files/big/blobs/${digest}`;
  rdRoot = await mkdtemp(join(tmpdir(), 'berth-directreads-'));
  rd = await startTestRegistry({}, new FilesystemDriver({ rootdirectory: rdRoot, directReads: true }));
  cold = randomBytes(24 * MiB + 777);
  coldPath = `/v2/files/big/blobs/${await upload(cold, rd.url)}`;
});
after(async () => {
  await r.stop();
  await rd.stop();
  await rm(rdRoot, { recursive: true, force: true });
});

const get = (agent: Agent, headers: Record<string, string> = {}, path = blobPath, base = r.url) => getWith(base, agent, path, headers);

describe('blob downloads with sendfile', () => {
  it('is built into this installation', () => {
    assert.equal(sendfileAvailable, true, 'build/Release/berth_io.node did not load: run npm ci with a C compiler');
  });

  it('serves whole blobs and ranges byte-identical, reusing the keep-alive connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = sendfileStats.started;
      const whole = await get(agent);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(data), 'whole blob differs');
      const part = await get(agent, { Range: `bytes=${MiB + 3}-${5 * MiB}` });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(data.subarray(MiB + 3, 5 * MiB + 1)), 'range differs');
      assert.equal(part.reused, true, 'the second request did not reuse the connection');
      const again = await get(agent);
      assert.ok(again.body.equals(data));
      assert.equal(sendfileStats.started - before, 3, 'not every download went through sendfile');
    } finally {
      agent.destroy();
    }
  });

  it('serves a fresh upload with sendfile by default, reading it into the page cache for the next pulls', async () => {
    const fresh = randomBytes(20 * MiB + 5);
    const digest = await upload(fresh);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const [started, direct] = [sendfileStats.started, sendfileStats.direct];
      const got = await get(agent, {}, `/v2/files/big/blobs/${digest}`);
      assert.ok(got.body.equals(fresh), 'fresh blob differs');
      assert.equal(sendfileStats.started - started, 1, 'the fresh blob did not go through sendfile');
      assert.equal(sendfileStats.direct - direct, 0, 'directreads is off by default');
      assert.ok((await residency(blobFile(r.root, digest))) > 0.9, 'the pulled blob is in the page cache');
    } finally {
      agent.destroy();
    }
  });

  it('hands a client that stops reading to a stream, and it still gets every byte', async () => {
    const before = sendfileStats.slowReaders;
    const got = await pausedReader(r.url, blobPath, data.length);
    assert.ok(got.equals(data), 'slow reader got different bytes');
    assert.equal(sendfileStats.slowReaders - before, 1);
  });

  it('survives clients that hang up mid-body, and releases their transfer slots', async () => {
    await hangUps(r.url, blobPath, () => sendfileStats.running);
    const before = sendfileStats.started;
    await fourAtOnce(r.url, blobPath, data);
    assert.equal(sendfileStats.started - before, 4, 'four concurrent downloads should all use sendfile');
  });
});

describe('blob downloads with O_DIRECT reads (directreads)', () => {
  it('serves a fresh upload whole and in odd ranges byte-identical, reusing the connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = sendfileStats.direct;
      const whole = await get(agent, {}, coldPath, rd.url);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(cold), 'whole blob differs');
      // Starts and ends off the 4 KiB blocks that O_DIRECT reads are made of.
      for (const [from, to] of [[4097, 9 * MiB + 5], [3, cold.length - 2], [5 * MiB, cold.length - 1]] as const) {
        const part = await get(agent, { Range: `bytes=${from}-${to}` }, coldPath, rd.url);
        assert.equal(part.status, 206);
        assert.ok(part.body.equals(cold.subarray(from, to + 1)), `range ${from}-${to} differs`);
        assert.equal(part.reused, true, 'the connection was not reused');
      }
      assert.equal(sendfileStats.direct - before, 4, 'not every download of the fresh upload read it with O_DIRECT (is the test directory on a filesystem without O_DIRECT?)');
    } finally {
      agent.destroy();
    }
  });

  it('waits for a client that stops reading, which still gets every byte', async () => {
    const before = sendfileStats.direct;
    const got = await pausedReader(rd.url, coldPath, cold.length);
    assert.ok(got.equals(cold), 'slow reader got different bytes');
    assert.equal(sendfileStats.direct - before, 1);
  });

  it('survives clients that hang up mid-body, and releases their transfer slots', async () => {
    await hangUps(rd.url, coldPath, () => sendfileStats.running);
    const before = sendfileStats.direct;
    await fourAtOnce(rd.url, coldPath, cold);
    assert.equal(sendfileStats.direct - before, 4, 'four concurrent downloads should all read with O_DIRECT');
  });
});
