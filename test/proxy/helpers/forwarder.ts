// A small HTTP forwarder put between the pull-through cache and its real upstream: it records
// every request the cache makes, and can misbehave on demand (corrupt or cut blob bodies, hold a
// blob body part-way until released, stop answering, or go away entirely).
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from '../../helpers/ports.js';

export interface Seen {
  method: string;
  path: string;
  status: number;
}

export type Fault =
  | { kind: 'none' }
  /** Flip one byte in the middle of every blob and manifest GET body. */
  | { kind: 'corrupt' }
  /** Send this many bytes of every blob GET body, then drop the connection. */
  | { kind: 'cut'; after: number }
  /** Send this many bytes of every blob GET body, then wait for release(). */
  | { kind: 'hold'; after: number }
  /** Accept requests for manifests and never answer them. */
  | { kind: 'hang-manifests' };

export class Forwarder {
  readonly seen: Seen[] = [];
  fault: Fault = { kind: 'none' };
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private releaseHold: (() => void) | undefined;
  private held: Promise<void> | undefined;
  private heldReached: (() => void) | undefined;
  /** Resolves when a held body has reached its hold point. */
  holdReached: Promise<void> = Promise.resolve();

  private constructor(
    private target: URL,
    readonly port: number,
  ) {}

  /** Forward to another upstream from now on (an upstream restarted on a new port). */
  retarget(url: string): void {
    this.target = new URL(url);
  }

  static async start(target: string): Promise<Forwarder> {
    const f = new Forwarder(new URL(target), await freePort());
    await f.listen();
    return f;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Requests seen so far matching a method and a path pattern. */
  count(method: string, pattern: RegExp): number {
    return this.seen.filter((s) => s.method === method && pattern.test(s.path)).length;
  }

  /** Arm a hold: the next blob bodies stop after `after` bytes until release(). */
  hold(after: number): void {
    this.fault = { kind: 'hold', after };
    this.held = new Promise<void>((r) => (this.releaseHold = r));
    this.holdReached = new Promise<void>((r) => (this.heldReached = r));
  }

  release(): void {
    this.fault = { kind: 'none' };
    this.releaseHold?.();
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Stop accepting connections and drop the open ones: the upstream is "down". */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.releaseHold?.();
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    const isManifest = /\/manifests\//.test(path);
    const isBlobGet = req.method === 'GET' && (/\/blobs\/sha(256|512):/.test(path) || (isManifest && this.fault.kind === 'corrupt'));
    if (this.fault.kind === 'hang-manifests' && isManifest) {
      this.seen.push({ method: req.method ?? '', path, status: 0 });
      return; // never answered
    }
    // The Host header is kept: URLs the upstream derives from it (token realm, Location) point back here.
    const headers = { ...req.headers };
    const up = request(this.target.origin + path, { method: req.method, headers, agent: false }, (upRes) => {
      this.seen.push({ method: req.method ?? '', path, status: upRes.statusCode ?? 0 });
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (!isBlobGet || this.fault.kind === 'none' || (upRes.statusCode ?? 0) >= 300) {
        upRes.pipe(res);
        return;
      }
      void this.faulty(upRes, res, Number(upRes.headers['content-length'] ?? 0));
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  private async faulty(upRes: IncomingMessage, res: ServerResponse, length: number): Promise<void> {
    const fault = this.fault;
    let sent = 0;
    const middle = Math.floor(length / 2);
    try {
      for await (const raw of upRes as AsyncIterable<Buffer>) {
        let chunk = raw;
        if (fault.kind === 'corrupt' && sent <= middle && middle < sent + chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[middle - sent] = (chunk[middle - sent] as number) ^ 0xff;
        }
        if ((fault.kind === 'cut' || fault.kind === 'hold') && sent + chunk.length > fault.after) {
          const part = chunk.subarray(0, Math.max(0, fault.after - sent));
          if (part.length > 0) await write(res, part);
          sent += part.length;
          if (fault.kind === 'cut') {
            upRes.destroy();
            res.destroy();
            return;
          }
          this.heldReached?.();
          await this.held;
          chunk = chunk.subarray(part.length);
        }
        if (chunk.length > 0) await write(res, chunk);
        sent += chunk.length;
      }
      res.end();
    } catch {
      res.destroy();
    }
  }
}

function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) return reject(new Error('closed'));
    if (res.write(chunk)) return resolve();
    const onDrain = () => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      reject(new Error('closed'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
