/**
 * The checks of the `health:` section, with the reference's meaning and messages:
 *   storagedriver  the driver answers a stat of the root (not found counts as an answer)
 *   file           fails while the file exists (an operator's switch to drain an instance)
 *   http           a HEAD request to the URI answers the expected status
 *   tcp            a TCP connection to the address opens
 */
import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import type { StorageDriver } from '../storage/driver/driver.js';
import { PathNotFoundError } from '../storage/driver/errors.js';

export function storageDriverCheck(driver: StorageDriver): () => Promise<void> {
  return async () => {
    try {
      await driver.stat('/');
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
  };
}

export function fileCheck(path: string): () => Promise<void> {
  return async () => {
    try {
      await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    throw new Error('file exists');
  };
}

export interface HttpCheckOptions {
  uri: string;
  statuscode: number;
  headers?: Record<string, string[]>;
  timeoutMs?: number;
}

export function httpCheck(opts: HttpCheckOptions): () => Promise<void> {
  const headers = new Headers();
  for (const [name, values] of Object.entries(opts.headers ?? {})) for (const v of values) headers.append(name, v);
  const expected = opts.statuscode || 200;
  return async () => {
    let status: number;
    try {
      const res = await fetch(opts.uri, {
        method: 'HEAD',
        headers,
        redirect: 'manual',
        ...(opts.timeoutMs ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}),
      });
      await res.body?.cancel();
      status = res.status;
    } catch (err) {
      throw new Error(`error while checking: ${(err as Error).message}`, { cause: err });
    }
    if (status !== expected) throw new Error(`downstream service returned unexpected status: ${status}`);
  };
}

/** Split `host:port` / `[v6]:port`. */
function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port: Number(addr.slice(i + 1)) };
}

export function tcpCheck(addr: string, timeoutMs?: number): () => Promise<void> {
  const { host, port } = splitHostPort(addr);
  return () =>
    new Promise<void>((resolve, reject) => {
      const fail = () => {
        socket.destroy();
        reject(new Error(`connection to ${addr} failed`));
      };
      const socket = connect({ host, port });
      if (timeoutMs) socket.setTimeout(timeoutMs, fail);
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
    });
}
