// Our own server, launched exactly like the reference: a child process reading
// the same config format, so tests and benchmarks can swap one for the other.
import { fileURLToPath } from 'node:url';
import { launchRegistry, type RegistryOptions, type RegistryServer } from './registry-config.js';

/** The repository root (this file lives in test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Start `node --import tsx src/cli/main.ts serve config.yml` from the repo root
 * on a free port, with the same generated config as startReferenceRegistry.
 */
export function startBerth(opts: RegistryOptions = {}): Promise<RegistryServer> {
  return launchRegistry(
    {
      name: 'berth',
      command: process.execPath,
      args: (config) => ['--import', 'tsx', 'src/cli/main.ts', 'serve', config],
      cwd: REPO_ROOT,
      // tsx compiles on the fly, so the first start can be slow on a busy machine.
      readyTimeoutMs: 60_000,
    },
    opts,
  );
}
