/**
 * Blob bodies sent from a ChunkSource (a pulled-through download, see src/util/chunk-source.ts):
 * each lent chunk is written to the client's socket and released once the kernel has it, so the
 * download can reuse the memory, and nothing is copied on the way. A slow client simply waits on
 * its own socket while holding one chunk; the download reads the spool for it when it falls behind.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { chunkSourceOf } from '../util/chunk-source.js';
import { abortError, writeFlushed } from './raw-socket.js';

/**
 * Send the first `length` bytes of `body` as the body of `res` (head written, not sent). Resolves
 * false, having touched nothing, when `body` has no chunk source; otherwise the response is
 * complete (or destroyed, with a rejection) and `body` is destroyed.
 */
export async function trySendChunks(res: ServerResponse, body: Readable, length: number, signal: AbortSignal): Promise<boolean> {
  const source = chunkSourceOf(body);
  const socket = res.socket;
  if (!source || !socket || socket.writableCorked || body.readableDidRead) return false;
  try {
    res.flushHeaders();
    await writeFlushed(socket);
    for (let sent = 0; sent < length; ) {
      if (signal.aborted || socket.destroyed) throw abortError('client disconnected');
      const lease = await source.next(signal);
      if (!lease) throw new Error(`blob ended ${length - sent} bytes early`);
      try {
        const bytes = lease.bytes.subarray(0, Math.min(lease.bytes.length, length - sent));
        await writeFlushed(socket, bytes);
        sent += bytes.length;
      } finally {
        lease.release();
      }
    }
    res.end();
  } catch (err) {
    res.destroy();
    throw signal.aborted || socket.destroyed ? abortError('client disconnected') : err;
  } finally {
    body.destroy();
  }
  return true;
}
