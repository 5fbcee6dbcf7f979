/**
 * Large upload bodies read by the berth_io addon instead of Node's HTTP parser: the stored bytes
 * and digests are exactly what was sent, bytes the parser had already buffered come first, a
 * client that hangs up mid-body leaves a resumable upload, and the connection is closed after
 * the response (the parser never saw the body, so it cannot find the next request).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { nativeBodyStats } from '../../src/http/native-body.js';
import { io } from '../../src/native/io.js';
import { req } from '../helpers/registry-client.js';
import { startTestRegistry, type TestRegistry } from './fixture.js';

const sha256hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MiB = 1 << 20;

let r: TestRegistry;
before(async () => {
  r = await startTestRegistry();
});
after(async () => {
  await r.stop();
});

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  closed: boolean;
}

/** Open a raw connection; `send` writes the request in the given pieces, `pause` ms apart. */
function rawRequest(head: string, pieces: Buffer[], opts: { pause?: number; hangUp?: boolean } = {}): Promise<RawResponse> {
  const u = new URL(r.url);
  return new Promise((resolve, reject) => {
    const s: Socket = connect(Number(u.port), u.hostname);
    let received = '';
    s.on('data', (c: Buffer) => {
      received += c.toString('latin1');
    });
    s.on('error', (err) => {
      if (!opts.hangUp) reject(err);
    });
    s.on('close', () => {
      const [statusLine = '', ...lines] = received.split('\r\n\r\n')[0]!.split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, closed: true });
    });
    s.on('connect', async () => {
      // The head and the first piece go out in one write, so the parser reads some body bytes.
      const [first = Buffer.alloc(0), ...rest] = pieces;
      s.write(Buffer.concat([Buffer.from(head, 'latin1'), first]));
      for (const p of rest) {
        if (opts.pause) await new Promise((res) => setTimeout(res, opts.pause));
        if (!s.write(p)) await new Promise((res) => s.once('drain', res));
      }
      if (opts.hangUp) {
        await new Promise((res) => setTimeout(res, opts.pause ?? 50));
        s.destroy();
      }
    });
  });
}

async function startUpload(repo: string): Promise<string> {
  const res = await req('POST', `${r.url}/v2/${repo}/blobs/uploads/`);
  assert.equal(res.status, 202);
  return new URL(res.headers.get('location') ?? '', r.url).pathname + new URL(res.headers.get('location') ?? '', r.url).search;
}

function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

describe('large upload bodies read natively', () => {
  it('is built into this installation', () => {
    assert.equal(typeof io?.recv, 'function', 'build/Release/berth_io.node did not load: run npm ci with a C compiler');
  });

  it('stores a monolithic upload byte-exact and closes the connection after answering', async () => {
    const data = randomBytes(24 * MiB + 12345);
    const digest = `sha256:${sha256hex(data)}`;
    const before = nativeBodyStats.started;
    const path = await startUpload('native/mono');
    const sep = path.includes('?') ? '&' : '?';
    const res = await rawRequest(
      `PUT ${path}${sep}digest=${digest} HTTP/1.1\r\nHost: ${new URL(r.url).host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
      // An odd first piece: part of it is read by Node's parser before the addon takes over.
      [data.subarray(0, 100_001), ...pieces(data.subarray(100_001), 3 * MiB + 7)],
    );
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal(res.headers.get('connection'), 'close');
    assert.equal(nativeBodyStats.started - before, 1, 'the body did not go through the native reader');
    const stored = await readFile(join(r.root, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data'));
    assert.ok(stored.equals(data), 'stored blob differs from what was sent');
    const got = await req('GET', `${r.url}/v2/native/mono/blobs/${digest}`);
    assert.equal(got.status, 200);
    assert.equal(sha256hex(got.body), digest.slice(7));
  });

  it('keeps what arrived before a hang-up, so the upload can be resumed from there', async () => {
    const data = randomBytes(20 * MiB);
    const digest = `sha256:${sha256hex(data)}`;
    const path = await startUpload('native/resume');
    const sent = 12 * MiB + 4096 + 3;
    await rawRequest(
      `PATCH ${path} HTTP/1.1\r\nHost: ${new URL(r.url).host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
      pieces(data.subarray(0, sent), MiB),
      { hangUp: true, pause: 5 },
    );
    // The server notices the hang-up on its own; poll the upload's status until it has settled.
    let range = '';
    for (let i = 0; i < 100 && range !== `0-${sent - 1}`; i++) {
      const status = await req('GET', `${r.url}${path}`);
      assert.equal(status.status, 204);
      range = status.headers.get('range') ?? '';
      if (range !== `0-${sent - 1}`) await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(range, `0-${sent - 1}`, 'the bytes sent before the hang-up were not kept');
    const status = await req('GET', `${r.url}${path}`);
    const next = new URL(status.headers.get('location') ?? '', r.url);
    const sep = next.search ? '&' : '?';
    const done = await req('PUT', `${next.href}${sep}digest=${digest}`, {
      body: data.subarray(sent),
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${sent}-${data.length - 1}` },
    });
    assert.equal(done.status, 201, done.text());
    const got = await req('GET', `${r.url}/v2/native/resume/blobs/${digest}`);
    assert.ok(got.body.equals(data), 'resumed blob differs');
  });

  it('answers a chunked PATCH stream by stream and the next request on a new connection works', async () => {
    const data = randomBytes(10 * MiB);
    const digest = `sha256:${sha256hex(data)}`;
    const path = await startUpload('native/chunks');
    const first = await rawRequest(
      `PATCH ${path} HTTP/1.1\r\nHost: ${new URL(r.url).host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${9 * MiB}\r\nContent-Range: 0-${9 * MiB - 1}\r\n\r\n`,
      pieces(data.subarray(0, 9 * MiB), MiB),
    );
    assert.equal(first.status, 202);
    assert.equal(first.headers.get('range'), `0-${9 * MiB - 1}`);
    const next = new URL(first.headers.get('location') ?? '', r.url);
    const sep = next.search ? '&' : '?';
    // A small last chunk is below the native threshold and goes through Node's parser.
    const done = await req('PUT', `${next.href}${sep}digest=${digest}`, {
      body: data.subarray(9 * MiB),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(done.status, 201, done.text());
    const got = await req('GET', `${r.url}/v2/native/chunks/blobs/${digest}`);
    assert.ok(got.body.equals(data), 'blob differs');
    assert.equal(nativeBodyStats.running, 0, 'a native reader slot leaked');
  });

  it('rejects a wrong digest after reading the whole body and leaves no blob', async () => {
    const data = randomBytes(9 * MiB);
    const wrong = `sha256:${'0'.repeat(64)}`;
    const path = await startUpload('native/wrong');
    const sep = path.includes('?') ? '&' : '?';
    const res = await rawRequest(
      `PUT ${path}${sep}digest=${wrong} HTTP/1.1\r\nHost: ${new URL(r.url).host}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n\r\n`,
      pieces(data, 2 * MiB),
    );
    assert.equal(res.status, 400);
    const head = await req('HEAD', `${r.url}/v2/native/wrong/blobs/sha256:${sha256hex(data)}`);
    assert.equal(head.status, 404);
  });
});
