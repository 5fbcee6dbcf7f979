#!/usr/bin/env -S node --max-semi-space-size=4
// --max-semi-space-size=4 (MiB, V8's default is 16): a registry makes short-lived garbage at a high
// rate (request objects, socket chunks); a smaller young generation collects it sooner and keeps
// peak RSS around 120 MB instead of 150-240 MB under the benchmark's load, for a few percent of
// throughput. `npm start` passes the same flag; V8 reads it only at start-up.
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
