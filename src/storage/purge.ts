/**
 * Upload purging (`storage.maintenance.uploadpurging`): remove upload sessions older than an age,
 * on an interval, starting after a random jitter so that several instances don't purge in step.
 */
import type { CallOptions } from '../distribution/types.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { deleteIfPresent } from './link.js';
import { REPOSITORIES_ROOT } from './paths.js';

export interface PurgeResult {
  /** Upload directories removed (or that would be, in a dry run). */
  purged: string[];
  errors: unknown[];
}

/** Find and remove upload directories whose `startedat` is before `olderThan`. */
export async function purgeUploads(
  driver: StorageDriver,
  opts: CallOptions & { olderThan: Date; dryRun?: boolean },
): Promise<PurgeResult> {
  const candidates: { dir: string; started: Date }[] = [];
  const errors: unknown[] = [];
  try {
    await driver.walk(
      REPOSITORIES_ROOT,
      async (info) => {
        if (!info.isDir) return undefined;
        const base = info.path.slice(info.path.lastIndexOf('/') + 1);
        if (base === '_layers' || base === '_manifests') return 'skip';
        if (base !== '_uploads') return undefined;
        for (const dir of await driver.list(info.path, opts).catch(() => [] as string[])) {
          try {
            candidates.push({ dir, started: await startedAt(driver, dir, opts) });
          } catch (err) {
            errors.push(err);
          }
        }
        return 'skip';
      },
      opts,
    );
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw err;
  }
  const purged: string[] = [];
  for (const { dir, started } of candidates) {
    if (started.getTime() >= opts.olderThan.getTime()) continue;
    if (!opts.dryRun) {
      try {
        await deleteIfPresent(driver, dir, opts);
      } catch (err) {
        errors.push(err);
        continue;
      }
    }
    purged.push(dir);
  }
  return { purged, errors };
}

/** When an upload started: its `startedat` file, else its data's modification time. */
async function startedAt(driver: StorageDriver, dir: string, opts?: CallOptions): Promise<Date> {
  try {
    const text = (await driver.getContent(`${dir}/startedat`, opts)).toString('utf8').trim();
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw err;
  }
  return (await driver.stat(dir, opts)).modTime;
}

export interface UploadPurgerOptions {
  driver: StorageDriver;
  /** Uploads older than this many milliseconds are removed (default 168h). */
  ageMs: number;
  /** Milliseconds between runs (default 24h). */
  intervalMs: number;
  dryRun: boolean;
  /** Delay before the first run; default a random jitter of up to an hour (capped by the interval). */
  initialDelayMs?: number;
  onResult?: (result: PurgeResult) => void;
  onError?: (err: unknown) => void;
}

/** Start purging on a timer; returns a stop function. Timers never keep the process alive. */
export function startUploadPurger(opts: UploadPurgerOptions): () => void {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const run = async () => {
    try {
      const result = await purgeUploads(opts.driver, {
        olderThan: new Date(Date.now() - opts.ageMs),
        dryRun: opts.dryRun,
        signal: controller.signal,
      });
      opts.onResult?.(result);
    } catch (err) {
      if (!controller.signal.aborted) opts.onError?.(err);
    }
    if (!controller.signal.aborted) {
      timer = setTimeout(run, opts.intervalMs);
      timer.unref();
    }
  };
  const jitter = opts.initialDelayMs ?? Math.floor(Math.random() * Math.min(opts.intervalMs, 60 * 60 * 1000));
  timer = setTimeout(run, jitter);
  timer.unref();
  return () => {
    controller.abort();
    if (timer) clearTimeout(timer);
  };
}
