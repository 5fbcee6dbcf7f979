import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Algorithm } from '../../src/digest/digest.js';
import {
  HashStateError,
  createHasher,
  createNonResumableHasher,
  hashStateOffset,
  nativeHashStateAvailable,
  resumeHasher,
} from '../../src/digest/resumable.js';

const ALGS: Algorithm[] = ['sha256', 'sha512'];
const BLOCK: Record<Algorithm, number> = { sha256: 64, sha512: 128 };
const STATE_SIZE: Record<Algorithm, number> = { sha256: 108, sha512: 204 };
const WORD: Record<Algorithm, number> = { sha256: 4, sha512: 8 };
const MAGIC: Record<Algorithm, string> = { sha256: 'sha\x03', sha512: 'sha\x07' };

const SIZES = [
  0, 1, 2, 31, 32, 33, 55, 56, 57, 63, 64, 65, 111, 112, 113, 119, 120, 127, 128, 129, 191, 192, 193, 255, 256, 257,
  1000, 4095, 4096, 4097, 65_535, 65_536, 65_537,
];

function ref(alg: Algorithm, ...parts: Uint8Array[]): string {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return `${alg}:${h.digest('hex')}`;
}

/** Deterministic pseudo-random generator so failures can be reproduced from the seed. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an exception');
}

function assertMalformed(alg: Algorithm, state: Uint8Array, pattern?: RegExp): void {
  const err = errorOf(() => resumeHasher(alg, state as Buffer));
  assert.ok(err instanceof HashStateError, `expected HashStateError, got ${String(err)}`);
  assert.equal(err.kind, 'malformed');
  if (pattern) assert.match(err.message, pattern);
}

/** Decodes the Go MarshalBinary layout by hand, independently of the addon. */
function decodeState(alg: Algorithm, state: Buffer): { h: bigint[]; block: Buffer; length: bigint } {
  const w = WORD[alg];
  const h: bigint[] = [];
  for (let i = 0; i < 8; i++) {
    h.push(w === 4 ? BigInt(state.readUInt32BE(4 + i * 4)) : state.readBigUInt64BE(4 + i * 8));
  }
  const block = state.subarray(4 + 8 * w, 4 + 8 * w + BLOCK[alg]);
  return { h, block, length: state.readBigUInt64BE(state.length - 8) };
}

