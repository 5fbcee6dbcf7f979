// S3 benchmark: berth and the reference registry (docker-registry, its s3 driver) on one Ceph RGW
// started here, each on its own bucket, redirects off so the bytes flow through the registry.
// Push and pull of one big blob, then each server's peak RSS (VmHWM). Prints a table with ratios.
//
//   node --import tsx bench/s3.ts [--size=MiB] [--rounds=N] [--chunked=MiB] [--only=berth|reference]
//
//   --size=MiB      size of the blob (default 1024)
//   --rounds=N      push+pull rounds per server, alternating servers; the best round counts (default 1)
//   --chunked=MiB   also push the blob in PATCH chunks of this size (default: off)
//   --copy-threshold=MiB  storage.s3.multipartcopythresholdsize for both servers (default: the
//                   reference's 32 MiB). Ceph RGW copies a whole object by reference, so with a
//                   threshold of 5 GiB the move that commits an upload costs almost nothing.
import { execFileSync } from 'node:child_process';
import { startBerth, REPO_ROOT } from '../test/helpers/berth-server.js';
import { referenceRegistryAvailable, startReferenceRegistry } from '../test/helpers/reference-registry.js';
import type { RegistryServer } from '../test/helpers/registry-config.js';
import { startRgw, type Rgw } from '../test/helpers/rgw.js';
import { blobDigest } from './data.js';
import { RssSampler } from './rss.js';
import { pullBlob, pushChunked, pushMonolithic, type Blob } from './workloads.js';

type ServerName = 'reference' | 'berth';
const MiB = 1024 * 1024;

