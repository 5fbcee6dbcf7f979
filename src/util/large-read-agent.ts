/**
 * A plain-HTTP agent for bulk downloads: the S3 client's (an in-cluster Ceph RGW or MinIO) and the
 * pull-through cache's (an upstream registry on plain HTTP).
 *
 * Node reads a socket 64 KiB at a time into a fresh buffer, and on a blob download the per-read
 * work (allocation, HTTP parsing, stream bookkeeping) is what limits the registry, not the
 * network. These sockets read up to 1 MiB at a time instead (net's `onread` with a buffer
 * factory, so no buffer is ever reused under a reader) and hand each read to the HTTP client as
 * the 'data' event it listens for. Pause, resume, end, timeouts and errors behave as on any socket.
 */
import { Agent } from 'node:http';
import { connect, type NetConnectOpts, type Socket } from 'node:net';

const READ_SIZE = 1024 * 1024;

/** Sockets made by a LargeReadAgent: they buffer nothing outside the HTTP parser. */
const largeReadSockets = new WeakSet<Socket>();

export function isLargeReadSocket(socket: unknown): socket is Socket {
  return typeof socket === 'object' && socket !== null && largeReadSockets.has(socket as Socket);
}

export class LargeReadAgent extends Agent {
  /** Returned synchronously, as net.createConnection does; the agent takes it from there. */
  override createConnection(options: NetConnectOpts): Socket {
    const socket = connect({
      ...options,
      onread: {
        buffer: () => Buffer.allocUnsafe(READ_SIZE),
        callback(this: Socket, bytes: number, buf: Uint8Array) {
          this.emit('data', (buf as Buffer).subarray(0, bytes));
          return true;
        },
      },
    } as NetConnectOpts);
    largeReadSockets.add(socket);
    return socket;
  }
}
