/**
 * Listening and shutting down: `http.addr`/`http.net`, optional TLS, and a graceful stop that lets
 * in-flight requests (uploads above all) finish for up to `http.draintimeout`.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export interface ListenOptions {
  /** `host:port`, `:port` or a unix socket path when `net` is `unix`. */
  addr: string;
  net?: string;
  tls?: { certificate: string; key: string; clientcas?: string[]; minimumtls?: string };
}

export interface RunningServer {
  server: Server;
  /** The bound address, e.g. `127.0.0.1:5000` (useful with port 0). */
  address: string;
  port: number;
  /** Stop accepting, wait for in-flight requests up to `drainMs`, then cut the rest. */
  close(drainMs?: number): Promise<void>;
}

const TLS_VERSIONS: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = {
  tls1: 'TLSv1',
  'tls1.0': 'TLSv1',
  'tls1.1': 'TLSv1.1',
  'tls1.2': 'TLSv1.2',
  'tls1.3': 'TLSv1.3',
};

export async function listen(opts: ListenOptions, listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<RunningServer> {
  let server: Server;
  if (opts.tls?.certificate) {
    const minVersion = opts.tls.minimumtls ? TLS_VERSIONS[opts.tls.minimumtls.toLowerCase()] : 'TLSv1.2';
    if (!minVersion) throw new Error(`http.tls.minimumtls: unknown TLS version ${opts.tls.minimumtls}`);
    const ca = opts.tls.clientcas?.map((f) => readFileSync(f));
    server = createHttpsServer(
      {
        cert: readFileSync(opts.tls.certificate),
        key: readFileSync(opts.tls.key),
        minVersion,
        ...(ca && ca.length > 0 ? { ca, requestCert: true, rejectUnauthorized: true } : {}),
      },
      listener,
    ) as unknown as Server;
  } else {
    server = createHttpServer(listener);
  }
  // Long uploads must not be cut by Node's default request timeout; idle keep-alive sockets close.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 75_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (opts.net === 'unix') {
      server.listen(opts.addr, () => resolve());
    } else {
      const { host, port } = splitAddr(opts.addr);
      server.listen({ host, port }, () => resolve());
    }
  });
  const info = server.address();
  const port = typeof info === 'object' && info ? (info as AddressInfo).port : 0;
  const address = typeof info === 'string' ? info : `${(info as AddressInfo).address}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (drainMs = 0): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), Math.max(0, drainMs));
      timer.unref();
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return { server, address, port, close };
}

/** Split `host:port`, `:port`, `[::1]:port`. An empty host listens on every interface. */
export function splitAddr(addr: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new Error(`http.addr: expected host:port, got ${JSON.stringify(addr)}`);
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port: Number(m[3]) };
}
