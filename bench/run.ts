// `npm run bench`: berth and the reference registry measured side by side in
// one run, each over its own filesystem root with the in-memory blob
// descriptor cache. Prints a table and writes .bench/latest.json.
//
//   --only=reference|berth   measure one server
//   --size=MiB               size of the big blob (default 1024)
//   --duration=s             length of each load workload (default 10)
//   --repos=N                repositories in the catalog (default 10000)
//   --keep                   keep the temp dir with both storage roots and logs
//   --workloads=a,b          run only these (catalog, push-monolithic, push-chunked, pull,
//                            head-blob, get-manifest, small-pushes); pull needs push-monolithic
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBerth, REPO_ROOT } from '../test/helpers/berth-server.js';
import { referenceRegistryAvailable, startReferenceRegistry } from '../test/helpers/reference-registry.js';
import type { RegistryOptions, RegistryServer } from '../test/helpers/registry-config.js';
import { blobDigest } from './data.js';
import { writeCatalogRepos } from './layout.js';
import { RssSampler } from './rss.js';
import {
  getManifestLoad,
  headBlobLoad,
  pullBlob,
  pushChunked,
  pushMonolithic,
  seedImage,
  smallPushes,
  walkCatalog,
  type Blob,
  type Seeded,
} from './workloads.js';

type ServerName = 'reference' | 'berth';
const MiB = 1024 * 1024;

