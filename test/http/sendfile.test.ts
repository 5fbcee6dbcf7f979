/**
 * Blob downloads through sendfile(2): the bytes, ranges and keep-alive are exactly those of the
 * streamed path, slow readers and clients that hang up are handled, and no transfer slot leaks.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { sendfileAvailable, sendfileStats } from '../../src/http/file-response.js';
import { req } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from './fixture.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1 << 20;

let r: TestRegistry;
let data: Buffer;
let blobPath: string;
before(async () => {
  r = await startTestRegistry();
  data = randomBytes(32 * MiB);
  const digest = sha256(data);
  const res = await req('POST', `${r.url}/v2/files/big/blobs/uploads/?digest=${digest}`, { body: data });
  assert.equal(res.status, 201, res.text());
  blobPath = `/v2/files/big/blobs/${digest}`;
});
after(async () => {
  await r.stop();
});

/** GET over an agent, resolving the body and whether the connection was reused. */
function get(agent: Agent, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const u = new URL(r.url);
    const rq = request({ agent, host: u.hostname, port: u.port, path: blobPath, headers }, (res) => {
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
function rawGet(): Promise<import('node:net').Socket> {
  const u = new URL(r.url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`GET ${blobPath} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
      s.once('readable', () => resolve(s));
    });
    s.on('error', reject);
  });
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
    const s = await rawGet();
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
        if (bodyStart >= 0 && received - bodyStart >= data.length) resolve(Buffer.concat(parts).subarray(bodyStart));
      });
      s.resume();
    });
    s.destroy();
    assert.ok(all.subarray(0, data.length).equals(data), 'slow reader got different bytes');
    assert.equal(sendfileStats.slowReaders - before, 1);
  });

  it('survives clients that hang up mid-body, and releases their transfer slots', async () => {
    for (let i = 0; i < 6; i++) {
      const s = await rawGet();
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
    const before = sendfileStats.started;
    const agent = new Agent({ keepAlive: false });
    try {
      const results = await Promise.all([get(agent), get(agent), get(agent), get(agent)]);
      for (const res of results) assert.ok(res.body.equals(data));
    } finally {
      agent.destroy();
    }
    assert.equal(sendfileStats.started - before, 4, 'four concurrent downloads should all use sendfile');
  });
});
