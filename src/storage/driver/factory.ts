/**
 * Builds the configured storage driver. Drivers validate their own parameters here, naming the key.
 * Object-store drivers are loaded on demand: their SDKs are large, and a registry on the filesystem
 * should not carry them in memory.
 */
import type { StorageDriverConfig } from '../../config/index.js';
import type { StorageDriver } from './driver.js';
import { FilesystemDriver } from './filesystem.js';
import { InMemoryDriver } from './inmemory.js';

export async function createDriver(config: StorageDriverConfig): Promise<StorageDriver> {
  switch (config.name) {
    case 'filesystem': {
      const root = config.parameters.rootdirectory ?? '/var/lib/registry';
      if (typeof root !== 'string' || root === '') throw new Error('storage.filesystem.rootdirectory: expected a non-empty path');
      return new FilesystemDriver({
        rootdirectory: root,
        directWrites: config.parameters.directwrites !== false,
        directReads: config.parameters.directreads === true,
      });
    }
    case 'inmemory':
      return new InMemoryDriver();
    case 's3': {
      const [{ S3Driver }, { parseS3Parameters }] = await Promise.all([import('./s3/s3-driver.js'), import('./s3/options.js')]);
      return new S3Driver(parseS3Parameters(config.parameters));
    }
    case 'azure': {
      const [{ AzureDriver }, { resolveAzureOptions }] = await Promise.all([import('./azure/azure-driver.js'), import('./azure/options.js')]);
      return new AzureDriver(resolveAzureOptions(config.parameters));
    }
    default:
      throw new Error(`storage.${config.name}: the ${config.name} driver is not available in this build (filesystem, inmemory, s3 and azure are)`);
  }
}
