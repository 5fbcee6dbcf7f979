/**
 * The behaviour every StorageDriver must show, as node:test cases: a driver's test file calls
 * `runDriverSuite` once with a fresh, empty namespace. Each case works under its own prefix and
 * removes what it wrote; after each case a hook walks the namespace and fails the case if anything
 * is left (then clears it, so one failure does not cascade into the next cases).
 */
import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { FileInfo, StorageDriver } from '../driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError } from '../errors.js';

export interface DriverSuiteOptions {
  /** Bytes for the streamed round trip (default 256 MiB). */
  largeSize?: number;
  /** Whether the driver hands out redirect URLs (default false: redirectURL must resolve undefined). */
  redirects?: boolean;
}

export interface DriverUnderTest {
  driver: StorageDriver;
  teardown?: () => Promise<void>;
}

const MiB = 1 << 20;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const notFound = (p: Promise<unknown>, msg?: string) => assert.rejects(p, PathNotFoundError, msg);

/** Up to `limit` bytes of a stream (all of it by default); leaving the loop early releases the stream. */
async function readAll(stream: Readable, limit = Infinity): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    parts.push(chunk);
    if ((got += chunk.length) >= limit) break;
  }
  return Buffer.concat(parts).subarray(0, limit);
}

/**
 * A reproducible byte stream of any length that is never held whole: 1 MiB of seeded noise, each
 * successive MiB rotated by a different amount, so misplaced, repeated or dropped blocks and
 * off-by-n offsets all change the bytes.
 */
function pattern(seed: number) {
  const base = createHash('shake256', { outputLength: MiB }).update(`berth-driver-suite-${seed}`).digest();
  /** Fill `dst` with the stream's bytes from position `pos`. */
  const fill = (dst: Buffer, pos: number): Buffer => {
    for (let done = 0; done < dst.length; ) {
      const inBlock = (pos + done) % MiB;
      const src = (inBlock + Math.floor((pos + done) / MiB) * 4099) % MiB;
      const n = Math.min(dst.length - done, MiB - inBlock, MiB - src);
      done += base.copy(dst, done, src, src + n);
    }
    return dst;
  };
  return { fill, bytes: (pos: number, len: number) => fill(Buffer.allocUnsafe(len), pos) };
}

type Call = [method: string, run: () => Promise<unknown>];

/** One call of every driver method: `file` is read, written, moved to `to` and deleted; `dir` is listed and walked. */
function everyMethod(d: StorageDriver, file: string, dir: string, to: string, signal?: AbortSignal): Call[] {
  const o = { signal };
  return [
    ['getContent', () => d.getContent(file, o)],
    ['putContent', () => d.putContent(file, 'x', o)],
    ['reader', () => d.reader(file, 0, o)],
    ['writer', () => d.writer(file, o)],
    ['append writer', () => d.writer(file, { append: true, signal })],
    ['stat', () => d.stat(file, o)],
    ['list', () => d.list(dir, o)],
    ['move', () => d.move(file, to, o)],
    ['delete', () => d.delete(file, o)],
    ['walk', () => d.walk(dir, () => undefined, o)],
    ['redirectURL', () => d.redirectURL(file, { method: 'GET', signal })],
  ];
}

const BAD_PATHS = ['', 'relative', '/a/../b', '/a/./b', '/..', '/a//b', '//', '/a/', '/a b', '/caf\u00e9', '/\u2024\u2024', '/a\\b', '/%2e%2e', '/a\u0000b'];

