/**
 * What the native transfer paths (sendfile and O_DIRECT downloads, socket relays, natively read
 * upload bodies) need from Node's sockets: the descriptor of a plain TCP socket, a write that
 * resolves once the bytes are in the kernel, a way to stop Node reading a socket for good, and
 * the AbortError they fail with when a peer goes away.
 */
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';

interface SocketInternals {
  _handle?: { fd?: unknown; reading?: boolean; readStop?: () => number };
  /** Set by Node's HTTP code while it holds a socket paused; its readStart() then does nothing. */
  _paused?: boolean;
}

/** The descriptor of a plain (non-TLS), open TCP socket, when Node exposes one. */
export function plainSocketFd(socket: unknown): number | undefined {
  if (!(socket instanceof Socket) || socket instanceof TLSSocket || socket.destroyed) return undefined;
  const handle = (socket as unknown as SocketInternals)._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 && typeof handle?.readStop === 'function' ? fd : undefined;
}

/** Write `chunk` (empty: nothing) and resolve once it and everything before it is in the kernel. */
export function writeFlushed(socket: Socket, chunk: Uint8Array = Buffer.alloc(0)): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

export function abortError(message: string): Error {
  return Object.assign(new Error(message), { name: 'AbortError' });
}

/**
 * Stop Node reading `socket` for good, so that its descriptor can be read directly, and return
 * what `stream` (the HTTP message the socket feeds) had already buffered. `_paused` keeps Node's
 * HTTP code and the message's _read (which the reads below trigger) from restarting the socket.
 * Valid only where the socket buffers nothing itself outside the HTTP parser: a server socket,
 * whose parser consumes it directly, or a LargeReadAgent's.
 */
export function takeOverSocket(socket: Socket, stream: Readable): Buffer[] {
  const internals = socket as unknown as SocketInternals;
  internals._paused = true;
  const stop = () => {
    const handle = internals._handle;
    if (handle?.reading !== false) {
      if (handle) handle.reading = false;
      handle?.readStop?.();
    }
  };
  stop();
  const buffered: Buffer[] = [];
  for (let chunk: Buffer | null; (chunk = stream.read() as Buffer | null) !== null; ) buffered.push(chunk);
  stop();
  return buffered;
}