describe('resumable hasher', () => {
  it('loads the native addon in this checkout (built by npm ci / node-gyp rebuild)', () => {
    assert.equal(nativeHashStateAvailable, true, 'build/Release/berth_sha.node missing: run `npx node-gyp rebuild` or `npm ci`');
  });

  for (const alg of ALGS) {
    describe(alg, () => {
      it('matches node:crypto for sizes around block and padding boundaries', () => {
        for (const size of SIZES) {
          const data = randomBytes(size);
          const h = createHasher(alg);
          h.update(data);
          assert.equal(h.digest(), ref(alg, data), `size ${size}`);
          assert.equal(h.offset, size);
          // Byte by byte for the small ones: every boundary gets crossed mid-update.
          if (size <= 300) {
            const b = createHasher(alg);
            for (let i = 0; i < size; i++) b.update(data.subarray(i, i + 1));
            assert.equal(b.digest(), ref(alg, data), `size ${size}, bytewise`);
          }
        }
      });

      it('hashes empty input and ignores empty updates', () => {
        const h = createHasher(alg);
        assert.equal(h.digest(), ref(alg));
        h.update(new Uint8Array(0));
        h.update(Buffer.alloc(0));
        assert.equal(h.digest(), ref(alg));
        assert.equal(h.offset, 0);
      });

      it('exports states in Go MarshalBinary layout', () => {
        for (const size of SIZES) {
          const data = randomBytes(size);
          const h = createHasher(alg);
          h.update(data);
          const state = h.exportState();
          assert.ok(state);
          assert.equal(state.length, STATE_SIZE[alg], `size ${size}`);
          assert.equal(state.subarray(0, 4).toString('latin1'), MAGIC[alg]);
          const { block, length } = decodeState(alg, state);
          assert.equal(length, BigInt(size));
          const pending = size % BLOCK[alg];
          assert.deepEqual(block.subarray(0, pending), data.subarray(size - pending), `pending bytes at ${size}`);
          assert.ok(block.subarray(pending).every((b) => b === 0), `zero padding at ${size}`);
          assert.equal(hashStateOffset(alg, state), size);
        }
      });

      it('starts from the FIPS 180-4 initial hash values', () => {
        const { h, length } = decodeState(alg, createHasher(alg).exportState()!);
        assert.equal(length, 0n);
        const want =
          alg === 'sha256'
            ? [0x6a09e667n, 0xbb67ae85n, 0x3c6ef372n, 0xa54ff53an, 0x510e527fn, 0x9b05688cn, 0x1f83d9abn, 0x5be0cd19n]
            : [
                0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
                0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
              ];
        assert.deepEqual(h, want);
      });

      it('agrees with node:crypto at random split points', () => {
        const rand = rng(alg === 'sha256' ? 0x5eed : 0xbee5);
        for (let round = 0; round < 200; round++) {
          const data = randomBytes(rand(20_000));
          const h = createHasher(alg);
          let pos = 0;
          while (pos < data.length) {
            const n = Math.min(data.length - pos, rand(3) === 0 ? rand(300) : rand(5000));
            h.update(data.subarray(pos, pos + n));
            pos += n;
          }
          assert.equal(h.offset, data.length);
          assert.equal(h.digest(), ref(alg, data), `round ${round}, ${data.length} bytes`);
        }
      });

      it('handles many small updates', () => {
        const rand = rng(7);
        const data = randomBytes(300_000);
        const h = createHasher(alg);
        const n = createHash(alg);
        let pos = 0;
        let calls = 0;
        while (pos < data.length) {
          const len = Math.min(data.length - pos, rand(9)); // includes zero-length updates
          const piece = data.subarray(pos, pos + len);
          h.update(piece);
          n.update(piece);
          pos += len;
          calls++;
        }
        assert.ok(calls > 50_000);
        assert.equal(h.digest(), `${alg}:${n.digest('hex')}`);
      });

      it('accepts any Uint8Array view, including offset subarrays and non-Buffer arrays', () => {
        const backing = randomBytes(10_000);
        const view = new Uint8Array(backing.buffer, backing.byteOffset + 13, 5_001);
        const h = createHasher(alg);
        h.update(view);
        h.update(new Uint8Array([1, 2, 3]));
        assert.equal(h.digest(), ref(alg, view, new Uint8Array([1, 2, 3])));
        assert.throws(() => h.update('text' as unknown as Uint8Array), TypeError);
        assert.equal(h.offset, 5_004);
      });

      it('hashes 64 MiB like node:crypto, also after a mid-way resume', () => {
        const data = randomBytes(64 * 1024 * 1024);
        const rand = rng(64);
        const h = createHasher(alg);
        let pos = 0;
        let resumed = false;
        let hasher = h;
        while (pos < data.length) {
          const n = Math.min(data.length - pos, 1 + rand(3 * 1024 * 1024));
          hasher.update(data.subarray(pos, pos + n));
          pos += n;
          if (!resumed && pos > data.length / 2) {
            hasher = resumeHasher(alg, hasher.exportState()!);
            resumed = true;
          }
        }
        assert.equal(hasher.offset, data.length);
        assert.equal(hasher.digest(), ref(alg, data));
      });

      it('resumes from an exported state in a fresh hasher at random offsets', () => {
        const rand = rng(alg === 'sha256' ? 11 : 12);
        const data = randomBytes(200_000);
        const want = ref(alg, data);
        for (let round = 0; round < 100; round++) {
          const cut = round < SIZES.length ? Math.min(SIZES[round]!, data.length) : rand(data.length + 1);
          const a = createHasher(alg);
          a.update(data.subarray(0, cut));
          const state = a.exportState()!;
          // A copy, as if read back from storage by another process.
          const b = resumeHasher(alg, Buffer.from(state));
          assert.equal(b.offset, cut);
          assert.equal(b.algorithm, alg);
          assert.equal(b.digest(), ref(alg, data.subarray(0, cut)), `digest right after resume at ${cut}`);
          assert.deepEqual(b.exportState(), state, `state round-trips at ${cut}`);
          b.update(data.subarray(cut));
          assert.equal(b.digest(), want, `resume at ${cut}`);
          // The original keeps working independently of the resumed copy.
          a.update(data.subarray(cut));
          assert.equal(a.digest(), want);
          assert.deepEqual(a.exportState(), b.exportState());
        }
      });

      it('survives a chain of export/import after every chunk', () => {
        const rand = rng(99);
        const data = randomBytes(500_000);
        let h = createHasher(alg);
        let pos = 0;
        while (pos < data.length) {
          const n = Math.min(data.length - pos, rand(20_000));
          h.update(data.subarray(pos, pos + n));
          pos += n;
          h = resumeHasher(alg, h.exportState()!);
          assert.equal(h.offset, pos);
        }
        assert.equal(h.digest(), ref(alg, data));
      });

      it('allows digest() mid-way without disturbing the state', () => {
        const data = randomBytes(10_000);
        const h = createHasher(alg);
        const rand = rng(5);
        let pos = 0;
        while (pos < data.length) {
          const n = Math.min(data.length - pos, rand(700));
          h.update(data.subarray(pos, pos + n));
          pos += n;
          const before = h.exportState();
          assert.equal(h.digest(), ref(alg, data.subarray(0, pos)));
          assert.equal(h.digest(), ref(alg, data.subarray(0, pos)), 'twice in a row');
          assert.deepEqual(h.exportState(), before);
        }
        assert.equal(h.digest(), ref(alg, data));
      });

      it('ignores block bytes beyond the pending length, as Go does', () => {
        const data = randomBytes(1_000);
        const h = createHasher(alg);
        h.update(data);
        const state = Buffer.from(h.exportState()!);
        const pending = data.length % BLOCK[alg];
        const blockStart = 4 + 8 * WORD[alg];
        state.fill(0xff, blockStart + pending, blockStart + BLOCK[alg]);
        const r = resumeHasher(alg, state);
        assert.equal(r.digest(), ref(alg, data));
        assert.deepEqual(r.exportState(), h.exportState());
      });

      it('rejects malformed states with a clear error', () => {
        const good = (() => {
          const h = createHasher(alg);
          h.update(randomBytes(777));
          return h.exportState()!;
        })();
        assertMalformed(alg, Buffer.alloc(0), /too short/);
        assertMalformed(alg, Buffer.from('sha'), /too short/);
        assertMalformed(alg, Buffer.alloc(STATE_SIZE[alg]), /identifier/);
        assertMalformed(alg, Buffer.concat([Buffer.from('SHA'), good.subarray(3)]), /identifier/);
        assertMalformed(alg, good.subarray(0, good.length - 1), /size: \d+ bytes, expected/);
        assertMalformed(alg, Buffer.concat([good, Buffer.alloc(1)]), /size/);
        assertMalformed(alg, good.subarray(0, 4), /size/);
        // States for other members of the SHA-2 family are named.
        const other = alg === 'sha256' ? 'sha512' : 'sha256';
        const foreign = createHasher(other).exportState()!;
        assertMalformed(alg, foreign, new RegExp(`for ${other}, not ${alg}`));
        const sha224 = Buffer.from(good);
        sha224[3] = alg === 'sha256' ? 0x02 : 0x04;
        assertMalformed(alg, sha224, alg === 'sha256' ? /sha224/ : /sha384/);
        // A length we could not represent exactly as a JS number.
        const huge = Buffer.from(good);
        huge.writeBigUInt64BE(2n ** 60n, huge.length - 8);
        assertMalformed(alg, huge, /length/);
        assertMalformed(alg, 'sha\x03' as unknown as Buffer, /bytes/);
        // The good one still works after all that.
        assert.equal(resumeHasher(alg, good).offset, 777);
      });
    });
  }

  it('rejects unknown algorithms', () => {
    assert.throws(() => createHasher('md5' as Algorithm), TypeError);
    assert.throws(() => resumeHasher('sha384' as Algorithm, Buffer.alloc(108)), TypeError);
  });

  it('has a node:crypto hasher that hashes right and exports nothing', () => {
    for (const alg of ALGS) {
      const data = randomBytes(100_003);
      const h = createNonResumableHasher(alg);
      h.update(data.subarray(0, 50_000));
      assert.equal(h.digest(), ref(alg, data.subarray(0, 50_000)));
      h.update(data.subarray(50_000));
      assert.equal(h.digest(), ref(alg, data));
      assert.equal(h.offset, data.length);
      assert.equal(h.exportState(), undefined);
    }
  });

  it('falls back to node:crypto when the addon is disabled', async () => {
    const moduleUrl = new URL('../../src/digest/resumable.ts', import.meta.url).href;
    const script = `
      const m = await import(${JSON.stringify(moduleUrl)});
      const h = m.createHasher('sha256');
      h.update(Buffer.from('abc'));
      let resume;
      try { m.resumeHasher('sha256', Buffer.alloc(108)); } catch (e) { resume = e.kind; }
      const valid = Buffer.concat([Buffer.from('sha\\x03', 'latin1'), Buffer.alloc(104)]);
      try { m.resumeHasher('sha256', valid); } catch (e) { resume += '/' + e.kind; }
      console.log(JSON.stringify({ native: m.nativeHashStateAvailable, digest: h.digest(), state: h.exportState() ?? null, resume }));
    `;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { env: { ...process.env, BERTH_DISABLE_NATIVE_SHA: '1' } },
    );
    assert.equal(stderr, '', 'the fallback logs nothing');
    assert.deepEqual(JSON.parse(stdout), {
      native: false,
      digest: ref('sha256', Buffer.from('abc')),
      state: null,
      resume: 'malformed/unavailable',
    });
  });
});

