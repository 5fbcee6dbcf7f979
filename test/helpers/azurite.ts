// Azurite, Microsoft's Azure Blob Storage emulator (npm devDependency), started by a test on a
// free port with its data in a temp dir, and the settings berth needs to use it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { REPO_ROOT } from './berth-server.js';
import { freePort } from './ports.js';
import { spawnServer } from './processes.js';

/** Azurite's single account and its published development key. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  port: number;
  /** http://127.0.0.1:PORT/devstoreaccount1 (path-style: the account is the first path segment). */
  serviceURL: string;
  service: BlobServiceClient;
  /** Data directory and log of this instance. */
  location: string;
  logFile: string;
  /** Create a container with a fresh random name and return the name. */
  createContainer(prefix?: string): Promise<string>;
  /** `storage.azure` parameters for a container of this instance. */
  parameters(container: string, extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<Azurite> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-azurite-'));
  const location = join(dir, 'data');
  const logFile = join(dir, 'azurite.log');
  const port = await freePort();
  let proc;
  try {
    proc = await spawnServer({
      command: process.execPath,
      args: [
        join(REPO_ROOT, 'node_modules/azurite/dist/src/blob/main.js'),
        ...['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location],
        // --skipApiVersionCheck: the installed @azure/storage-blob speaks a newer API version than azurite 3.35.
        ...['--silent', '--disableTelemetry', '--skipApiVersionCheck', '--loose'],
      ],
      port,
      logFile,
      // Any HTTP answer on the port (azurite rejects the probe's path) means it is up.
      readyTimeoutMs: 30_000,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const serviceURL = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const service = new BlobServiceClient(serviceURL, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  return {
    port,
    serviceURL,
    service,
    location,
    logFile,
    async createContainer(prefix = 'berth') {
      const name = `${prefix}-${randomBytes(6).toString('hex')}`;
      await service.getContainerClient(name).create();
      return name;
    },
    parameters: (container, extra = {}) => ({
      accountname: AZURITE_ACCOUNT,
      accountkey: AZURITE_KEY,
      container,
      serviceurl: serviceURL,
      ...extra,
    }),
    async stop() {
      await proc.stop();
      if (process.env.BERTH_KEEP_TMP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}
