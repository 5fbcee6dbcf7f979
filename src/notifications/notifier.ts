/**
 * The broadcaster: every event goes to every enabled endpoint, each with its own durable queue
 * and delivery loop, so a slow or dead endpoint delays nobody. Writing an event only appends it to
 * the queues; delivery happens in the background.
 *
 * Queue directory layout (`notifications.queue.directory`):
 *   lock              pid and host of the berth process using the directory
 *   <endpoint>/       one queue per endpoint, named after the endpoint (see durable-queue.ts)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { NotificationEndpoint } from '../config/index.js';
import { Endpoint, type EndpointStatus } from './endpoint.js';
import type { Event } from './event.js';

export interface NotifierOptions {
  /** Enabled endpoints only. */
  endpoints: NotificationEndpoint[];
  directory: string;
  maxEvents: number;
  /** Segment size of each queue (tests make it small). */
  segmentBytes?: number;
  logger: Logger;
}

export interface NotifierStatus {
  queueDirectory: string;
  maxEvents: number;
  endpoints: EndpointStatus[];
}

export class Notifier {
  private readonly endpoints: Endpoint[] = [];
  private readonly lockFile: string;
  private closed = false;

  constructor(private readonly opts: NotifierOptions) {
    mkdirSync(opts.directory, { recursive: true });
    this.lockFile = join(opts.directory, 'lock');
    takeLock(this.lockFile, opts.directory);
    try {
      const seen = new Map<string, string>();
      opts.endpoints.forEach((config, i) => {
        const dir = queueDirName(config.name, i);
        const other = seen.get(dir);
        if (other !== undefined) {
          throw new Error(`notifications.endpoints[${i}].name: ${JSON.stringify(config.name)} would share its queue with endpoint ${JSON.stringify(other)}; give endpoints distinct names`);
        }
        seen.set(dir, config.name);
        this.endpoints.push(
          new Endpoint({ config, queueDirectory: join(opts.directory, dir), maxEvents: opts.maxEvents, segmentBytes: opts.segmentBytes, logger: opts.logger }),
        );
      });
    } catch (err) {
      rmSync(this.lockFile, { force: true });
      throw err;
    }
  }

  /** Queue an event for every endpoint that wants it. Synchronous; never throws. */
  write(event: Event): void {
    if (this.closed) return;
    const serialised = JSON.stringify(event);
    for (const endpoint of this.endpoints) endpoint.enqueue(event, serialised);
  }

  /** Start the delivery loops. */
  start(): void {
    for (const endpoint of this.endpoints) endpoint.start();
  }

  status(): NotifierStatus {
    return { queueDirectory: this.opts.directory, maxEvents: this.opts.maxEvents, endpoints: this.endpoints.map((e) => e.status()) };
  }

  /** Stop delivering; what is still queued stays on disk for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.endpoints.map((e) => e.close()));
    rmSync(this.lockFile, { force: true });
  }
}

/** A directory name for an endpoint: its name when that is a plain word, else a readable form plus a hash. */
export function queueDirName(name: string, index: number): string {
  if (name === '') return `endpoint-${index}`;
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(name)) return name;
  const readable = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 60);
  return `${readable || 'endpoint'}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/**
 * Refuse a directory another live berth process on this machine is using: two writers would
 * interleave their segments. A lock left by a killed process (or from another machine, which we
 * cannot check) is taken over.
 */
function takeLock(file: string, directory: string): void {
  try {
    const held = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number; host?: string };
    if (held.host === hostname() && typeof held.pid === 'number' && held.pid !== process.pid && alive(held.pid)) {
      throw new Error(`notifications.queue.directory: ${directory} is in use by berth process ${held.pid}; give each instance its own directory`);
    }
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('notifications.queue.directory')) throw err;
    // no lock, or an unreadable one: take it
  }
  writeFileSync(file, JSON.stringify({ pid: process.pid, host: hostname() }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
