// The spool file of a pulled-through download: what was appended reads back exact, from any
// position, while it is still staged in memory, while it is being written and once on disk,
// with O_DIRECT and without.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SpoolFile } from '../../src/proxy/spool-file.js';

const work = mkdtempSync(join(tmpdir(), 'berth-spool-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Read everything from `from` to `to` through readAt, in reads of at most `step`. */
async function readRange(spool: SpoolFile, from: number, to: number, step: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let pos = from; pos < to; ) {
    const part = await spool.readAt(pos, Math.min(step, to - pos));
    assert.ok(part.length > 0);
    parts.push(part);
    pos += part.length;
  }
  return Buffer.concat(parts);
}

for (const direct of [true, false]) {
  describe(`spool file (direct ${direct})`, () => {
    it('reads back every byte appended, at every stage of its way to disk', async () => {
      const data = randomBytes(13 * 1024 * 1024 + 12_345);
      const path = join(work, `spool-${direct}`);
      const spool = await SpoolFile.create(path, direct);
      // Odd chunk sizes, so staging buffers fill and flush at unaligned chunk boundaries.
      const sizes = [1, 4095, 65_536, 1_000_003, 3 * 1024 * 1024 + 7, 17];
      let at = 0;
      let i = 0;
      let pendingAppends: Promise<void>[] = [];
      while (at < data.length) {
        const batch: Buffer[] = [];
        for (let k = 0; k < 3 && at < data.length; k++) {
          const n = Math.min(sizes[i++ % sizes.length] as number, data.length - at);
          // A copy the spool does not own: scribbling on it afterwards must not change the spool.
          batch.push(Buffer.from(data.subarray(at, at + n)));
          at += n;
        }
        pendingAppends.push(spool.append(batch));
        assert.equal(spool.size, at, 'appended bytes count at once');
        // Right after the append (staged or being written) and from an earlier position.
        const back = Math.max(0, at - 5_000_000);
        assert.ok((await readRange(spool, back, at, 1 << 20)).equals(data.subarray(back, at)), `bytes ${back}..${at}`);
        if (pendingAppends.length >= 2) {
          await Promise.all(pendingAppends);
          pendingAppends = [];
        }
        for (const c of batch) c.fill(0xee);
      }
      await Promise.all(pendingAppends);
      await spool.finish();
      assert.ok((await readRange(spool, 0, data.length, 777_777)).equals(data));
      await spool.close();
      assert.ok(readFileSync(path).equals(data), 'the file on disk holds exactly the bytes appended');
      await assert.rejects(spool.readAt(0, 10), /closed/);
    });

    it('holds an empty or tiny blob', async () => {
      for (const data of [Buffer.alloc(0), Buffer.from('x'), randomBytes(4096)]) {
        const path = join(work, `small-${direct}-${data.length}`);
        const spool = await SpoolFile.create(path, direct);
        if (data.length > 0) await spool.append([data]);
        await spool.finish();
        await spool.close();
        assert.ok(readFileSync(path).equals(data));
      }
    });
  });
}
