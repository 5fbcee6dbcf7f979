/** An in-process registry on a real listener (127.0.0.1, port 0) for HTTP-level tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createRequestListener, type AppOptions } from '../../src/http/app.js';
import { listen, type RunningServer } from '../../src/http/server.js';
import { UploadState } from '../../src/http/upload-state.js';
import { createLogger } from '../../src/observability/logger.js';
import { InMemoryBlobDescriptorCache } from '../../src/storage/cache/memory.js';
import type { StorageDriver } from '../../src/storage/driver/driver.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { Registry } from '../../src/storage/registry.js';

export interface TestRegistry {
  url: string;
  root: string;
  registry: Registry;
  server: RunningServer;
  stop(): Promise<void>;
}

/** `driver`: storage other than a filesystem under the temp root (which is created either way). */
export async function startTestRegistry(overrides: Partial<AppOptions> = {}, driver?: StorageDriver): Promise<TestRegistry> {
  const root = await mkdtemp(join(tmpdir(), 'berth-http-'));
  const registry = new Registry({ driver: driver ?? new FilesystemDriver({ rootdirectory: root }), cache: new InMemoryBlobDescriptorCache() });
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const app: AppOptions = {
    namespace: registry,
    logger: createLogger({ level: 'error', destination: quiet }),
    urls: { prefix: '', relative: false },
    deleteEnabled: true,
    readOnly: false,
    redirect: false,
    uploadState: new UploadState('test-secret'),
    headers: {},
    catalogMaxEntries: 1000,
    maxTags: 0,
    manifestPolicy: { urls: {} },
    ...overrides,
  };
  const server = await listen({ addr: '127.0.0.1:0' }, createRequestListener(app));
  return {
    url: `http://127.0.0.1:${server.port}`,
    root,
    registry,
    server,
    async stop() {
      await server.close(0);
      await rm(root, { recursive: true, force: true });
    },
  };
}
