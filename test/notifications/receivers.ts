// Real HTTP receivers for notification tests: one that records every envelope, one that fails
// its first N requests (then records), one that never answers. Each listens on 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedEnvelope {
  headers: IncomingMessage['headers'];
  events: ReceivedEvent[];
  /** Answered with this status (undefined: never answered). */
  status?: number;
}

/** An event as a receiver sees it (loosely typed: the tests check the fields). */
export interface ReceivedEvent {
  id: string;
  timestamp: string;
  action: string;
  target: Record<string, unknown> & { digest?: string; repository?: string; tag?: string; mediaType?: string; url?: string };
  request: Record<string, unknown> & { method?: string };
  actor: Record<string, unknown>;
  source: Record<string, unknown>;
}

export type ReceiverMode = { kind: 'record' } | { kind: 'fail-first'; failures: number; status?: number } | { kind: 'hang' };

export interface Receiver {
  url: string;
  port: number;
  /** Every request received, in arrival order (failed and hanging ones included). */
  requests: ReceivedEnvelope[];
  /** Events of the accepted requests, in arrival order. */
  accepted(): ReceivedEvent[];
  /** Resolve once `predicate(accepted events)` holds; reject after `timeoutMs`. */
  waitFor(predicate: (events: ReceivedEvent[]) => boolean, timeoutMs?: number, what?: string): Promise<ReceivedEvent[]>;
  close(): Promise<void>;
}

/** Start a receiver; `port` lets a test bring one back up where an earlier one was. */
export async function startReceiver(mode: ReceiverMode = { kind: 'record' }, port = 0): Promise<Receiver> {
  const requests: ReceivedEnvelope[] = [];
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  let failuresLeft = mode.kind === 'fail-first' ? mode.failures : 0;

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let events: ReceivedEvent[] = [];
      try {
        events = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: ReceivedEvent[] }).events;
      } catch {
        // recorded with no events; the test will notice
      }
      const entry: ReceivedEnvelope = { headers: req.headers, events };
      requests.push(entry);
      if (mode.kind === 'hang') return; // never answer
      if (failuresLeft > 0) {
        failuresLeft--;
        entry.status = mode.kind === 'fail-first' ? (mode.status ?? 500) : 500;
      } else {
        entry.status = 200;
      }
      res.writeHead(entry.status, { 'Content-Type': 'text/plain' });
      res.end(entry.status === 200 ? 'ok\n' : 'try again\n');
      for (const w of waiters) w();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const accepted = () => requests.filter((r) => r.status !== undefined && r.status < 400).flatMap((r) => r.events);

  return {
    url: `http://127.0.0.1:${actual}/events`,
    port: actual,
    requests,
    accepted,
    waitFor(predicate, timeoutMs = 30_000, what = 'events') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const events = accepted();
          if (!predicate(events)) return;
          cleanup();
          resolve(events);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${what}; received ${accepted().length} events: ${JSON.stringify(accepted().map((e) => [e.action, e.target.repository, e.target.tag ?? e.target.digest]))}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
