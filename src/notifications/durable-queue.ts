/**
 * One endpoint's pending events on disk: an append-only log split into segment files, and a cursor
 * naming the last event that no longer needs delivering.
 *
 *   <directory>/cursor                          sequence number of the last delivered (or dropped) event
 *   <directory>/<first sequence, 16 digits>.log  segment: one line per event
 *   line = "<seq> <crc32 of json, 8 hex> <event json>\n"
 *
 * Appends are synchronous `write(2)`s of whole lines, so an event is in the kernel before the
 * request that caused it is answered: a killed process (SIGKILL, OOM) loses nothing. The data is
 * `fdatasync`ed in the background after every batch of appends, which bounds what an OS crash or
 * power loss can take to the last few milliseconds. The cursor is replaced (write + rename) after
 * each delivery; a stale cursor only means redelivery, which at-least-once allows.
 *
 * Recovery never trusts more than it must: each run appends to a fresh segment; lines whose
 * checksum does not match (a torn tail after a crash) are skipped; segments wholly before the
 * cursor are deleted. The bound: past `maxEvents` pending, the oldest are dropped by moving the
 * cursor, and `onDrop` is told how many.
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { open, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export interface QueuedEvent {
  seq: number;
  /** The event, serialised. */
  data: string;
}

export interface DurableQueueOptions {
  directory: string;
  /** Pending events kept at most; older ones are dropped. */
  maxEvents: number;
  /** Start a new segment once the active one reaches this size. Default 4 MiB. */
  segmentBytes?: number;
  /** Events were dropped at the bound (called synchronously from append). */
  onDrop?: (count: number) => void;
  /** Unreadable lines were skipped while reading. */
  onCorrupt?: (count: number) => void;
  /** A background write (sync, cursor, segment removal) failed. */
  onError?: (err: unknown, what: string) => void;
}

const SEGMENT = /^(\d{16})\.log$/;
const READ_CHUNK = 256 * 1024;

export class DurableQueue {
  private readonly dir: string;
  private readonly maxEvents: number;
  private readonly segmentBytes: number;
  /** First sequence number of each segment, ascending; the last one is the active segment. */
  private segments: number[] = [];
  private fd: number;
  private activeSize = 0;
  private nextSeq: number;
  private acked: number;
  private closed = false;
  private waiters: (() => void)[] = [];
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private cursorWriting: Promise<void> | undefined;
  private cursorAgain = false;
  /** Where the next read can start without scanning: after the last record handed out. */
  private hint: { seq: number; segment: number; offset: number } | undefined;

  constructor(private readonly opts: DurableQueueOptions) {
    this.dir = opts.directory;
    this.maxEvents = Math.max(1, opts.maxEvents);
    this.segmentBytes = opts.segmentBytes ?? 4 * 1024 * 1024;
    mkdirSync(this.dir, { recursive: true });
    this.acked = this.readCursor();
    this.segments = readdirSync(this.dir)
      .map((f) => SEGMENT.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const last = this.segments.at(-1);
    const lastSeq = last === undefined ? 0 : lastSequenceIn(this.path(last), last);
    this.nextSeq = Math.max(lastSeq, this.acked) + 1;
    // A fresh segment for this run: whatever the last one ends with stays as it is.
    this.fd = this.openSegment(this.nextSeq);
    this.pruneSegments();
    this.enforceBound();
  }

  /** Events waiting for delivery. */
  get pending(): number {
    return this.nextSeq - 1 - this.acked;
  }

  /** Sequence number of the last delivered or dropped event. */
  get ackedSeq(): number {
    return this.acked;
  }

  /** Add an event; synchronous, so it is in the kernel when this returns. Returns its sequence number. */
  append(data: string): number {
    if (this.closed) throw new Error('notification queue is closed');
    const seq = this.nextSeq;
    const line = Buffer.from(`${seq} ${checksum(data)} ${data}\n`, 'utf8');
    let written = 0;
    try {
      while (written < line.length) written += writeSync(this.fd, line, written);
    } catch (err) {
      // Leave no half line behind (a disk-full error, say).
      if (written > 0) ftruncateSync(this.fd, this.activeSize);
      throw err;
    }
    this.nextSeq = seq + 1;
    this.activeSize += line.length;
    this.scheduleSync();
    this.enforceBound();
    for (const wake of this.waiters.splice(0)) wake();
    return seq;
  }

  /**
   * The next events after the cursor, oldest first (at most `max`, about `maxBytes`); waits while
   * there are none. Resolves to [] when the queue closes or `signal` aborts.
   */
  async next(max: number, maxBytes: number, signal: AbortSignal): Promise<QueuedEvent[]> {
    for (;;) {
      if (this.closed || signal.aborted) return [];
      if (this.pending > 0) {
        const batch = await this.read(this.acked + 1, max, maxBytes);
        if (batch.length > 0) return batch;
        continue; // what was pending proved unreadable and has been skipped
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Everything up to `seq` is delivered. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = Math.min(seq, this.nextSeq - 1);
    this.afterCursorMove();
  }

  /** Stop: flush the log and the cursor. Pending events stay for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    await this.syncing;
    await this.cursorWriting;
    fdatasyncSync(this.fd);
    closeSync(this.fd);
    writeFileSync(join(this.dir, 'cursor.tmp'), `${this.acked}\n`);
    renameSync(join(this.dir, 'cursor.tmp'), join(this.dir, 'cursor'));
  }

  private path(first: number): string {
    return join(this.dir, `${String(first).padStart(16, '0')}.log`);
  }

  private openSegment(first: number): number {
    const fd = openSync(this.path(first), 'a');
    if (this.segments.at(-1) !== first) this.segments.push(first);
    this.activeSize = 0;
    // Make the new file's name durable too.
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return fd;
  }

  private readCursor(): number {
    try {
      const n = Number(readFileSync(join(this.dir, 'cursor'), 'utf8').trim());
      return Number.isSafeInteger(n) && n >= 0 ? n : 0;
    } catch {
      return 0; // none yet, or unreadable: deliver everything still on disk again
    }
  }

  /** Background fdatasync after appends, and segment rotation at the size limit. */
  private scheduleSync(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await new Promise<void>((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
          if (this.activeSize >= this.segmentBytes && !this.closed) this.rotate();
        } while (this.syncAgain && !this.closed);
      } catch (err) {
        this.opts.onError?.(err, 'sync');
      } finally {
        this.syncing = undefined;
      }
    })();
  }

  private rotate(): void {
    const old = this.fd;
    this.fd = this.openSegment(this.nextSeq);
    fdatasyncSync(old);
    closeSync(old);
  }

  private enforceBound(): void {
    const excess = this.pending - this.maxEvents;
    if (excess <= 0) return;
    this.acked += excess;
    this.opts.onDrop?.(excess);
    this.afterCursorMove();
  }

  private afterCursorMove(): void {
    this.writeCursor();
    this.pruneSegments();
  }

  private writeCursor(): void {
    if (this.closed) return;
    if (this.cursorWriting) {
      this.cursorAgain = true;
      return;
    }
    this.cursorWriting = (async () => {
      try {
        do {
          this.cursorAgain = false;
          const tmp = join(this.dir, 'cursor.tmp');
          await writeFile(tmp, `${this.acked}\n`);
          await rename(tmp, join(this.dir, 'cursor'));
        } while (this.cursorAgain && !this.closed);
      } catch (err) {
        this.opts.onError?.(err, 'cursor');
      } finally {
        this.cursorWriting = undefined;
      }
    })();
  }

  /** Delete segments whose every event is at or before the cursor (never the active one). */
  private pruneSegments(): void {
    while (this.segments.length > 1 && this.segments[1]! - 1 <= this.acked) {
      const first = this.segments.shift()!;
      unlink(this.path(first)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.opts.onError?.(err, 'remove segment');
      });
    }
  }

