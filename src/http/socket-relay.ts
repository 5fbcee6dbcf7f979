/**
 * Blob bodies relayed from an object store's connection to the client's by a pool thread.
 *
 * Served as a stream, every byte of an S3 download is read into a fresh buffer, copied again by
 * Node's HTTP client parser, pushed through two streams and written out: about 3 s of CPU per
 * GiB here, against 0.75 s for the reference, on a machine whose object store needs the same
 * cores. When the driver says the body comes from a plain TCP socket that buffers nothing (see
 * SocketSource), the socket is stopped, whatever the stream already holds is sent, and a berth_io
 * job moves the rest with recv()/send() through one recycled buffer: two kernel copies, no event
 * loop work per byte. A client that reads slowly gets the bytes in hand through Node's socket, so
 * it never holds a pool thread waiting. TLS on either side, a missing addon, small bodies and
 * too many relays at once keep the stream path.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { io as addon } from '../native/io.js';
import { socketSourceOf } from '../storage/driver/driver.js';
import { abortError, plainSocketFd, takeOverSocket, writeFlushed } from './raw-socket.js';

const MIN_LENGTH = 8 << 20;
const MAX_CONCURRENT = 4;
const BUFFER_SIZE = 1 << 20;
const JOB_BUDGET_MS = 100;
/** An object store that sends nothing for this long has failed the download. */
const IDLE_LIMIT_MS = 60_000;

let running = 0;
const pool: Buffer[] = [];

/** Process-wide counts, for tests and diagnostics. */
export const relayStats = {
  /** Responses whose body was relayed (at least partly). */
  started: 0,
  /** Times a relay handed bytes to Node's socket because the client was not reading. */
  slowReaderHandoffs: 0,
  get running(): number {
    return running;
  },
};

/**
 * Send the first `length` bytes of `body` as the body of `res` (head written, not sent). Resolves
 * false, having touched nothing, when the relay does not apply; the caller then streams `body`.
 * Otherwise the response is complete (or destroyed, with a rejection) and `body` is destroyed.
 */
export async function tryRelay(res: ServerResponse, body: Readable, length: number, signal: AbortSignal): Promise<boolean> {
  const source = socketSourceOf(body);
  if (!addon || !source || length < MIN_LENGTH || length > source.length || running >= MAX_CONCURRENT) return false;
  if (body.readableFlowing === true || body.readableEnded || body.destroyed) return false;
  const srcFd = plainSocketFd(source.socket);
  const dstFd = plainSocketFd(res.socket);
  if (srcFd === undefined || dstFd === undefined || res.socket?.writableCorked) return false;
  const client = res.socket as Socket;
  const io = addon;

  // Stop the object store's socket now; what the parser already read is in the stream's buffer.
  const head = takeOverSocket(source.socket, body);
  const headBytes = head.reduce((n, c) => n + c.length, 0);
  running++;
  relayStats.started++;
  const buf = pool.pop() ?? Buffer.allocUnsafeSlow(BUFFER_SIZE);
  let job: Promise<unknown> | undefined;
  try {
    res.flushHeaders();
    let sent = 0;
    for (const chunk of head) {
      const part = chunk.subarray(0, Math.min(chunk.length, length - sent));
      if (part.length > 0) await writeFlushed(client, part);
      sent += part.length;
    }
    let toRead = Math.max(0, length - headBytes);
    let ps = 0;
    let pe = 0;
    let idleSince = Date.now();
    // The head must be in the kernel before the job writes to the descriptor behind Node's back.
    await writeFlushed(client);
    while (sent < length) {
      if (signal.aborted || client.destroyed || source.socket.destroyed) throw abortError('download interrupted');
      const step = io.relay(srcFd, dstFd, buf, ps, pe, toRead, JOB_BUDGET_MS);
      job = step;
      const [received, moved, nextPs, nextPe, errno, eof, stalled] = await step;
      job = undefined;
      toRead -= received;
      sent += moved;
      ps = nextPs;
      pe = nextPe;
      if (errno !== 0) throw abortError(`connection failed while relaying (errno ${errno})`);
      if (received + moved > 0) idleSince = Date.now();
      if (eof && toRead > 0) throw new Error(`object store closed the connection ${toRead} bytes early`);
      if (stalled && pe > ps) {
        // A slow reader: hand what is in hand to Node's socket, which waits for the client.
        relayStats.slowReaderHandoffs++;
        const chunk = Buffer.from(buf.subarray(ps, pe));
        sent += chunk.length;
        ps = pe = 0;
        await writeFlushed(client, chunk);
        idleSince = Date.now();
      } else if (Date.now() - idleSince > IDLE_LIMIT_MS) {
        throw new Error('object store sent nothing for a minute');
      }
    }
    res.end();
  } catch (err) {
    res.destroy();
    throw err;
  } finally {
    // A job still running owns the buffer until it returns (within its budget).
    if (job) void job.then(() => pool.length < 8 && pool.push(buf), () => undefined);
    else if (pool.length < 8) pool.push(buf);
    running--;
    // The parser never saw these bytes: the connection cannot be reused.
    body.destroy();
    source.socket.destroy();
  }
  return true;
}
