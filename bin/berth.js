#!/usr/bin/env node
// The `berth` command. Runs the compiled CLI from dist/ (built by `npm run build`, which `npm ci` runs via `prepare`).
// File I/O and background hashing share libuv's thread pool; its default of 4 threads is small
// for a registry doing many small file operations at once. It must be sized before first use.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { main } = await import('../dist/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
