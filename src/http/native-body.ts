/**
 * Large request bodies read from the socket by the berth_io addon instead of Node's HTTP parser.
 *
 * Node reads a socket 64 KiB at a time, and every read goes through the HTTP parser, a stream
 * push, a pause/resume of the socket and a promise hop before the upload sees it. For a
 * gigabyte push that per-chunk work, and the garbage it leaves, kept the event loop from feeding
 * the disk and the hasher. Here a pool thread recv()s the body into 1 MiB buffers that are
 * recycled once the upload has copied and hashed them.
 *
 * Used for bodies with a Content-Length of at least MIN_LENGTH over plain TCP (not TLS, not a
 * chunked transfer encoding), while fewer than MAX_CONCURRENT such bodies are being read; every
 * other request body is read as the usual stream. Node's parser is bypassed, so it cannot find
 * where the next request on the connection starts: the response to such a request closes the
 * connection (`Connection: close`), which clients handle by opening a new one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { io as addon } from '../native/io.js';
import type { RecyclingSource } from '../util/recycling-source.js';
import { plainSocketFd, takeOverSocket } from './raw-socket.js';

/** Smaller bodies gain nothing that is worth a new connection for the client's next request. */
const MIN_LENGTH = 8 << 20;
/** Bodies read natively at once; each holds a pool thread while its data is arriving. */
const MAX_CONCURRENT = 4;
const CHUNK = 1 << 20;
/** Buffers kept for reuse by one body (by default). */
const KEEP = 8;
/** Longest one recv job waits for data before returning to the event loop. */
const JOB_BUDGET_MS = 100;
/** A request body that sends nothing for this long is treated as a broken client. */
const IDLE_LIMIT_MS = 5 * 60_000;

let running = 0;

/** Process-wide counts, for tests and diagnostics. */
export const nativeBodyStats = {
  /** Bodies read (at least partly) by the addon. */
  started: 0,
  get running(): number {
    return running;
  },
};

function connectionError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The request body as an async iterable: the native reader when it applies, `req` itself
 * otherwise. Call before anything has read from `req`.
 */
export function requestBody(req: IncomingMessage, res: ServerResponse): AsyncIterable<Uint8Array> {
  const length = Number(req.headers['content-length']);
  if (!addon || !Number.isSafeInteger(length) || length < MIN_LENGTH || running >= MAX_CONCURRENT) return req;
  if (req.headers['transfer-encoding'] !== undefined || req.complete || req.readableFlowing === true || req.readableDidRead) return req;
  const body = nativeSocketBody(req.socket, req, length);
  if (body) res.shouldKeepAlive = false;
  return body ?? req;
}

export interface NativeBodyOptions {
  /** Buffers kept for reuse (default 8): a consumer that holds more than this allocates. */
  keep?: number;
  /** Fail the body when the peer sends nothing for this long (default 5 minutes). */
  idleLimitMs?: number;
}

/**
 * The rest of an HTTP message body of `length` bytes read from `socket` by the addon, or
 * undefined (nothing touched) when that does not apply: no addon, not a plain TCP socket, or too
 * many native bodies already. `stream` is the message the socket feeds (what its parser already
 * read comes first). Valid only for sockets that buffer nothing outside the HTTP parser (see
 * takeOverSocket). The socket is of no further use afterwards: its parser never sees the body.
 */
export function nativeSocketBody(socket: Socket, stream: Readable, length: number, opts: NativeBodyOptions = {}): RecyclingSource | undefined {
  if (!addon || running >= MAX_CONCURRENT) return undefined;
  const fd = plainSocketFd(socket);
  if (fd === undefined) return undefined;
  const head = takeOverSocket(socket, stream);
  const headBytes = head.reduce((n, c) => n + c.length, 0);
  return new NativeBody(socket, fd, head, Math.max(0, length - headBytes), opts.keep ?? KEEP, opts.idleLimitMs ?? IDLE_LIMIT_MS);
}

interface Fill {
  chunk: Buffer;
  error?: Error;
}

class NativeBody implements RecyclingSource {
  readonly #free: Buffer[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly fd: number,
    private readonly head: Buffer[],
    private remaining: number,
    private readonly keep: number,
    private readonly idleLimitMs: number,
  ) {}

  recycle(chunk: Uint8Array): void {
    if (Buffer.isBuffer(chunk) && chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK && this.#free.length < this.keep) {
      this.#free.push(Buffer.from(chunk.buffer, 0, CHUNK));
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    yield* this.head;
    if (this.remaining === 0) return;
    running++;
    nativeBodyStats.started++;
    // One buffer is always being filled while the consumer works on the one before it.
    let next: Promise<Fill> | undefined = this.#fill();
    try {
      while (next) {
        const { chunk, error }: Fill = await next;
        next = error || this.remaining === 0 ? undefined : this.#fill();
        if (chunk.length > 0) yield chunk;
        if (error) {
          // The request is unusable; so is the connection, whose parser never saw these bytes.
          this.socket.destroy();
          throw error;
        }
      }
    } finally {
      // An abandoned iteration leaves at most one job running; it ends within its budget.
      if (next) void next.then(() => this.socket.destroy());
      running--;
    }
  }

  /** Fill one buffer (less at the end of the body, or when the client is slow). */
  async #fill(): Promise<Fill> {
    const io = addon as NonNullable<typeof addon>;
    const buf = this.#free.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
    const want = Math.min(CHUNK, this.remaining);
    this.remaining -= want;
    let filled = 0;
    let idleSince = Date.now();
    let error: Error | undefined;
    while (filled < want) {
      if (this.socket.destroyed) {
        error = connectionError('aborted', 'ECONNRESET');
        break;
      }
      const [received, errno, eof] = await io.recv(this.fd, buf, filled, want - filled, JOB_BUDGET_MS);
      filled += received;
      if (errno !== 0 || eof) {
        error = connectionError('aborted', 'ECONNRESET');
        break;
      }
      if (received > 0) {
        idleSince = Date.now();
        // A job that came back short ran out of budget: hand over what there is, so a slow
        // client's bytes still reach storage, then wait for more.
        if (filled < want) break;
      } else if (Date.now() - idleSince > this.idleLimitMs) {
        error = connectionError('body timed out', 'ETIMEDOUT');
        break;
      }
    }
    // Whatever was not read stays owed by the client.
    this.remaining += want - filled;
    return { chunk: buf.subarray(0, filled), error };
  }
}