interface Args {
  sizeMiB: number;
  rounds: number;
  chunkedMiB?: number;
  copyThresholdMiB?: number;
  only?: ServerName;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizeMiB: 1024, rounds: 1 };
  for (const a of argv) {
    const [k, v] = a.split('=', 2) as [string, string | undefined];
    const num = () => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${k} needs a positive number`);
      return n;
    };
    if (k === '--size') args.sizeMiB = num();
    else if (k === '--rounds') args.rounds = Math.round(num());
    else if (k === '--chunked') args.chunkedMiB = num();
    else if (k === '--copy-threshold') args.copyThresholdMiB = num();
    else if (k === '--only' && (v === 'berth' || v === 'reference')) args.only = v;
    else throw new Error(`unknown option ${a} (see the header of bench/s3.ts)`);
  }
  return args;
}

interface Live {
  name: ServerName;
  server: RegistryServer;
  rss: RssSampler;
  results: Record<string, number[]>;
}

async function start(name: ServerName, rgw: Rgw, args: Args): Promise<Live> {
  const bucket = await rgw.createBucket(`${name}-bench`);
  const s3 = rgw.storageConfig(bucket, args.copyThresholdMiB ? { multipartcopythresholdsize: Math.round(args.copyThresholdMiB * MiB) } : {});
  const extraConfig = {
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: null, s3, redirect: { disable: true }, cache: { blobdescriptor: 'inmemory' } },
  };
  const server = await (name === 'reference' ? startReferenceRegistry({ extraConfig }) : startBerth({ extraConfig }));
  console.log(`${name}: pid ${server.pid} at ${server.url}, bucket ${bucket}`);
  return { name, server, rss: new RssSampler(server.pid).start(), results: {} };
}

/** Build berth as `npm start` runs it; fall back to the TypeScript loader if the build fails. */
function compileBerth(): void {
  try {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT, stdio: 'inherit' });
    process.env.BERTH_COMPILED = '1';
  } catch {
    console.warn('npm run build failed: measuring berth under tsx');
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const size = Math.round(args.sizeMiB * MiB);
  const label = args.sizeMiB >= 1024 ? `${args.sizeMiB / 1024} GiB` : `${args.sizeMiB} MiB`;
  const names: ServerName[] = [];
  if (args.only !== 'berth' && referenceRegistryAvailable()) names.push('reference');
  if (args.only !== 'reference') names.push('berth');
  if (names.includes('berth')) compileBerth();
  // The reference's AWS SDK refuses to start when AWS_CA_BUNDLE is set (its transport is wrapped);
  // the RGW here is plain HTTP, so neither server needs it.
  delete process.env.AWS_CA_BUNDLE;

  console.log(`hashing the ${label} blob...`);
  const blob: Blob = { seed: 's3-bench', size, digest: '' };
  blob.digest = blobDigest(blob);
  // memstore keeps objects in RAM (only what is stored): room for every round's blobs, the copies
  // commits make and what the gateway has deleted but not yet reclaimed (a chunked push to berth
  // rewrites the object at every chunk: about size x chunks / 2 of garbage). A full OSD blocks writes.
  const chunks = args.chunkedMiB ? Math.ceil(args.sizeMiB / args.chunkedMiB) : 0;
  const perRound = 4 * names.length * size + (size * chunks) / 2;
  const rgw = await startRgw({ sizeMB: Math.max(4096, Math.ceil((args.rounds * perRound) / MiB) + 2048) });
  console.log(`rgw: ${rgw.endpoint} (${rgw.dir})`);
  const live: Live[] = [];
  try {
    for (const name of names) live.push(await start(name, rgw, args));
    const record = (l: Live, key: string, value: number) => (l.results[key] ??= []).push(value);
    for (let round = 1; round <= args.rounds; round++) {
      // Alternate which server goes first, so machine noise lands on both alike.
      const order = round % 2 ? live : [...live].reverse();
      for (const l of order) {
        const repo = `bench/s3-${round}`;
        // The gateway reclaims deleted objects (every commit deletes the upload's copy) in the
        // background; do it between workloads so it never lands inside a measurement.
        await rgw.collectGarbage();
        const push = await pushMonolithic(l.server.url, repo, blob);
        record(l, 'push', push.mbps);
        await rgw.collectGarbage();
        const pull = await pullBlob(l.server.url, repo, blob);
        record(l, 'pull', pull.mbps);
        if (args.chunkedMiB) {
          const chunkedBlob = { ...blob, seed: `chunked-${round}`, digest: '' };
          chunkedBlob.digest = blobDigest(chunkedBlob);
          await rgw.collectGarbage();
          const r = await pushChunked(l.server.url, `${repo}-chunked`, chunkedBlob, Math.round(args.chunkedMiB * MiB));
          record(l, 'chunked', r.mbps);
        }
        console.log(`round ${round} ${l.name}: push ${push.mbps.toFixed(0)} MB/s, pull ${pull.mbps.toFixed(0)} MB/s (${pull.client}), rss now ${l.rss.window().toFixed(0)} MB`);
      }
    }
    for (const l of live) record(l, 'rss', l.rss.stop());
  } finally {
    for (const l of live) await l.server.stop();
    await rgw.stop();
  }

  const rows: { key: string; label: string; better: 'higher' | 'lower'; pick: (xs: number[]) => number }[] = [
    { key: 'push', label: `push ${label}, monolithic (MB/s)`, better: 'higher', pick: (xs) => Math.max(...xs) },
    ...(args.chunkedMiB ? [{ key: 'chunked', label: `push ${label}, ${args.chunkedMiB} MiB chunks (MB/s)`, better: 'higher' as const, pick: (xs: number[]) => Math.max(...xs) }] : []),
    { key: 'pull', label: `pull ${label} (MB/s)`, better: 'higher', pick: (xs) => Math.max(...xs) },
    { key: 'rss', label: 'peak RSS, VmHWM (MB)', better: 'lower', pick: (xs) => Math.max(...xs) },
  ];
  const ref = live.find((l) => l.name === 'reference');
  const ours = live.find((l) => l.name === 'berth');
  const cell = (l: Live | undefined, key: string, pick: (xs: number[]) => number) => {
    const xs = l?.results[key];
    return xs?.length ? pick(xs) : undefined;
  };
  const threshold = args.copyThresholdMiB ? `copy threshold ${args.copyThresholdMiB} MiB` : 'default copy threshold';
  const lines = [[`workload (S3 on Ceph RGW, redirects off, ${threshold})`, 'reference', 'berth', 'berth/reference']];
  for (const row of rows) {
    const a = cell(ref, row.key, row.pick);
    const b = cell(ours, row.key, row.pick);
    const ratio = a !== undefined && b !== undefined && a > 0 ? `${(b / a).toFixed(2)}x ${row.better === 'higher' ? (b >= a ? '(better)' : '(worse)') : b <= a ? '(better)' : '(worse)'}` : '-';
    lines.push([row.label, a?.toFixed(0) ?? '-', b?.toFixed(0) ?? '-', ratio]);
  }
  const widths = (lines[0] as string[]).map((_, i) => Math.max(...lines.map((l) => (l[i] as string).length)));
  console.log();
  for (const [i, l] of lines.entries()) {
    console.log(l.map((c, j) => (j === 0 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number))).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
