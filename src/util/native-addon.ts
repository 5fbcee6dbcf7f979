/**
 * Loading the project's optional native addons (built by `npm ci` through node-gyp into
 * build/Release/). Each caller keeps a JavaScript fallback: a missing or broken addon is
 * `undefined`, never an error.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory at or above `start` holding a package.json (the package root). */
function packageRoot(start: string): string | undefined {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * `build/Release/<name>.node`, or undefined when it is absent, fails to load, or the environment
 * variable `disableVar` is set to anything but '' or '0'.
 */
export function loadNativeAddon<T>(name: string, disableVar: string): T | undefined {
  const off = process.env[disableVar];
  if (off !== undefined && off !== '' && off !== '0') return undefined;
  try {
    // Works from src/ (tsx) and from dist/ (tsc output) alike.
    const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
    if (!root) return undefined;
    const file = join(root, 'build', 'Release', `${name}.node`);
    if (!existsSync(file)) return undefined;
    return createRequire(import.meta.url)(file) as T;
  } catch {
    return undefined;
  }
}
