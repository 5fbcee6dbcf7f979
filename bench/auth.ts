// Access control overhead: HEAD-blob and GET-manifest requests per second at concurrency 32,
// without auth, with auth.htpasswd (Basic credentials on every request) and with the built-in
// token server (one Bearer token reused, as clients do). The same storage root serves all three.
//
//   node --import tsx bench/auth.ts [--duration=s] [--rounds=n] [--connections=n]
//
// The issue's target: authenticated figures within 20% of the unauthenticated ones. Besides
// requests per second, the table shows the server's CPU time per request (from /proc), which a
// busy shared machine disturbs far less than throughput. Last, the gate alone is timed in process
// (no network, no storage): the CPU that authorizing one HEAD request costs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import bcrypt from 'bcryptjs';
import { createAuth } from '../src/auth/setup.js';
import { validateConfiguration } from '../src/config/index.js';
import { RequestContext } from '../src/http/context.js';
import { createLogger } from '../src/observability/logger.js';
import { startBerth } from '../test/helpers/berth-server.js';
import type { RegistryServer } from '../test/helpers/registry-config.js';
import { runLoad, type LoadResult } from './load.js';
import { cpuSeconds } from './rss.js';
import { seedImage, type Seeded } from './workloads.js';

type Mode = 'none' | 'htpasswd' | 'token';
const MODES: Mode[] = ['none', 'htpasswd', 'token'];