interface Args {
  only?: ServerName;
  sizeMiB: number;
  durationS: number;
  repos: number;
  keep: boolean;
  workloads?: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizeMiB: 1024, durationS: 10, repos: 10_000, keep: false };
  for (const a of argv) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    const num = () => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${k} needs a positive number`);
      return n;
    };
    if (k === '--only' && (v === 'reference' || v === 'berth')) args.only = v;
    else if (k === '--size') args.sizeMiB = num();
    else if (k === '--duration') args.durationS = num();
    else if (k === '--repos') args.repos = Math.round(num());
    else if (k === '--keep') args.keep = true;
    else if (k === '--workloads') args.workloads = new Set((v ?? '').split(',').filter(Boolean));
    else throw new Error(`unknown option ${a} (see the header of bench/run.ts)`);
  }
  return args;
}

interface Live {
  name: ServerName;
  server: RegistryServer;
  rss: RssSampler;
  seeded?: Seeded;
}

interface Row {
  key: string;
  label: string;
  /** higher: throughput; lower: time, latency, memory. */
  better: 'higher' | 'lower';
  digits: number;
}

const results: Record<string, Record<string, { value: number; detail?: unknown } | { error: string }>> = {};

function record(server: ServerName, key: string, value: number, detail?: unknown): void {
  (results[server] ??= {})[key] = { value, detail };
}

function recordError(server: ServerName, key: string, err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  (results[server] ??= {})[key] = { error: msg };
  console.error(`  ${server} ${key}: FAILED ${msg.split('\n')[0]}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  // Measure berth as `npm start` runs it: compiled, without the TypeScript loader.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
  process.env.BERTH_COMPILED = '1';
  const size = Math.round(args.sizeMiB * MiB);
  const chunk = 16 * MiB;
  const durationMs = args.durationS * 1000;
  const sizeLabel = args.sizeMiB >= 1024 ? `${args.sizeMiB / 1024} GiB` : `${args.sizeMiB} MiB`;

  const wanted: ServerName[] = [];
  if (args.only !== 'berth') {
    if (referenceRegistryAvailable()) wanted.push('reference');
    else console.warn('reference registry (/usr/bin/docker-registry) not installed: measuring berth alone');
  }
  if (args.only !== 'reference') wanted.push('berth');

  console.log(`hashing two ${sizeLabel} blobs...`);
  const mono: Blob = { seed: 'monolithic', size, digest: '' };
  mono.digest = blobDigest(mono);
  const chunked: Blob = { seed: 'chunked', size, digest: '' };
  chunked.digest = blobDigest(chunked);

  const work = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  const live: Live[] = [];
  let failed = false;
  try {
    for (const name of wanted) {
      const root = join(work, name);
      mkdirSync(root, { recursive: true });
      const t0 = performance.now();
      writeCatalogRepos(root, args.repos);
      console.log(`${name}: wrote ${args.repos} repositories in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const opts: RegistryOptions = {
        rootdirectory: root,
        keep: args.keep,
        extraConfig: { storage: { cache: { blobdescriptor: 'inmemory' } }, log: { accesslog: { disabled: true } } },
      };
      try {
        const server = await (name === 'reference' ? startReferenceRegistry(opts) : startBerth(opts));
        live.push({ name, server, rss: new RssSampler(server.pid).start() });
        console.log(`${name}: pid ${server.pid} at ${server.url}, log ${server.logFile}`);
      } catch (err) {
        failed = true;
        recordError(name, 'start', err);
      }
    }

    // Each workload runs on every server before the next one starts, so
    // machine noise lands on both about equally.
    const each = async (key: string, fn: (l: Live) => Promise<void>) => {
      const needsSeed = key === 'seed' && (!args.workloads || args.workloads.has('head-blob') || args.workloads.has('get-manifest'));
      if (args.workloads && !args.workloads.has(key) && !needsSeed) return;
      console.log(`${key}...`);
      for (const l of live) {
        try {
          await fn(l);
        } catch (err) {
          failed = true;
          recordError(l.name, key, err);
        }
        (results[l.name] ??= {})[`rss:${key}`] = { value: l.rss.window() };
      }
    };

    await each('catalog', async (l) => {
      await walkCatalog(l.server.url, 1000); // warm-up walk
      const walks = [];
      for (let i = 0; i < 3; i++) walks.push(await walkCatalog(l.server.url, 1000));
      record(l.name, 'catalog', median(walks.map((w) => w.seconds)), walks);
    });
    await each('push-monolithic', async (l) => {
      const r = await pushMonolithic(l.server.url, 'bench/big', mono);
      record(l.name, 'push-monolithic', r.mbps, r);
    });
    await each('push-chunked', async (l) => {
      const r = await pushChunked(l.server.url, 'bench/chunked', chunked, chunk);
      record(l.name, 'push-chunked', r.mbps, r);
    });
    await each('pull', async (l) => {
      const pulls = [];
      for (let i = 0; i < 3; i++) pulls.push(await pullBlob(l.server.url, 'bench/big', mono));
      // The first pull right after the push shows whether the blob was still in the page cache.
      record(l.name, 'pull-first', (pulls[0] as { mbps: number }).mbps);
      record(l.name, 'pull', median(pulls.map((p) => p.mbps)), pulls);
    });
    await each('seed', async (l) => {
      l.seeded = await seedImage(l.server.url, 'bench/small', 'latest');
    });
    await each('head-blob', async (l) => {
      const r = await headBlobLoad(l.server.url, l.seeded as Seeded, 32, durationMs);
      if (r.badStatus || r.errors) console.warn(`  ${l.name}: ${r.badStatus} bad statuses, ${r.errors} errors`);
      record(l.name, 'head-blob', r.rps, r);
      record(l.name, 'head-blob-p99', r.p99Ms);
    });
    await each('get-manifest', async (l) => {
      const r = await getManifestLoad(l.server.url, l.seeded as Seeded, 32, durationMs);
      if (r.badStatus || r.errors) console.warn(`  ${l.name}: ${r.badStatus} bad statuses, ${r.errors} errors`);
      record(l.name, 'get-manifest', r.rps, r);
      record(l.name, 'get-manifest-p99', r.p99Ms);
    });
    await each('small-pushes', async (l) => {
      const r = await smallPushes(l.server.url, 'bench/small', 16, durationMs);
      record(l.name, 'small-pushes', r.perSecond, r);
    });
    for (const l of live) record(l.name, 'rss-peak', l.rss.stop(), { sampledPeakMB: l.rss.peak });
  } finally {
    for (const l of live) await l.server.stop();
    if (!args.keep) rmSync(work, { recursive: true, force: true });
    else console.log(`kept ${work}`);
  }

  const rows: Row[] = [
    { key: 'push-monolithic', label: `push ${sizeLabel}, monolithic (MB/s)`, better: 'higher', digits: 0 },
    { key: 'push-chunked', label: `push ${sizeLabel}, 16 MiB chunks (MB/s)`, better: 'higher', digits: 0 },
    { key: 'pull', label: `pull ${sizeLabel}, median of 3 (MB/s)`, better: 'higher', digits: 0 },
    { key: 'pull-first', label: `  of which the first, right after the push (MB/s)`, better: 'higher', digits: 0 },
    { key: 'head-blob', label: 'HEAD blob, 32 conns (req/s)', better: 'higher', digits: 0 },
    { key: 'head-blob-p99', label: 'HEAD blob p99 (ms)', better: 'lower', digits: 1 },
    { key: 'get-manifest', label: 'GET manifest by tag, 32 conns (req/s)', better: 'higher', digits: 0 },
    { key: 'get-manifest-p99', label: 'GET manifest p99 (ms)', better: 'lower', digits: 1 },
    { key: 'small-pushes', label: '4 KiB pushes, 16 in flight (/s)', better: 'higher', digits: 0 },
    { key: 'catalog', label: `catalog of ${args.repos} repos, pages of 1000 (s)`, better: 'lower', digits: 2 },
    { key: 'rss-peak', label: 'peak RSS, VmHWM (MB)', better: 'lower', digits: 0 },
  ];
  printTable(rows);

  const out = join(REPO_ROOT, '.bench');
  mkdirSync(out, { recursive: true });
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    args,
    blobs: { monolithic: mono.digest, chunked: chunked.digest, bytes: size },
    results,
  };
  writeFileSync(join(out, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(`\nresults in .bench/latest.json`);
  return failed ? 1 : 0;
}

function cell(server: string, key: string, digits: number): { text: string; value?: number } {
  const r = results[server]?.[key];
  if (!r) return { text: '-' };
  if ('error' in r) return { text: 'error' };
  return { text: r.value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }), value: r.value };
}

function printTable(rows: Row[]): void {
  const lines = rows.map((row) => {
    const ref = cell('reference', row.key, row.digits);
    const ours = cell('berth', row.key, row.digits);
    const ratio = ref.value && ours.value !== undefined ? `${(ours.value / ref.value).toFixed(2)}x` : '-';
    const hint = row.better === 'higher' ? '↑' : '↓';
    return [`${row.label} ${hint}`, ref.text, ours.text, ratio];
  });
  const header = ['workload (↑ higher is better, ↓ lower)', 'reference', 'berth', 'berth/ref'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cols: string[]) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  console.log('\n' + fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(fmt(l));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
