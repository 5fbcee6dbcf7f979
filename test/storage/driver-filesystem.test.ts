import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PathNotFoundError } from '../../src/storage/driver/errors.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { runDriverSuite } from '../../src/storage/driver/testsuite/driver-suite.js';

/** Everything under a host directory, temp files and empty directories included. */
async function hostTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

runDriverSuite('filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'berth-fs-driver-'));
  return {
    driver: new FilesystemDriver({ rootdirectory: root }),
    teardown: async () => {
      // The suite's own check walks through the driver; this one also sees what the driver hides.
      const left = await hostTree(root).catch(() => []);
      await rm(root, { recursive: true, force: true });
      assert.deepEqual(left, [], 'temp files or empty directories left on disk');
    },
  };
});

describe('filesystem driver specifics', () => {
  let root: string;
  let driver: FilesystemDriver;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-fs-driver-'));
    driver = new FilesystemDriver({ rootdirectory: join(root, 'not', 'yet', 'there') });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates the root directory lazily', async () => {
    assert.deepEqual(await driver.list('/'), []);
    assert.equal((await driver.stat('/')).isDir, true);
    await driver.walk('/', () => assert.fail('nothing to visit'));
    await driver.putContent('/x/y', 'y');
    assert.deepEqual(await driver.list('/'), ['/x']);
    await driver.delete('/x');
    assert.deepEqual(await hostTree(join(root, 'not', 'yet', 'there')), []);
  });

  it('hides temp files left by an interrupted putContent', async () => {
    const host = join(root, 'not', 'yet', 'there');
    await driver.putContent('/repo/blob', 'real');
    // What a crash between writing the temp file and renaming it leaves behind.
    await writeFile(join(host, 'repo', 'blob~tmp-0123456789abcdef'), 'half');
    await writeFile(join(host, 'repo', 'other~tmp-feedfacecafebeef'), 'half');
    assert.deepEqual(await driver.list('/repo'), ['/repo/blob']);
    const seen: string[] = [];
    await driver.walk('/', (fi) => void seen.push(fi.path));
    assert.deepEqual(seen, ['/repo', '/repo/blob']);
    assert.equal((await driver.stat('/repo/blob')).size, 4);
    assert.equal((await driver.getContent('/repo/blob')).toString(), 'real');
    await assert.rejects(driver.stat('/repo/other'), PathNotFoundError);
    // A later putContent of the same name is unaffected, and delete takes the debris with it.
    await driver.putContent('/repo/blob', 'newer');
    assert.equal((await driver.getContent('/repo/blob')).toString(), 'newer');
    await driver.delete('/repo');
    assert.deepEqual(await hostTree(host), []);
  });
  for (const directWrites of [true, false]) it(`keeps bytes exact across writers that start and end off block boundaries (directwrites ${directWrites})`, async () => {
    const driver = new FilesystemDriver({ rootdirectory: join(root, `odd-${directWrites}`), directWrites });
    // Whole blocks go to disk with O_DIRECT, heads and tails through the page cache: appends at
    // odd offsets, in odd-sized chunks, must still read back byte for byte.
    const expected: Buffer[] = [];
    const piece = (n: number, seed: number) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
      expected.push(b);
      return b;
    };
    const plan = [
      [3 * 1048576 + 123, 65536, 1],
      [5 * 1048576 + 7, 100_003, 2],
      [4096, 4096, 3],
      [1, 1, 4],
      [2 * 1048576, 1048576, 5],
    ] as const;
    for (const [i, [size, chunk, seed]] of plan.entries()) {
      const w = await driver.writer('/odd/data', { append: i > 0 });
      const data = piece(size, seed);
      for (let off = 0; off < size; off += chunk) await w.write(data.subarray(off, Math.min(size, off + chunk)));
      await (i === plan.length - 1 ? w.commit() : w.close());
    }
    const want = Buffer.concat(expected);
    assert.equal((await driver.stat('/odd/data')).size, want.length);
    const parts: Buffer[] = [];
    for await (const c of await driver.reader('/odd/data', 0)) parts.push(c as Buffer);
    assert.ok(Buffer.concat(parts).equals(want), 'content differs from what was written');
    const tail: Buffer[] = [];
    for await (const c of await driver.reader('/odd/data', 3 * 1048576 + 100)) tail.push(c as Buffer);
    assert.ok(Buffer.concat(tail).equals(want.subarray(3 * 1048576 + 100)));
    await driver.delete('/odd');
  });
});
