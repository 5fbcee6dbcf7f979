/**
 * Where the durable queues live when `notifications.queue.directory` is not set:
 *   - filesystem storage: `berth-notifications` beside the storage root
 *     (rootdirectory /var/lib/registry → /var/lib/berth-notifications), outside the tree the
 *     reference registry and garbage collection walk;
 *   - any other driver: `./data/notifications`, relative to the working directory.
 * Relative paths are resolved against the working directory.
 */
import { dirname, join, resolve } from 'node:path';
import type { Configuration } from '../config/index.js';

export function queueDirectory(config: Configuration): string {
  const configured = config.notifications.queue.directory;
  if (configured) return resolve(configured);
  const driver = config.storage.driver;
  if (driver.name === 'filesystem') {
    const root = resolve(driver.parameters.rootdirectory || '/var/lib/registry');
    return join(dirname(root), 'berth-notifications');
  }
  return resolve('data', 'notifications');
}
