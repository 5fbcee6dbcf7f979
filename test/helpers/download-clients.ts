/**
 * Download clients for the transfer-path tests (sendfile, O_DIRECT reads, socket relay): an
 * agent GET that reports connection reuse, a raw GET, a client that stops reading for a while,
 * clients that hang up mid-body, and four downloads at once.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

const MiB = 1 << 20;

/** GET over an agent, resolving the body and whether the connection was reused. */
export function get(base: string, agent: Agent, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
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
export function rawGet(base: string, path: string): Promise<Socket> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
      s.once('readable', () => resolve(s));
    });
    s.on('error', reject);
  });
}

/** A raw GET whose client reads nothing for 600 ms, then everything: the body it received. */
export async function pausedReader(base: string, path: string, size: number): Promise<Buffer> {
  const s = await rawGet(base, path);
  s.pause();
  // Long enough for the socket buffers to fill and a transfer job to give up waiting.
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

/** Six clients that hang up after 2 MiB; resolves once `running()` says every slot is free. */
export async function hangUps(base: string, path: string, running: () => number): Promise<void> {
  for (let i = 0; i < 6; i++) {
    const s = await rawGet(base, path);
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
  for (let i = 0; i < 50 && running() > 0; i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(running(), 0, 'a transfer slot was not released');
}

/** Four downloads at once over fresh connections, each byte-identical to `expected`. */
export async function fourAtOnce(base: string, path: string, expected: Buffer): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  try {
    const results = await Promise.all([0, 1, 2, 3].map(() => get(base, agent, path)));
    for (const res of results) assert.ok(res.body.equals(expected));
  } finally {
    agent.destroy();
  }
}
