// Our own server, launched exactly like the reference: a child process reading
// the same config format, so tests and benchmarks can swap one for the other.
import { fileURLToPath } from 'node:url';
import { launchRegistry, type RegistryOptions, type RegistryServer } from './registry-config.js';

/** The repository root (this file lives in test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Start `node --import tsx src/cli/main.ts serve config.yml` from the repo root
 * on a free port, with the same generated config as startReferenceRegistry.
 * With BERTH_COMPILED=1 (the benchmarks) it runs the compiled `bin/berth.js`
 * instead, as `npm start` does (with its V8 flag): no TypeScript loader in the measured process.
 */
export function startBerth(opts: RegistryOptions = {}): Promise<RegistryServer> {
  const compiled = process.env.BERTH_COMPILED === '1';
  return launchRegistry(
    {
      name: 'berth',
      command: process.execPath,
      args: (config) => (compiled ? ['--max-semi-space-size=4', 'bin/berth.js', 'serve', config] : ['--import', 'tsx', 'src/cli/main.ts', 'serve', config]),
      cwd: REPO_ROOT,
      // tsx compiles on the fly, so the first start can be slow on a busy machine.
      readyTimeoutMs: 60_000,
    },
    opts,
  );
}