function parseArgs(argv: string[]): { durationS: number; rounds: number; connections: number } {
  const out = { durationS: 10, rounds: 1, connections: 32 };
  for (const a of argv) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${a}: expected a positive number`);
    if (k === '--duration') out.durationS = n;
    else if (k === '--rounds') out.rounds = Math.round(n);
    else if (k === '--connections') out.connections = Math.round(n);
    else throw new Error(`unknown option ${a} (see the header of bench/auth.ts)`);
  }
  return out;
}

const USER = 'bench';
const PASSWORD = 'bench-password';

function configFor(mode: Mode, dir: string): object {
  const common = { storage: { cache: { blobdescriptor: 'inmemory' } }, log: { level: 'warn', accesslog: { disabled: true } } };
  const htpasswd = join(dir, 'htpasswd');
  if (mode === 'htpasswd') return { ...common, auth: { htpasswd: { realm: 'bench', path: htpasswd } } };
  if (mode === 'token') return { ...common, tokenserver: { enabled: true, htpasswd, keydirectory: join(dir, 'keys'), expiration: '1h' } };
  return common;
}

async function headersFor(mode: Mode, server: RegistryServer, repo: string): Promise<Record<string, string>> {
  if (mode === 'none') return {};
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  if (mode === 'htpasswd') return { authorization: basic };
  const res = await fetch(`${server.url}/auth/token?service=berth&scope=repository:${repo}:pull`, { headers: { authorization: basic } });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
  return { authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
}

interface Measured extends LoadResult {
  /** Server CPU (user + system) per request, in microseconds. */
  cpuUs: number;
}

interface Row {
  head: Measured[];
  manifest: Measured[];
}

async function withCpu(pid: number, run: () => Promise<LoadResult>): Promise<Measured> {
  const before = cpuSeconds(pid);
  const r = await run();
  const used = cpuSeconds(pid) - before;
  return { ...r, cpuUs: (used / Math.max(1, r.requests)) * 1e6 };
}

async function measure(mode: Mode, root: string, dir: string, seeded: Seeded, opts: ReturnType<typeof parseArgs>, row: Row): Promise<void> {
  const server = await startBerth({ rootdirectory: root, extraConfig: configFor(mode, dir) });
  try {
    const headers = await headersFor(mode, server, seeded.repo);
    const durationMs = opts.durationS * 1000;
    // Warm up first (connections, JIT, the one bcrypt run per credential) so that CPU per request
    // counts the steady state only.
    await runLoad({ url: `${server.url}/v2/${seeded.repo}/blobs/${seeded.layerDigest}`, method: 'HEAD', headers, connections: opts.connections, durationMs: 1000 });
    const head = await withCpu(server.pid, () =>
      runLoad({ url: `${server.url}/v2/${seeded.repo}/blobs/${seeded.layerDigest}`, method: 'HEAD', headers, connections: opts.connections, durationMs }),
    );
    const manifest = await withCpu(server.pid, () =>
      runLoad({
        url: `${server.url}/v2/${seeded.repo}/manifests/${seeded.tag}`,
        method: 'GET',
        headers: { ...headers, accept: seeded.mediaType },
        connections: opts.connections,
        durationMs,
      }),
    );
    for (const [name, r] of [['HEAD blob', head], ['GET manifest', manifest]] as const) {
      if (r.badStatus > 0 || r.errors > 0) throw new Error(`${mode} ${name}: ${r.badStatus} unexpected statuses, ${r.errors} errors`);
    }
    row.head.push(head);
    row.manifest.push(manifest);
    console.log(
      `${mode.padEnd(9)} HEAD blob ${head.rps.toFixed(0).padStart(6)}/s ${head.cpuUs.toFixed(0).padStart(5)} µs CPU/req   GET manifest ${manifest.rps.toFixed(0).padStart(6)}/s ${manifest.cpuUs.toFixed(0).padStart(5)} µs CPU/req`,
    );
  } finally {
    await server.stop();
  }
}

/** Microseconds one authorization of a HEAD-blob request costs in process, per mode. */
async function gateCost(mode: Exclude<Mode, 'none'>, dir: string, iterations: number): Promise<number> {
  const logger = createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const { storage, ...rest } = configFor(mode, dir) as { storage: object };
  const { config } = validateConfiguration({ version: '0.1', storage: { ...storage, inmemory: {} }, ...rest });
  const auth = await createAuth(config, logger);
  if (!auth) throw new Error(`${mode}: no access control configured`);
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  let authorization = basic;
  if (mode === 'token') {
    let body = '';
    const res = { writeHead: () => undefined, end: (b: Buffer) => (body = b.toString()) };
    const req = { method: 'GET', url: '/auth/token?scope=repository:bench/app:pull', headers: { authorization: basic }, socket: {} };
    await auth.routes[0]?.(req as never, res as never, '/auth/token');
    authorization = `Bearer ${(JSON.parse(body) as { token: string }).token}`;
  }
  const context = () =>
    new RequestContext(
      { method: 'HEAD', headers: { authorization, host: 'bench' }, socket: {} } as never,
      new EventEmitter() as never,
      'id',
      { route: 'blob', name: 'bench/app', ref: 'sha256:0' },
      '',
      logger,
      { prefix: '', relative: false },
    );
  await auth.gate(context()); // the one bcrypt run
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) await auth.gate(context());
  const t1 = performance.now();
  for (let i = 0; i < iterations; i++) context();
  const t2 = performance.now();
  return (((t1 - t0) - (t2 - t1)) * 1000) / iterations;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-auth-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  try {
    writeFileSync(join(dir, 'htpasswd'), `${USER}:${bcrypt.hashSync(PASSWORD, 10).replace(/^\$2b\$/, '$2y$')}\n`);
    const seeder = await startBerth({ rootdirectory: root, extraConfig: configFor('none', dir) });
    let seeded: Seeded;
    try {
      seeded = await seedImage(seeder.url, 'bench/app', 'v1');
    } finally {
      await seeder.stop();
    }
    console.log(`concurrency ${opts.connections}, ${opts.durationS} s per workload, ${opts.rounds} round(s)`);
    const rows = new Map<Mode, Row>(MODES.map((m) => [m, { head: [], manifest: [] }]));
    for (let round = 0; round < opts.rounds; round++) {
      for (const mode of MODES) await measure(mode, root, dir, seeded, opts, rows.get(mode) as Row);
    }

    const pct = (x: number, b: number) => `${((x / b) * 100).toFixed(0)}%`;
    const cell = (results: Measured[], base: Measured[]) => {
      const rps = median(results.map((r) => r.rps));
      const cpu = median(results.map((r) => r.cpuUs));
      const p99 = median(results.map((r) => r.p99Ms));
      const baseRps = median(base.map((r) => r.rps));
      const baseCpu = median(base.map((r) => r.cpuUs));
      return `${rps.toFixed(0).padStart(6)} ${pct(rps, baseRps).padStart(5)} | ${p99.toFixed(1).padStart(6)} | ${cpu.toFixed(0).padStart(4)} ${pct(cpu, baseCpu).padStart(5)}`;
    };
    const base = rows.get('none') as Row;
    console.log('');
    console.log('medians    | HEAD blob req/s  | p99 ms | CPU µs/req | GET manifest req/s | p99 ms | CPU µs/req');
    console.log('-----------|------------------|--------|------------|--------------------|--------|-----------');
    for (const mode of MODES) {
      const row = rows.get(mode) as Row;
      console.log(`${mode.padEnd(10)} | ${cell(row.head, base.head).padEnd(16)} | ${cell(row.manifest, base.manifest)}`);
    }

    const gates: string[] = [];
    for (const mode of ['htpasswd', 'token'] as const) {
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) runs.push(await gateCost(mode, dir, 100_000));
      gates.push(`${mode} ${median(runs).toFixed(1)} µs`);
    }
    console.log('');
    console.log(`in-process gate cost per HEAD-blob request (median of 3 × 100000): ${gates.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