  /** Read records with seq >= from, crossing segments, up to the active segment's written size. */
  private async read(from: number, max: number, maxBytes: number): Promise<QueuedEvent[]> {
    const limitSeq = this.nextSeq;
    const segments = [...this.segments];
    const active = segments.at(-1);
    const activeLimit = this.activeSize;
    let i = 0;
    while (i + 1 < segments.length && segments[i + 1]! <= from) i++;
    let offset = 0;
    if (this.hint && this.hint.seq === from) {
      const at = segments.indexOf(this.hint.segment);
      if (at >= 0) [i, offset] = [at, this.hint.offset];
    }
    const out: QueuedEvent[] = [];
    let bytes = 0;
    let corrupt = 0;
    for (; i < segments.length && out.length < max && bytes < maxBytes; i++, offset = 0) {
      const first = segments[i]!;
      const end = first === active ? activeLimit : Number.POSITIVE_INFINITY;
      let fh;
      try {
        fh = await open(this.path(first), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // pruned meanwhile
        throw err;
      }
      try {
        let carry: Buffer = Buffer.alloc(0);
        let pos = offset;
        while (pos < end && out.length < max && bytes < maxBytes) {
          const want = Math.min(READ_CHUNK, end - pos);
          const buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await fh.read(buf, 0, want, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
          const base = pos - data.length;
          let start = 0;
          for (let nl = data.indexOf(10, start); nl !== -1 && out.length < max && bytes < maxBytes; nl = data.indexOf(10, start)) {
            const lineStart = start;
            start = nl + 1;
            const record = parseLine(data.subarray(lineStart, nl));
            if (!record) {
              corrupt++;
              continue;
            }
            if (record.seq < from) continue;
            out.push(record);
            bytes += nl - lineStart;
            this.hint = { seq: record.seq + 1, segment: first, offset: base + start };
          }
          carry = Buffer.from(data.subarray(start));
        }
        // A tail without its newline in an older segment is a write torn by a crash.
        if (carry.length > 0 && first !== active && out.length < max && bytes < maxBytes) corrupt++;
      } finally {
        await fh.close();
      }
    }
    if (corrupt > 0) this.opts.onCorrupt?.(corrupt);
    if (out.length === 0 && limitSeq - 1 > this.acked) {
      // Nothing readable up to what had been appended: those sequence numbers are gone.
      this.acked = limitSeq - 1;
      this.afterCursorMove();
    }
    return out;
  }
}

function checksum(data: string): string {
  return crc32(data).toString(16).padStart(8, '0');
}

/** A line without its newline; undefined when it is not a whole, intact record. */
function parseLine(line: Buffer): QueuedEvent | undefined {
  const a = line.indexOf(32);
  const b = a === -1 ? -1 : line.indexOf(32, a + 1);
  if (b !== a + 9) return undefined;
  const seq = Number(line.subarray(0, a).toString('latin1'));
  if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
  const json = line.subarray(b + 1);
  if (crc32(json).toString(16).padStart(8, '0') !== line.subarray(a + 1, b).toString('latin1')) return undefined;
  return { seq, data: json.toString('utf8') };
}

/** The last intact sequence number in a segment, or first - 1 when it holds none. */
function lastSequenceIn(file: string, first: number): number {
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch {
    return first - 1;
  }
  let end = text.lastIndexOf(10);
  while (end > 0) {
    const start = text.lastIndexOf(10, end - 1) + 1;
    const record = parseLine(text.subarray(start, end));
    if (record) return record.seq;
    end = start - 1;
  }
  return first - 1;
}
