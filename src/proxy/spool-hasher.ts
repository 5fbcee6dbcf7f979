/**
 * Hashing a download as it lands in its spool file. Large blobs are hashed by a worker thread that
 * reads the spool itself (threads share the process's file descriptors), so the event loop that
 * streams bytes to clients never spends its time in SHA-256, and the thread runs at the lowest
 * CPU priority: the hash only gates publishing the blob in storage, clients do not wait for it.
 * Small blobs are hashed inline from the chunks as they arrive; a worker would cost more than it
 * saves.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { Algorithm } from '../digest/digest.js';

export interface SpoolHasher {
  /** Bytes up to `written` are in the spool; `chunk` is the latest of them. */
  advance(written: number, chunk: Uint8Array): void;
  /** The digest, once every byte of the blob is hashed. */
  digest(): Promise<string>;
  /** Stop hashing (idempotent); resolves once the spool is no longer being read. */
  dispose(): Promise<void>;
}

/** Blobs at least this large are hashed off the event loop. */
export const WORKER_THRESHOLD = 8 * 1024 * 1024;
/** Tell the worker about new bytes in steps of this much (and at the end). */
const NOTIFY_STEP = 4 * 1024 * 1024;

// CommonJS, evaluated: no module resolution, so it runs the same from TypeScript sources and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync, readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const { fd, algorithm, size } = workerData;
// Lowest CPU priority for this thread (Linux: a thread is a task with its own nice value): when
// CPUs are short, serving clients comes first and the hash catches up afterwards.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) setPriority(tid, 19);
} catch {}
const hash = createHash(algorithm);
const buf = Buffer.allocUnsafe(4 << 20);
let pos = 0;
parentPort.on('message', (upTo) => {
  while (pos < upTo) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, upTo - pos), pos);
    if (n <= 0) throw new Error('spool file ended at ' + pos + ' of ' + upTo + ' bytes');
    hash.update(n === buf.length ? buf : buf.subarray(0, n));
    pos += n;
  }
  if (pos >= size) {
    parentPort.postMessage(algorithm + ':' + hash.digest('hex'));
    parentPort.close();
  }
});
`;

export function createSpoolHasher(fd: number, algorithm: Algorithm, size: number): SpoolHasher {
  return size >= WORKER_THRESHOLD ? new WorkerHasher(fd, algorithm, size) : new InlineHasher(algorithm, size);
}

class InlineHasher implements SpoolHasher {
  private readonly hash: Hash;
  private offset = 0;

  constructor(
    private readonly algorithm: Algorithm,
    private readonly size: number,
  ) {
    this.hash = createHash(algorithm);
  }

  advance(written: number, chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.offset = written;
  }

  async digest(): Promise<string> {
    if (this.offset !== this.size) throw new Error(`hashed ${this.offset} of ${this.size} bytes`);
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }

  async dispose(): Promise<void> {}
}

class WorkerHasher implements SpoolHasher {
  private readonly worker: Worker;
  private readonly result: Promise<string>;
  private notified = 0;

  constructor(fd: number, algorithm: Algorithm, private readonly size: number) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { fd, algorithm, size } });
    this.result = new Promise<string>((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', reject);
      this.worker.once('exit', (code) => reject(new Error(`hash worker stopped (exit code ${code}) before the blob was hashed`)));
    });
    this.result.catch(() => undefined);
  }

  advance(written: number): void {
    if (written - this.notified >= NOTIFY_STEP || written === this.size) {
      this.notified = written;
      this.worker.postMessage(written);
    }
  }

  digest(): Promise<string> {
    return this.result;
  }

  async dispose(): Promise<void> {
    await this.worker.terminate().catch(() => undefined);
  }
}
