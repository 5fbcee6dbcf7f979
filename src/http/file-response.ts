/**
 * Blob bodies served from a local file with the kernel doing the copying, when the connection is
 * plain TCP. A blob goes out with sendfile(2): the kernel moves page-cache pages to the socket on
 * a libuv pool thread, and the event loop copies nothing; a blob not yet in the page cache (a fresh
 * push: uploads are written with O_DIRECT) is read into it on the way, so the pulls after the first
 * are served from memory. Where the driver allows it (storage.filesystem.directreads), a large blob
 * that is not in the page cache is read with O_DIRECT into a few recycled buffers instead: faster
 * for a single pull on a virtual machine, where fresh page-cache memory is expensive, but every
 * later pull reads the disk again.
 * Anything else (TLS, object stores, the native addon missing, small blobs, too many transfers
 * at once) is streamed as before by the caller.
 */
import { constants as fsc, createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { io as addon } from '../native/io.js';
import { localFileOf, type LocalFileSource } from '../storage/driver/driver.js';
import { abortError, plainSocketFd, writeFlushed } from './raw-socket.js';

/** True when this build can serve blobs with sendfile. */
export const sendfileAvailable = addon !== undefined;

/** Below this, streaming costs about the same and needs no pool thread. */
const MIN_LENGTH = 256 * 1024;
/** Longest a single job holds its pool thread before returning to the event loop. */
const JOB_BUDGET_MS = 100;
/**
 * libuv's pool is process-wide and shared with file I/O and hashing: transfers beyond this many
 * at once are streamed instead, so a crowd of downloads never starves the rest of the registry.
 */
const MAX_CONCURRENT = 4;
let running = 0;

/** Process-wide counts (the pool is process-wide too), for tests and diagnostics. */
export const sendfileStats = {
  /** Responses whose body went out (at least partly) through sendfile. */
  started: 0,
  /** Of those, the ones handed to a stream because the client read slowly. */
  slowReaders: 0,
  /** Responses whose body was read with O_DIRECT because it was not in the page cache. */
  direct: 0,
  /** Transfers now in progress. */
  get running(): number {
    return running;
  },
};

/**
 * Send `length` bytes of the file behind `body` (from the stream's start) as the body of `res`,
 * whose head has been written but not sent. Resolves false, having sent nothing, when sendfile
 * can't be used; the caller then streams `body` itself. Otherwise the response is complete
 * (or the connection destroyed, with a rejection) when it resolves, and `body` is destroyed.
 * A client that reads slowly gets the rest through an ordinary stream, so that it does not
 * keep a pool thread waiting.
 */
export async function trySendFile(res: ServerResponse, body: Readable, length: number, signal: AbortSignal): Promise<boolean> {
  const file = localFileOf(body);
  if (!addon || !file || length < MIN_LENGTH || running >= MAX_CONCURRENT || file.start + length > file.size) return false;
  const sockFd = plainSocketFd(res.socket);
  if (sockFd === undefined || res.socket?.writableCorked) return false;
  const socket = res.socket as Socket;
  if (file.readDirect === true && length >= DIRECT_MIN && addon.resident(file.fd, file.start, length, RESIDENCY_SAMPLES) < 0.5) {
    const direct = await openDirect(file.fd);
    if (direct) {
      running++;
      sendfileStats.direct++;
      try {
        await sendDirect(res, socket, direct, file, length, signal);
      } finally {
        running--;
        await direct.close().catch(() => undefined);
        body.destroy();
      }
      return true;
    }
  }
  running++;
  sendfileStats.started++;
  let position = file.start;
  const end = file.start + length;
  try {
    res.flushHeaders();
    await writeFlushed(socket);
    while (position < end) {
      if (signal.aborted || socket.destroyed) throw abortError('client disconnected');
      const [sent, errno, stalled] = await addon.sendfile(sockFd, file.fd, position, end - position, JOB_BUDGET_MS);
      position += sent;
      if (errno !== 0) throw abortError(`client connection failed while sending (errno ${errno})`);
      if (position >= end || stalled) break;
      if (sent === 0) throw new Error(`blob file ended ${end - position} bytes early`);
    }
  } catch (err) {
    body.destroy();
    res.destroy();
    throw err;
  } finally {
    running--;
  }
  try {
    if (position < end) {
      // A slow reader: the rest goes through the event loop like any stream.
      sendfileStats.slowReaders++;
      const rest = createReadStream('', { fd: file.fd, start: position, end: end - 1, autoClose: false, highWaterMark: 1 << 20 });
      await pipeline(rest, res, { signal });
    } else {
      res.end();
    }
  } finally {
    body.destroy();
  }
  return true;
}

/** Blobs at least this large that are mostly outside the page cache are read with O_DIRECT. */
const DIRECT_MIN = 8 << 20;
/** Pages looked up to decide whether a blob is in the page cache. */
const RESIDENCY_SAMPLES = 32;
/** Read size, and buffers per transfer: one being written to the socket, two being read ahead. */
const DIRECT_BUF = 4 << 20;
const DIRECT_BUFS = 3;
const directPool: Buffer[] = [];

/** A second, O_DIRECT descriptor for the open file behind `fd`; undefined where it is refused. */
async function openDirect(fd: number): Promise<FileHandle | undefined> {
  try {
    return await open(`/proc/self/fd/${fd}`, fsc.O_RDONLY | fsc.O_DIRECT);
  } catch {
    return undefined;
  }
}

interface DirectRead {
  buf: Buffer;
  /** File offset of the buffer's first byte (aligned). */
  at: number;
  done: Promise<number>;
}

/**
 * Send bytes [file.start, file.start + length) read through `direct`. Reads are aligned to the
 * buffer size; the head and tail of each buffer outside the range are skipped. The socket's write
 * callback says when a buffer may be refilled, so a slow client simply slows the reads down and
 * holds no pool thread. Every read has settled before this returns, so the buffers go back to the
 * pool unshared and the descriptor may be closed.
 */
async function sendDirect(res: ServerResponse, socket: Socket, direct: FileHandle, file: LocalFileSource, length: number, signal: AbortSignal): Promise<void> {
  const io = addon as NonNullable<typeof addon>;
  const end = file.start + length;
  let next = file.start - (file.start % io.ALIGNMENT);
  const reads: DirectRead[] = [];
  const startRead = (buf: Buffer) => {
    const at = next;
    next += DIRECT_BUF;
    reads.push({ buf, at, done: direct.read(buf, 0, DIRECT_BUF, at).then((r) => r.bytesRead) });
  };
  const bufs: Buffer[] = [];
  for (let i = 0; i < DIRECT_BUFS; i++) bufs.push(directPool.pop() ?? io.alignedBuffer(DIRECT_BUF));
  try {
    res.flushHeaders();
    await writeFlushed(socket);
    for (const buf of bufs) if (next < end) startRead(buf);
    while (reads.length > 0) {
      const read = reads[0] as DirectRead;
      const got = await read.done;
      const from = Math.max(read.at, file.start);
      const to = Math.min(read.at + got, end);
      if (to < Math.min(read.at + DIRECT_BUF, end)) throw new Error(`blob file ended ${end - to} bytes early`);
      if (signal.aborted || socket.destroyed) throw abortError('client disconnected');
      await writeFlushed(socket, read.buf.subarray(from - read.at, to - read.at));
      reads.shift();
      if (next < end) startRead(read.buf);
    }
    res.end();
  } catch (err) {
    res.destroy();
    throw signal.aborted || socket.destroyed ? abortError('client disconnected') : err;
  } finally {
    await Promise.allSettled(reads.map((r) => r.done));
    for (const buf of bufs) if (directPool.length < 4 * DIRECT_BUFS) directPool.push(buf);
  }
}
