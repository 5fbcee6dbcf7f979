// The durable per-endpoint queue on a real directory: order across segments and restarts, the
// cursor, torn writes left by a crash, the bound, and a child process killed with SIGKILL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableQueue, type QueuedEvent } from '../../src/notifications/durable-queue.js';
import { REPO_ROOT } from '../helpers/berth-server.js';

const never = new AbortController().signal;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'berth-queue-'));
}

/** Read and acknowledge everything pending, batch by batch. */
async function drain(q: DurableQueue, batch = 7): Promise<string[]> {
  const out: string[] = [];
  while (q.pending > 0) {
    const records: QueuedEvent[] = await q.next(batch, 1 << 20, never);
    out.push(...records.map((r) => r.data));
    q.ack(records.at(-1)!.seq);
  }
  return out;
}

const event = (i: number) => JSON.stringify({ n: i, pad: 'x'.repeat(40) });

describe('durable queue', () => {
  it('hands events out in order across segments and restarts, and forgets what was acknowledged', async () => {
    const dir = tempDir();
    try {
      let q = new DurableQueue({ directory: dir, maxEvents: 10_000, segmentBytes: 1024 });
      for (let i = 0; i < 100; i++) q.append(event(i));
      const first = await q.next(30, 1 << 20, never);
      assert.deepEqual(first.map((r) => JSON.parse(r.data).n), [...Array(30).keys()]);
      q.ack(first.at(-1)!.seq);
      await q.close();
      assert.ok(readdirSync(dir).filter((f) => f.endsWith('.log')).length > 1, 'several segments were written');

      q = new DurableQueue({ directory: dir, maxEvents: 10_000, segmentBytes: 1024 });
      assert.equal(q.pending, 70);
      for (let i = 100; i < 120; i++) q.append(event(i));
      const rest = await drain(q);
      assert.deepEqual(rest.map((d) => JSON.parse(d).n), [...Array(90).keys()].map((i) => i + 30));
      await q.close();

      q = new DurableQueue({ directory: dir, maxEvents: 10_000, segmentBytes: 1024 });
      assert.equal(q.pending, 0);
      await q.close();
      // Consumed segments are removed: only this run's (empty) one remains.
      assert.equal(readdirSync(dir).filter((f) => f.endsWith('.log')).length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('waits for the next append when empty, and returns nothing once aborted', async () => {
    const dir = tempDir();
    try {
      const q = new DurableQueue({ directory: dir, maxEvents: 100 });
      const waiting = q.next(10, 1 << 20, never);
      setTimeout(() => q.append(event(1)), 20);
      const got = await waiting;
      assert.deepEqual(got.map((r) => JSON.parse(r.data).n), [1]);
      q.ack(got[0]!.seq);
      const stop = new AbortController();
      const aborted = q.next(10, 1 << 20, stop.signal);
      stop.abort();
      assert.deepEqual(await aborted, []);
      await q.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips a write torn by a crash and keeps everything before and after it', async () => {
    const dir = tempDir();
    try {
      let q = new DurableQueue({ directory: dir, maxEvents: 100 });
      for (let i = 0; i < 3; i++) q.append(event(i));
      await q.close();
      const segment = join(dir, readdirSync(dir).find((f) => f.endsWith('.log'))!);
      // Half a line, as a crash in the middle of a write could leave it, and a line with a bad checksum.
      appendFileSync(segment, '4 00000000 {"n":99}\n4 1234');
      q = new DurableQueue({ directory: dir, maxEvents: 100 });
      q.append(event(3));
      const seen: number[] = [];
      let corrupt = 0;
      await q.close();
      q = new DurableQueue({ directory: dir, maxEvents: 100, onCorrupt: (n) => (corrupt += n) });
      for (const d of await drain(q)) seen.push(JSON.parse(d).n);
      assert.deepEqual(seen, [0, 1, 2, 3]);
      assert.equal(corrupt, 2, 'both damaged lines were reported');
      await q.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops the oldest events at the bound and says how many', async () => {
    const dir = tempDir();
    try {
      let dropped = 0;
      let q = new DurableQueue({ directory: dir, maxEvents: 10, segmentBytes: 512, onDrop: (n) => (dropped += n) });
      for (let i = 0; i < 25; i++) q.append(event(i));
      assert.equal(q.pending, 10);
      assert.equal(dropped, 15);
      await q.close();
      q = new DurableQueue({ directory: dir, maxEvents: 10, segmentBytes: 512 });
      assert.deepEqual((await drain(q)).map((d) => JSON.parse(d).n), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
      await q.close();
      // A smaller bound on the next start applies at once.
      q = new DurableQueue({ directory: dir, maxEvents: 10 });
      for (let i = 0; i < 10; i++) q.append(event(i));
      await q.close();
      dropped = 0;
      q = new DurableQueue({ directory: dir, maxEvents: 4, onDrop: (n) => (dropped += n) });
      assert.equal(dropped, 6);
      assert.deepEqual((await drain(q)).map((d) => JSON.parse(d).n), [6, 7, 8, 9]);
      await q.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loses nothing it acknowledged appending when the process is killed with SIGKILL', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    try {
      // A child appends as fast as it can and reports each sequence number after append() returned.
      const script = `
        import { DurableQueue } from './src/notifications/durable-queue.ts';
        const q = new DurableQueue({ directory: ${JSON.stringify(dir)}, maxEvents: 1000000, segmentBytes: 64 * 1024 });
        let i = 0;
        const tick = () => { for (let k = 0; k < 50; k++) { q.append(JSON.stringify({ n: i })); process.stdout.write(i + '\\n'); i++; } setImmediate(tick); };
        tick();`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      await new Promise<void>((resolve) => {
        const check = () => (out.split('\n').length > 5000 ? resolve() : setTimeout(check, 20));
        check();
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const confirmed = out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
      const q = new DurableQueue({ directory: dir, maxEvents: 1_000_000 });
      const got = (await drain(q, 1000)).map((d) => JSON.parse(d).n as number);
      await q.close();
      assert.ok(got.length >= confirmed.length, `${got.length} events recovered, ${confirmed.length} confirmed`);
      assert.deepEqual(got.slice(0, confirmed.length), confirmed, 'every confirmed event, in order');
      assert.deepEqual(got, [...got.keys()], 'no gaps, no duplicates');
      assert.ok(readFileSync(join(dir, 'cursor'), 'utf8').trim() !== '', 'a cursor was written on close');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
