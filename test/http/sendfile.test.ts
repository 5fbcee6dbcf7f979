/**
 * Blob downloads through sendfile(2) (a blob in the page cache) and through O_DIRECT reads (a
 * large blob that is not, such as a fresh upload): the bytes, ranges and keep-alive are exactly
 * those of the streamed path, slow readers and clients that hang up are handled, and no transfer
 * slot leaks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { sendfileAvailable, sendfileStats } from '../../src/http/file-response.js';
import { req } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from './fixture.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1 << 20;

let r: TestRegistry;
/** A blob read back through the page cache once, so it is resident: served with sendfile. */
let data: Buffer;
let blobPath: string;
/** A blob only ever written (with O_DIRECT): served with O_DIRECT reads. */
let cold: Buffer;
let coldPath: string;

async function upload(body: Buffer): Promise<string> {
  const digest = sha256(body);
  const res = await req('POST', `${r.url}/v2/files/big/blobs/uploads/?digest=${digest}`, { body });
  assert.equal(res.status, 201, res.text());
  return digest;
}

before(async () => {
  r = await startTestRegistry();
  data = randomBytes(32 * MiB);
  const digest = await upload(data);
  await readFile(join(r.root, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data'));
  blobPath = `/v2/files/big/blobs/${digest}`;
  cold = randomBytes(24 * MiB + 777);
  coldPath = `/v2/files/big/blobs/${await upload(cold)}`;
});
after(async () => {
  await r.stop();
});

/** GET over an agent, resolving the body and whether the connection was reused. */
function get(agent: Agent, headers: Record<string, string> = {}, path = blobPath): Promise<{ status: number; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const u = new URL(r.url);
    const rq = request({ agent, host: u.hostname, port: u.port, path, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), reused: rq.reusedSocket }));
      res.on('error', reject);
    });
    rq.on('error', reject);
    rq.end();
  });
}

/** Send a raw GET and resolve the socket once the response starts arriving. */
function rawGet(path = blobPath): Promise<import('node:net').Socket> {
  const u = new URL(r.url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
      s.once('readable', () => resolve(s));
    });
    s.on('error', reject);
  });
}

/** A raw GET whose client reads nothing for 600 ms, then everything: the body it received. */
async function pausedReader(path: string, size: number): Promise<Buffer> {
  const s = await rawGet(path);
  s.pause();
  // Long enough for the socket buffers to fill and a sendfile job to give up waiting.
  await new Promise((res) => setTimeout(res, 600));
  const parts: Buffer[] = [];
  let received = 0;
  const all = await new Promise<Buffer>((resolve) => {
    let bodyStart = -1;
    s.on('data', (c: Buffer) => {
      parts.push(c);
      received += c.length;
      if (bodyStart < 0) {
        const head = Buffer.concat(parts).indexOf('\r\n\r\n');
        if (head >= 0) bodyStart = head + 4;
      }
      if (bodyStart >= 0 && received - bodyStart >= size) resolve(Buffer.concat(parts).subarray(bodyStart));
    });
    s.resume();
  });
  s.destroy();
  return all.subarray(0, size);
}

/** Six clients that hang up after 2 MiB; resolves once the server has released every slot. */
async function hangUps(path: string): Promise<void> {
  for (let i = 0; i < 6; i++) {
    const s = await rawGet(path);
    await new Promise<void>((resolve) => {
      let got = 0;
      s.on('data', (c: Buffer) => {
        got += c.length;
        if (got > 2 * MiB) {
          s.destroy();
          resolve();
        }
      });
    });
  }
  // The server notices each hang-up within a job's budget.
  for (let i = 0; i < 50 && sendfileStats.running > 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(sendfileStats.running, 0, 'a transfer slot was not released');
}

/** Four downloads at once over fresh connections, each byte-identical to `expected`. */
async function fourAtOnce(path: string, expected: Buffer): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  try {
    const results = await Promise.all([0, 1, 2, 3].map(() => get(agent, {}, path)));
    for (const res of results) assert.ok(res.body.equals(expected));
  } finally {
    agent.destroy();
  }
}

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

  it('hands a client that stops reading to a stream, and it still gets every byte', async () => {
    const before = sendfileStats.slowReaders;
    const got = await pausedReader(blobPath, data.length);
    assert.ok(got.equals(data), 'slow reader got different bytes');
    assert.equal(sendfileStats.slowReaders - before, 1);
  });

  it('survives clients that hang up mid-body, and releases their transfer slots', async () => {
    await hangUps(blobPath);
    const before = sendfileStats.started;
    await fourAtOnce(blobPath, data);
    assert.equal(sendfileStats.started - before, 4, 'four concurrent downloads should all use sendfile');
  });
});

describe('blob downloads with O_DIRECT reads', () => {
  it('serves a fresh upload whole and in odd ranges byte-identical, reusing the connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = sendfileStats.direct;
      const whole = await get(agent, {}, coldPath);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(cold), 'whole blob differs');
      // Starts and ends off the 4 KiB blocks that O_DIRECT reads are made of.
      for (const [from, to] of [[4097, 9 * MiB + 5], [3, cold.length - 2], [5 * MiB, cold.length - 1]] as const) {
        const part = await get(agent, { Range: `bytes=${from}-${to}` }, coldPath);
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
    const got = await pausedReader(coldPath, cold.length);
    assert.ok(got.equals(cold), 'slow reader got different bytes');
    assert.equal(sendfileStats.direct - before, 1);
  });

  it('survives clients that hang up mid-body, and releases their transfer slots', async () => {
    await hangUps(coldPath);
    const before = sendfileStats.direct;
    await fourAtOnce(coldPath, cold);
    assert.equal(sendfileStats.direct - before, 4, 'four concurrent downloads should all read with O_DIRECT');
  });
});
