// The reference implementation (CNCF distribution, Debian's docker-registry
// package) as a child process over a generated config.
import { existsSync } from 'node:fs';
import { launchRegistry, type RegistryOptions, type RegistryServer } from './registry-config.js';

/** Where the binary is; REFERENCE_REGISTRY_BIN overrides. */
export const REFERENCE_REGISTRY_BIN = process.env.REFERENCE_REGISTRY_BIN ?? '/usr/bin/docker-registry';

export function referenceRegistryAvailable(): boolean {
  return existsSync(REFERENCE_REGISTRY_BIN);
}

/**
 * Start `docker-registry serve config.yml` on a free port: version 0.1,
 * filesystem storage (delete enabled) in a temp dir unless told otherwise,
 * http.addr 127.0.0.1:PORT, log level warn.
 */
export function startReferenceRegistry(opts: RegistryOptions = {}): Promise<RegistryServer> {
  return launchRegistry(
    { name: 'reference-registry', command: REFERENCE_REGISTRY_BIN, args: (config) => ['serve', config] },
    opts,
  );
}
