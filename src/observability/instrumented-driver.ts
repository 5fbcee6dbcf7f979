/**
 * A storage driver that times every operation of the driver it wraps and counts its failures,
 * with the reference's action names (GetContent, Stat, Reader, ...). Results, errors and streams
 * pass through untouched: a reader's stream is the wrapped driver's own stream (its errors are
 * counted by listening, never intercepted), and anything the wrapped driver offers beyond the
 * contract is reachable as before.
 */
import type { Readable } from 'node:stream';
import { finished } from 'node:stream';
import type { FileWriter, StorageDriver } from '../storage/driver/driver.js';
import type { RegistryMetrics } from './metrics.js';

const ACTIONS = {
  getContent: 'GetContent',
  putContent: 'PutContent',
  reader: 'Reader',
  writer: 'Writer',
  stat: 'Stat',
  list: 'List',
  move: 'Move',
  delete: 'Delete',
  walk: 'Walk',
  redirectURL: 'URLFor',
} as const satisfies Partial<Record<keyof StorageDriver, string>>;

type Method = keyof typeof ACTIONS;

function errorName(err: unknown): string {
  if (err instanceof Error) return err.name === 'Error' ? ((err as { code?: string }).code ?? 'Error') : err.name;
  return 'unknown';
}

class Recorder {
  constructor(
    private readonly metrics: RegistryMetrics,
    private readonly driver: string,
  ) {}

  async time<T>(action: string, run: () => Promise<T>): Promise<T> {
    const end = this.metrics.storageSeconds.startTimer({ driver: this.driver, action });
    try {
      return await run();
    } catch (err) {
      this.fail(action, err);
      throw err;
    } finally {
      end();
    }
  }

  fail(action: string, err: unknown): void {
    this.metrics.storageErrors.inc({ driver: this.driver, action, error: errorName(err) });
  }
}

function instrumentWriter(inner: FileWriter, rec: Recorder): FileWriter {
  return {
    get size() {
      return inner.size;
    },
    write: (chunk, opts) => rec.time('Writer.Write', () => inner.write(chunk, opts)),
    close: (opts) => rec.time('Writer.Close', () => inner.close(opts)),
    commit: (opts) => rec.time('Writer.Commit', () => inner.commit(opts)),
    cancel: (opts) => rec.time('Writer.Cancel', () => inner.cancel(opts)),
  };
}

export function instrumentDriver(inner: StorageDriver, metrics: RegistryMetrics): StorageDriver {
  const rec = new Recorder(metrics, inner.name);
  const wrapped: Record<Method, (...args: never[]) => Promise<unknown>> = {
    getContent: (...a: Parameters<StorageDriver['getContent']>) => rec.time('GetContent', () => inner.getContent(...a)),
    putContent: (...a: Parameters<StorageDriver['putContent']>) => rec.time('PutContent', () => inner.putContent(...a)),
    reader: async (...a: Parameters<StorageDriver['reader']>) => {
      const stream: Readable = await rec.time('Reader', () => inner.reader(...a));
      // Count a failure while streaming; a consumer that stops early (destroy) is not a failure.
      finished(stream, (err) => {
        if (err && (err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') rec.fail('Reader', err);
      });
      return stream;
    },
    writer: async (...a: Parameters<StorageDriver['writer']>) => instrumentWriter(await rec.time('Writer', () => inner.writer(...a)), rec),
    stat: (...a: Parameters<StorageDriver['stat']>) => rec.time('Stat', () => inner.stat(...a)),
    list: (...a: Parameters<StorageDriver['list']>) => rec.time('List', () => inner.list(...a)),
    move: (...a: Parameters<StorageDriver['move']>) => rec.time('Move', () => inner.move(...a)),
    delete: (...a: Parameters<StorageDriver['delete']>) => rec.time('Delete', () => inner.delete(...a)),
    walk: (...a: Parameters<StorageDriver['walk']>) => rec.time('Walk', () => inner.walk(...a)),
    redirectURL: (...a: Parameters<StorageDriver['redirectURL']>) => rec.time('URLFor', () => inner.redirectURL(...a)),
  };
  return new Proxy(inner, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(ACTIONS, prop)) return wrapped[prop as Method];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
