/**
 * Throughput of the ways an upload's digest can be computed, 1 GiB each:
 *   - node:crypto in memory (the ceiling),
 *   - the native resumable hasher in memory,
 *   - the native hasher with a state export + import after every 16 MiB chunk (what a chunked
 *     upload spread over processes pays),
 *   - the fallback: re-hashing a 1 GiB file from offset 0 through a read stream.
 *
 * Each method runs `reps` times, interleaved. The table shows wall-clock MB/s (best and median
 * run) and MB per CPU-second of the process (best run): on a shared, busy machine the CPU-time
 * figure is the steadier way to compare methods.
 *
 * Run: node --import tsx bench/hashing.ts [GiB] [reps]
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createHasher, nativeHashStateAvailable, resumeHasher } from '../src/digest/resumable.js';
import type { Algorithm } from '../src/digest/digest.js';

const CHUNK = 16 * 1024 * 1024;
const gib = Number(process.argv[2] ?? '1');
const reps = Math.max(1, Number(process.argv[3] ?? '3'));
const TOTAL = Math.round(gib * 1024 * 1024 * 1024 / CHUNK) * CHUNK;
const chunks = TOTAL / CHUNK;
const block = randomBytes(CHUNK);

interface Method {
  name: string;
  run: () => Promise<string> | string;
  seconds: number[];
  cpuSeconds: number[];
}

async function time(m: Method, want: string | undefined): Promise<string> {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const digest = await m.run();
  m.seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
  const used = process.cpuUsage(cpu);
  m.cpuSeconds.push((used.user + used.system) / 1e6);
  if (want !== undefined && digest !== want) throw new Error(`${m.name}: digest mismatch ${digest} != ${want}`);
  return digest;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function nodeCrypto(alg: Algorithm): string {
  const h = createHash(alg);
  for (let i = 0; i < chunks; i++) h.update(block);
  return `${alg}:${h.digest('hex')}`;
}

function native(alg: Algorithm): string {
  const h = createHasher(alg);
  for (let i = 0; i < chunks; i++) h.update(block);
  return h.digest();
}

function nativeWithStates(alg: Algorithm): string {
  let h = createHasher(alg);
  for (let i = 0; i < chunks; i++) {
    h.update(block);
    h = resumeHasher(alg, h.exportState()!);
  }
  return h.digest();
}

async function rehashFile(alg: Algorithm, file: string): Promise<string> {
  const h = createHash(alg);
  for await (const piece of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(piece as Buffer);
  return `${alg}:${h.digest('hex')}`;
}

async function writeTestFile(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < chunks; i++) {
    if (!out.write(block)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  if (!nativeHashStateAvailable) {
    console.error('native addon not loaded (build/Release/berth_sha.node); run `npx node-gyp rebuild`');
    process.exit(1);
  }
  const dir = await mkdtemp(join(tmpdir(), 'berth-hashing-bench-'));
  const file = join(dir, 'blob');
  try {
    await writeTestFile(file);
    const rows: string[][] = [];
    const mb = TOTAL / 1e6;
    for (const alg of ['sha256', 'sha512'] as const) {
      // Warm up each path once so JIT and first-touch costs stay out of the numbers.
      createHash(alg).update(block).digest();
      createHasher(alg).update(block);

      const methods: Method[] = [
        { name: 'node:crypto, in memory', run: () => nodeCrypto(alg), seconds: [], cpuSeconds: [] },
        { name: 'native resumable, in memory', run: () => native(alg), seconds: [], cpuSeconds: [] },
        { name: 'native + export/import every 16 MiB', run: () => nativeWithStates(alg), seconds: [], cpuSeconds: [] },
        { name: 're-hash file from 0 (node:crypto, read stream)', run: () => rehashFile(alg, file), seconds: [], cpuSeconds: [] },
      ];
      let want: string | undefined;
      for (let r = 0; r < reps; r++) {
        for (const m of methods) want = await time(m, want);
      }
      for (const m of methods) {
        const best = Math.min(...m.seconds);
        const bestCpu = Math.min(...m.cpuSeconds);
        rows.push([alg, m.name, (mb / best).toFixed(0), (mb / median(m.seconds)).toFixed(0), (mb / bestCpu).toFixed(0)]);
      }
    }

    const header = ['alg', 'method', 'best MB/s', 'median MB/s', 'MB/CPU-s'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((b) => b[i]!.length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
    console.log(
      `${(TOTAL / 2 ** 30).toFixed(2)} GiB per run, ${reps} runs each, ${CHUNK / 2 ** 20} MiB chunks, MB = 10^6 bytes; ` +
        'the file re-hash reads from the page cache',
    );
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const b of rows) console.log(line(b));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