/* ---------------------------------------------------------------------------------------
 * Interop with the reference implementation: Debian's docker-registry (CNCF distribution
 * 2.8) stores Go MarshalBinary states under _uploads/<id>/hashstates/sha256/<offset> while
 * a chunked upload is in progress. Ours must resume from them, and write the same bytes.
 * ------------------------------------------------------------------------------------- */

const REGISTRY_BIN = '/usr/bin/docker-registry';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('no port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

describe('interop with the reference registry (docker-registry)', () => {
  let dir = '';
  let base = '';
  let child: ChildProcess | undefined;
  let output = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-interop-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'root')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n');
    await writeFile(join(dir, 'config.yml'), config);
    child = spawn(REGISTRY_BIN, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited early:\n${output}`);
      try {
        const res = await fetch(`${base}/v2/`);
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`docker-registry did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('resumes from its hash states and exports byte-identical ones', async () => {
    const repo = 'berth/interop';
    // Deliberately not multiples of the 64-byte block.
    const sizes = [1000, 777, 65_537, 3, 4099, 250_001];
    const chunks = sizes.map((n) => randomBytes(n));
    const all = Buffer.concat(chunks);
    const want = ref('sha256', all);

    let res = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202, await res.text());
    let location = new URL(res.headers.get('location')!, base);
    const uuid = res.headers.get('docker-upload-uuid')!;
    assert.ok(uuid);

    let offset = 0;
    for (const chunk of chunks) {
      res = await fetch(location, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.length - 1}`,
        },
        body: chunk,
      });
      assert.equal(res.status, 202, await res.text());
      location = new URL(res.headers.get('location')!, base);
      offset += chunk.length;
    }

    const statesDir = join(dir, 'root', 'docker', 'registry', 'v2', 'repositories', repo, '_uploads', uuid, 'hashstates', 'sha256');
    const offsets = (await readdir(statesDir)).map(Number).sort((a, b) => a - b);
    let expected = 0;
    const wantOffsets = [0];
    for (const n of sizes) wantOffsets.push((expected += n));
    for (const o of wantOffsets) assert.ok(offsets.includes(o), `reference wrote a state at ${o} (has ${offsets.join(', ')})`);

    for (const o of offsets) {
      const theirs = await readFile(join(statesDir, String(o)));
      assert.equal(theirs.length, 108);
      // Continue their hash with the rest of the blob.
      const resumed = resumeHasher('sha256', theirs);
      assert.equal(resumed.offset, o);
      resumed.update(all.subarray(o));
      assert.equal(resumed.digest(), want, `resumed from the reference state at ${o}`);
      // Our state for the same prefix is the same file.
      const ours = createHasher('sha256');
      ours.update(all.subarray(0, o));
      assert.deepEqual(ours.exportState(), theirs, `state bytes at ${o}`);
    }

    // And the reference agrees on the final digest.
    const done = new URL(location);
    done.searchParams.set('digest', want);
    res = await fetch(done, { method: 'PUT', headers: { 'content-length': '0' } });
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('docker-content-digest'), want);
  });

  /**
   * Uploads `data` in one PATCH, replaces the reference's saved states with a single state of
   * ours covering `covered` (same length as `data`), then completes with `digest`. The
   * reference only loads a state whose offset equals the upload size; without one it would
   * re-read the whole data file instead.
   */
  async function completeFromOurState(repo: string, data: Buffer, covered: Buffer, digest: string): Promise<Response> {
    assert.equal(covered.length, data.length);
    let res = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(res.status, 202);
    let location = new URL(res.headers.get('location')!, base);
    const uuid = res.headers.get('docker-upload-uuid')!;
    res = await fetch(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(data) });
    assert.equal(res.status, 202, await res.text());
    location = new URL(res.headers.get('location')!, base);

    const statesDir = join(dir, 'root', 'docker', 'registry', 'v2', 'repositories', repo, '_uploads', uuid, 'hashstates', 'sha256');
    for (const f of await readdir(statesDir)) await rm(join(statesDir, f));
    const ours = createHasher('sha256');
    ours.update(covered);
    await writeFile(join(statesDir, String(data.length)), ours.exportState()!);

    const done = new URL(location);
    done.searchParams.set('digest', digest);
    return fetch(done, { method: 'PUT', headers: { 'content-length': '0' } });
  }

  it('completes an upload from a state we wrote', async () => {
    const data = randomBytes(8_333);
    const res = await completeFromOurState('berth/interop2', data, data, ref('sha256', data));
    assert.equal(res.status, 201, await res.text());
  });

  it('really loads our state rather than re-reading the data (poisoned state)', async () => {
    // Our state hashes different bytes than were uploaded. If the reference takes its digest
    // from our state, it accepts the digest of those other bytes — proof it parsed our file.
    const data = randomBytes(8_333);
    const other = randomBytes(8_333);
    const res = await completeFromOurState('berth/interop3', data, other, ref('sha256', other));
    assert.equal(res.status, 201, await res.text());
    assert.equal(res.headers.get('docker-content-digest'), ref('sha256', other));
  });
});
