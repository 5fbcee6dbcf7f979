/** Builds the configured storage driver. Drivers validate their own parameters here, naming the key. */
import type { StorageDriverConfig } from '../../config/index.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';
import { InMemoryDriver } from './inmemory.js';

export function createDriver(config: StorageDriverConfig): StorageDriver {
  switch (config.name) {
    case 'filesystem': {
      const root = config.parameters.rootdirectory ?? '/var/lib/registry';
      if (typeof root !== 'string' || root === '') throw new Error('storage.filesystem.rootdirectory: expected a non-empty path');
      return new FilesystemDriver({ rootdirectory: root });
    }
    case 'inmemory':
      return new InMemoryDriver();
    default:
      throw new Error(`storage.${config.name}: the ${config.name} driver is not available in this build yet (filesystem and inmemory are)`);
  }
}
