/**
 * Blob bodies served with sendfile(2) when the blob is a local file and the connection is plain
 * TCP: the kernel moves page-cache pages to the socket on a libuv pool thread, and the event loop
 * copies nothing. This is what makes a filesystem pull run at loopback speed (the reference gets
 * the same from Go's io.Copy). Anything else (TLS, object stores, the native addon missing, small
 * blobs, too many transfers at once) is streamed as before by the caller.
 */
import { createReadStream } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TLSSocket } from 'node:tls';
import { io as addon } from '../native/io.js';
import { localFileOf } from '../storage/driver/driver.js';

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
  /** Transfers now in progress. */
  get running(): number {
    return running;
  },
};

/** The descriptor of a plain (non-TLS) TCP socket, when Node exposes it. */
function plainSocketFd(res: ServerResponse): number | undefined {
  const socket = res.socket;
  if (!(socket instanceof Socket) || socket instanceof TLSSocket || socket.destroyed) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function aborted(message: string): Error {
  const err = new Error(message);
  err.name = 'AbortError';
  return err;
}

/** Resolves once everything written to the socket so far (the response head) is in the kernel. */
function flushed(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

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
  const sockFd = plainSocketFd(res);
  if (sockFd === undefined || res.socket?.writableCorked) return false;
  const socket = res.socket as Socket;
  running++;
  sendfileStats.started++;
  let position = file.start;
  const end = file.start + length;
  try {
    res.flushHeaders();
    await flushed(socket);
    while (position < end) {
      if (signal.aborted || socket.destroyed) throw aborted('client disconnected');
      const [sent, errno, stalled] = await addon.sendfile(sockFd, file.fd, position, end - position, JOB_BUDGET_MS);
      position += sent;
      if (errno !== 0) throw aborted(`client connection failed while sending (errno ${errno})`);
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