export function runDriverSuite(name: string, setup: () => Promise<DriverUnderTest>, options: DriverSuiteOptions = {}): void {
  const largeSize = options.largeSize ?? 256 * MiB;
  let d!: StorageDriver;
  let teardown: (() => Promise<void>) | undefined;
  let seq = 0;
  const prefix = () => `/t${++seq}-${randomBytes(4).toString('hex')}`;
  const text = async (path: string): Promise<string> => (await d.getContent(path)).toString();
  /** Write `chunks` through a new writer, then end it with `end`. */
  const write = async (path: string, chunks: (Uint8Array | string)[], end: 'commit' | 'close' | 'cancel' = 'commit', append = false) => {
    const w = await d.writer(path, { append });
    for (const chunk of chunks) await w.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    await w[end]();
    return w;
  };

  describe(`storage driver suite: ${name}`, () => {
    before(async () => void ({ driver: d, teardown } = await setup()));
    after(async () => teardown?.());
    afterEach(async () => {
      const left: string[] = [];
      await d.walk('/', (fi) => {
        left.push(fi.path);
        return 'skip';
      });
      for (const path of left) await d.delete(path).catch(() => {});
      assert.deepEqual(left, [], 'the case left content behind');
    });

    it('round-trips small content (empty, one byte, binary, text); putContent replaces', async () => {
      const p = prefix();
      const binary = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) & 0xff));
      const cases: [string, Uint8Array | string, Buffer][] = [
        ['empty', new Uint8Array(0), Buffer.alloc(0)],
        ['one', Buffer.from([0]), Buffer.from([0])],
        ['binary', new Uint8Array(binary), binary],
        ['text', 'h\u00e9llo \u2603', Buffer.from('h\u00e9llo \u2603', 'utf8')],
      ];
      for (const [file, content, want] of cases) {
        await d.putContent(`${p}/${file}`, content);
        assert.deepEqual(await d.getContent(`${p}/${file}`), want, file);
        assert.equal((await d.stat(`${p}/${file}`)).size, want.length, file);
        assert.deepEqual(await readAll(await d.reader(`${p}/${file}`, 0)), want, file);
      }
      await notFound(d.getContent(`${p}/missing`));
      await notFound(d.getContent(p), 'getContent of a directory');
      // Replacing: shorter, then longer.
      await d.putContent(`${p}/f`, 'first, and long');
      await d.putContent(`${p}/f`, 'second');
      assert.equal(await text(`${p}/f`), 'second');
      assert.equal((await d.stat(`${p}/f`)).size, 6);
      await d.putContent(`${p}/f`, Buffer.alloc(5000, 1));
      assert.deepEqual(await d.getContent(`${p}/f`), Buffer.alloc(5000, 1));
      await d.delete(p);
    });

    it('putContent is atomic under concurrent overwrites and reads', async () => {
      const path = `${prefix()}/f`;
      const size = 256 * 1024;
      const versions = [1, 2, 3, 4].map((k) => Buffer.alloc(size, k));
      await d.putContent(path, versions[0] as Buffer);
      let writing = true;
      let reads = 0;
      const check = (b: Buffer) => {
        assert.equal(b.length, size, 'a read saw a partial write');
        assert.ok(b.equals(versions[(b[0] as number) - 1] ?? Buffer.alloc(0)), 'a read saw a mix of two writes');
        reads++;
      };
      const readers = [0, 1, 2].map(async (r) => {
        while (writing) check(r === 2 ? await readAll(await d.reader(path, 0)) : await d.getContent(path));
      });
      const writers = versions.map(async (v) => {
        for (let round = 0; round < 6; round++) await d.putContent(path, v);
      });
      await Promise.all(writers).finally(() => (writing = false));
      await Promise.all(readers);
      check(await d.getContent(path));
      assert.ok(reads > 1);
      await d.delete(path);
    });

    it(`streams ${largeSize} bytes through writer and reader (sha256 compared while streaming)`, async (t) => {
      const path = `${prefix()}/large`;
      const gen = pattern(0x5eed);
      // Mostly big chunks, with odd small ones to exercise batching and unaligned offsets.
      const sizes = [MiB, 1, 65_536, MiB - 3, 4093, MiB, 333_333, 17];
      const scratch = Buffer.allocUnsafe(MiB);
      const rss = () => process.memoryUsage.rss();
      const rssBefore = rss();
      let peak = rssBefore;
      const sent = createHash('sha256');
      const t0 = performance.now();
      const w = await d.writer(path);
      for (let pos = 0, i = 0; pos < largeSize; i++) {
        const chunk = gen.fill(scratch.subarray(0, Math.min(largeSize - pos, sizes[i % sizes.length] as number)), pos);
        sent.update(chunk);
        await w.write(chunk); // scratch is refilled next round: the driver must not keep a reference
        pos += chunk.length;
        if (i % 64 === 0) peak = Math.max(peak, rss());
      }
      assert.equal(w.size, largeSize);
      await w.commit();
      const t1 = performance.now();
      assert.equal((await d.stat(path)).size, largeSize);
      const received = createHash('sha256');
      let got = 0;
      let n = 0;
      for await (const chunk of await d.reader(path, 0)) {
        received.update(chunk as Buffer);
        got += (chunk as Buffer).length;
        if (++n % 64 === 0) peak = Math.max(peak, rss());
      }
      const t2 = performance.now();
      assert.equal(got, largeSize);
      assert.equal(received.digest('hex'), sent.digest('hex'));
      const mid = Math.floor(largeSize / 2) + 3;
      const window = Math.min(4096, largeSize - mid);
      if (window > 0) assert.deepEqual(await readAll(await d.reader(path, mid), window), gen.bytes(mid, window));
      const ms = (a: number, b: number) => `${(b - a).toFixed(0)} ms (${(largeSize / 1e3 / (b - a)).toFixed(0)} MB/s)`;
      const maxRSS = (process.resourceUsage().maxRSS / 1024).toFixed(0);
      t.diagnostic(`${name}: ${largeSize} B write+commit ${ms(t0, t1)}, read ${ms(t1, t2)}, rss ${(rssBefore / MiB).toFixed(0)} MiB before, ${(peak / MiB).toFixed(0)} MiB peak, maxRSS ${maxRSS} MiB`);
      await d.delete(path.slice(0, path.lastIndexOf('/')));
    });

    it('reads from offsets; missing paths and bad offsets are typed errors', async () => {
      const p = prefix();
      const content = pattern(3).bytes(0, 1000);
      await d.putContent(`${p}/f`, content);
      for (const offset of [0, 1, 500, 999]) {
        assert.deepEqual(await readAll(await d.reader(`${p}/f`, offset)), content.subarray(offset), `offset ${offset}`);
      }
      const probe = await d.reader(`${p}/f`, 0);
      assert.equal(probe.readableObjectMode, false, 'readers are byte streams');
      probe.destroy();
      for (const offset of [1000, 1001, 1 << 30]) assert.equal((await readAll(await d.reader(`${p}/f`, offset))).length, 0);
      for (const offset of [-1, 1.5, Number.NaN]) await assert.rejects(d.reader(`${p}/f`, offset), InvalidOffsetError);
      await notFound(d.reader(`${p}/missing`, 0));
      await notFound(d.reader(`${p}/f/below-a-file`, 0));
      await notFound(d.reader(p, 0), 'reader of a directory');
      await d.delete(p);
    });

    it('writer: close, then append from a new writer; append to missing; truncate', async () => {
      const p = prefix();
      const w1 = await d.writer(`${p}/f`);
      assert.equal(w1.size, 0);
      await w1.write(Buffer.from('hello '));
      assert.equal(w1.size, 6);
      await w1.close();
      assert.equal((await d.stat(`${p}/f`)).size, 6);
      assert.equal(await text(`${p}/f`), 'hello ');
      const w2 = await d.writer(`${p}/f`, { append: true });
      assert.equal(w2.size, 6);
      for (const chunk of ['wor', '', 'ld']) await w2.write(Buffer.from(chunk));
      assert.equal(w2.size, 11);
      await w2.close();
      const w3 = await write(`${p}/f`, ['!'], 'commit', true);
      assert.equal(await text(`${p}/f`), 'hello world!');
      await assert.rejects(w3.write(Buffer.from('late')), 'write after commit');
      await notFound(d.writer(`${p}/missing`, { append: true }));
      await notFound(d.writer(p, { append: true }), 'append to a directory');
      assert.equal((await write(`${p}/f`, ['x'])).size, 1, 'a writer without append starts over');
      assert.equal(await text(`${p}/f`), 'x');
      await d.delete(p);
    });

    it('writer: cancel discards this and earlier writers\u2019 content and is idempotent', async () => {
      const p = prefix();
      const w1 = await write(`${p}/f`, [Buffer.alloc(3 * MiB + 1, 9)], 'cancel');
      await w1.cancel();
      await notFound(d.stat(`${p}/f`));
      await assert.rejects(w1.write(Buffer.from('x')), 'write after cancel');
      await write(`${p}/f`, ['kept for a while'], 'close');
      await write(`${p}/f`, [' and more'], 'cancel', true);
      await notFound(d.getContent(`${p}/f`));
      await notFound(d.list(p), 'an emptied directory disappears');
    });

    it('writer: commit persists many small writes', async () => {
      const p = prefix();
      const w = await d.writer(`${p}/f`);
      const want = pattern(11).bytes(0, 300_000);
      for (let at = 0; at < want.length; at += 1000) await w.write(want.subarray(at, at + 1000));
      assert.equal(w.size, want.length);
      await w.commit();
      assert.equal(sha256(await d.getContent(`${p}/f`)), sha256(want));
      await assert.rejects(w.commit(), 'commit twice');
      await d.delete(p);
    });

    it('concurrent writers to different paths', async () => {
      const p = prefix();
      const wanted = Array.from({ length: 8 }, (_, k) => pattern(100 + k).bytes(k * 977, 50_000 + k * 10_007));
      await Promise.all(
        wanted.map(async (want, k) => {
          const w = await d.writer(`${p}/w${k}`);
          for (let at = 0, step = 1 + k * 3001; at < want.length; at += step) {
            await w.write(want.subarray(at, at + step));
            await new Promise((r) => setImmediate(r));
          }
          await w.commit();
        }),
      );
      for (const [k, want] of wanted.entries()) assert.equal(sha256(await d.getContent(`${p}/w${k}`)), sha256(want), `w${k}`);
      await d.delete(p);
    });

    it('several concurrent readers of one path', async () => {
      const p = prefix();
      const content = pattern(5).bytes(0, 3 * MiB + 5);
      await write(`${p}/f`, [content]);
      const offsets = [0, 1, MiB, 2 * MiB + 1, content.length - 1, content.length];
      const streams = await Promise.all(offsets.map((o) => d.reader(`${p}/f`, o)));
      const results = await Promise.all(streams.map((s) => readAll(s)));
      for (const [i, o] of offsets.entries()) assert.ok((results[i] as Buffer).equals(content.subarray(o)), `offset ${o}`);
      await d.delete(p);
    });

    it('list: sorted direct children, directories included, missing is PathNotFoundError', async () => {
      assert.deepEqual(await d.list('/'), [], 'the root lists empty');
      const p = prefix();
      for (const f of ['bc', 'b/c', 'b/d/e', 'b-c', 'a', '0', 'B']) await d.putContent(`${p}/${f}`, f);
      assert.deepEqual(await d.list(p), ['0', 'B', 'a', 'b', 'b-c', 'bc'].map((f) => `${p}/${f}`));
      assert.deepEqual(await d.list(`${p}/b`), [`${p}/b/c`, `${p}/b/d`]);
      assert.deepEqual(await d.list('/'), [p]);
      await notFound(d.list(`${p}/nope`));
      await notFound(d.list(`${p}/a`), 'list of a file');
      await d.delete(p);
    });

    it('stat: files, directories, root, missing', async () => {
      const p = prefix();
      const before = Date.now();
      await d.putContent(`${p}/dir/f`, 'abc');
      const file = await d.stat(`${p}/dir/f`);
      assert.deepEqual([file.path, file.size, file.isDir], [`${p}/dir/f`, 3, false]);
      assert.ok(file.modTime instanceof Date && Math.abs(file.modTime.getTime() - before) < 60_000);
      const dir = await d.stat(`${p}/dir`);
      assert.deepEqual([dir.path, dir.size, dir.isDir], [`${p}/dir`, 0, true]);
      assert.equal((await d.stat('/')).isDir, true);
      await notFound(d.stat(`${p}/dir/g`));
      await notFound(d.stat(`${p}/dir/f/below`));
      await d.delete(p);
    });

    it('move: renames, replaces, creates parents, leaves no source', async () => {
      const p = prefix();
      await d.putContent(`${p}/src/a`, 'A');
      await d.move(`${p}/src/a`, `${p}/deep/er/b`);
      assert.equal(await text(`${p}/deep/er/b`), 'A');
      await notFound(d.stat(`${p}/src/a`));
      await notFound(d.stat(`${p}/src`), 'the emptied source directory disappears');
      await d.putContent(`${p}/c`, 'C, longer');
      await d.move(`${p}/c`, `${p}/deep/er/b`);
      assert.equal(await text(`${p}/deep/er/b`), 'C, longer');
      await notFound(d.getContent(`${p}/c`));
      await notFound(d.move(`${p}/missing`, `${p}/deep/er/b`));
      await notFound(d.move(`${p}/missing`, `${p}/new/x`));
      assert.equal(await text(`${p}/deep/er/b`), 'C, longer', 'a failed move leaves the target');
      await notFound(d.stat(`${p}/new`), 'a failed move creates no parents');
      await d.delete(p);
    });

    it('delete: a file, a tree (common-prefix siblings survive), missing', async () => {
      const p = prefix();
      for (const f of ['a/b/x', 'a/b/y/z', 'a/b-c', 'a/bc', 'a/b.d']) await d.putContent(`${p}/${f}`, f);
      await d.delete(`${p}/a/b/x`);
      await notFound(d.stat(`${p}/a/b/x`));
      assert.equal(await text(`${p}/a/b/y/z`), 'a/b/y/z');
      await d.delete(`${p}/a/b`);
      await notFound(d.stat(`${p}/a/b`));
      await notFound(d.stat(`${p}/a/b/y/z`));
      assert.deepEqual(await d.list(`${p}/a`), [`${p}/a/b-c`, `${p}/a/b.d`, `${p}/a/bc`]);
      await notFound(d.delete(`${p}/a/b`));
      await notFound(d.delete(`${p}/a/bc/under-a-file`));
      for (const f of ['a/b-c', 'a/b.d', 'a/bc']) await d.delete(`${p}/${f}`);
      await notFound(d.stat(p), 'directories vanish with their last file');
    });

    it('creating next to a concurrent delete or move out of the same directory succeeds', async () => {
      const p = prefix();
      for (let round = 0; round < 40; round++) {
        await d.putContent(`${p}/d/e/old`, 'old');
        const creations = async () => {
          // Vary the interleaving: start at once, after a few event-loop turns, or after a timer.
          if (round % 3 === 2) await new Promise((r) => setTimeout(r, 1));
          else for (let i = 0; i < round % 8; i++) await new Promise((r) => setImmediate(r));
          await d.putContent(`${p}/d/e/put`, 'put');
          await write(`${p}/d/e/w`, ['w']);
        };
        const removal = round % 2 ? d.delete(`${p}/d/e/old`) : d.move(`${p}/d/e/old`, `${p}/moved`);
        await Promise.all([removal, creations()]);
        assert.deepEqual(await d.list(`${p}/d/e`), [`${p}/d/e/put`, `${p}/d/e/w`], `round ${round}`);
        await d.delete(`${p}/d`);
      }
      await d.delete(p);
    });

    it('walk: depth-first lexical order, skip, stop, missing', async () => {
      const p = prefix();
      const files = ['c', 'a/bc', 'a/b/y/z', 'a/b-c', 'a/b/x'];
      for (const f of files) await d.putContent(`${p}/${f}`, f);
      const walk = async (from: string, decide: (fi: FileInfo) => 'skip' | 'stop' | undefined = () => undefined) => {
        const seen: string[] = [];
        await d.walk(from, async (fi) => {
          seen.push(fi.path.slice(p.length + 1) + (fi.isDir ? '/' : ''));
          if (!fi.isDir) assert.equal(fi.size, fi.path.length - p.length - 1);
          return decide(fi);
        });
        return seen;
      };
      assert.deepEqual(await walk(p), ['a/', 'a/b/', 'a/b/x', 'a/b/y/', 'a/b/y/z', 'a/b-c', 'a/bc', 'c']);
      assert.deepEqual(await walk(p, (fi) => (fi.path === `${p}/a/b` ? 'skip' : undefined)), ['a/', 'a/b/', 'a/b-c', 'a/bc', 'c']);
      assert.deepEqual(await walk(p, (fi) => (fi.path === `${p}/a/b/x` ? 'stop' : undefined)), ['a/', 'a/b/', 'a/b/x']);
      assert.deepEqual(await walk(`${p}/a/b`), ['a/b/x', 'a/b/y/', 'a/b/y/z']);
      await notFound(d.walk(`${p}/nope`, () => undefined));
      await d.delete(p);
    });

    it('rejects invalid and hostile paths in every method, before touching storage', async () => {
      const p = prefix();
      const ok = `${p}/ok`;
      await d.putContent(ok, 'ok');
      const calls = (bad: string) => [...everyMethod(d, bad, bad, `${p}/moved`), ['move onto', () => d.move(ok, bad)] as Call];
      for (const bad of BAD_PATHS) {
        for (const [method, call] of calls(bad)) await assert.rejects(call(), InvalidPathError, `${method}(${JSON.stringify(bad)})`);
      }
      const rootIsNoFile = calls('/').filter(([m]) => !['stat', 'list', 'delete', 'walk'].includes(m));
      for (const [method, call] of rootIsNoFile) await assert.rejects(call(), InvalidPathError, `${method}("/")`);
      assert.equal(await text(ok), 'ok');
      assert.deepEqual(await d.list(p), [ok]);
      await d.delete(p);
    });

    it('rejects with the abort reason when the signal is already aborted', async () => {
      const p = prefix();
      await d.putContent(`${p}/f`, 'content');
      const reason = new Error('caller gave up');
      const signal = AbortSignal.abort(reason);
      const isReason = (e: unknown) => e === reason;
      // Calls that would change `${p}/f` (putContent, writer, move, delete) must leave it as it was.
      const calls = everyMethod(d, `${p}/f`, p, `${p}/moved`, signal);
      for (const [method, call] of calls) await assert.rejects(call(), isReason, method);
      const w = await d.writer(`${p}/w`);
      await assert.rejects(w.write(Buffer.from('x'), { signal }), isReason, 'FileWriter.write');
      await assert.rejects(w.commit({ signal }), isReason, 'FileWriter.commit');
      await assert.rejects(w.close({ signal }), isReason, 'FileWriter.close');
      await assert.rejects(w.cancel({ signal }), isReason, 'FileWriter.cancel');
      await w.cancel();
      assert.deepEqual(await d.list(p), [`${p}/f`], 'aborted calls changed nothing');
      assert.equal(await text(`${p}/f`), 'content');
      await d.delete(p);
    });

    it(options.redirects ? 'redirectURL gives a URL' : 'redirectURL declines with undefined', async () => {
      const path = `${prefix()}/f`;
      await d.putContent(path, 'x');
      for (const method of ['GET', 'HEAD'] as const) {
        const url = await d.redirectURL(path, { method });
        if (options.redirects) assert.doesNotThrow(() => new URL(url ?? ''));
        else assert.equal(url, undefined);
      }
      await d.delete(path);
    });
  });
}
