// The Azure driver's writer on azurite: block lists that continue across driver instances and
// processes without re-sending data, what a killed writer leaves, concurrent appenders, and
// content the driver did not write itself (the reference's append blobs, single Put Blobs).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerClient } from '@azure/storage-blob';
import { AzureDriver } from '../../src/storage/driver/azure/azure-driver.js';
import { BLOCK_ID_LENGTH } from '../../src/storage/driver/azure/blocks.js';
import { resolveAzureOptions } from '../../src/storage/driver/azure/options.js';
import { StorageDriverError } from '../../src/storage/driver/errors.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';
import { REPO_ROOT } from '../helpers/berth-server.js';

const MiB = 1 << 20;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Reproducible noise, different per seed, so misplaced or repeated blocks show. */
const bytes = (seed: number, n: number) => createHash('shake256', { outputLength: n }).update(`azure-writer-${seed}`).digest();

describe('azure driver: writers', () => {
  let azurite: Azurite;
  let params: Record<string, unknown>;
  let container: ContainerClient;
  const drivers: AzureDriver[] = [];
  /** A new driver instance, as another registry process would have. */
  const driver = () => {
    const d = new AzureDriver(resolveAzureOptions(params));
    drivers.push(d);
    return d;
  };
  const committed = async (name: string) => (await container.getBlockBlobClient(name).getBlockList('committed')).committedBlocks ?? [];
  const uncommitted = async (name: string) => (await container.getBlockBlobClient(name).getBlockList('uncommitted')).uncommittedBlocks ?? [];

  before(async () => {
    azurite = await startAzurite();
    const name = await azurite.createContainer('writer');
    params = azurite.parameters(name);
    container = azurite.service.getContainerClient(name);
  });
  after(async () => {
    for (const d of drivers) d.close();
    await azurite?.stop();
  });

  it('an append in another driver instance re-commits the earlier blocks without re-sending them', async () => {
    const first = bytes(1, 20 * MiB);
    const second = bytes(2, 5 * MiB + 3);
    const w1 = await driver().writer('/up/data');
    await w1.write(first);
    await w1.close();
    const before = await committed('up/data');
    assert.deepEqual(
      before.map((b) => b.size),
      [8 * MiB, 8 * MiB, 4 * MiB],
    );

    const w2 = await driver().writer('/up/data', { append: true });
    assert.equal(w2.size, first.length);
    await w2.write(second);
    await w2.close();
    const afterAppend = await committed('up/data');
    assert.deepEqual(
      afterAppend.slice(0, before.length).map((b) => b.name),
      before.map((b) => b.name),
      'the first writer\u2019s blocks are committed again as they were',
    );
    assert.equal(afterAppend.length, before.length + 1);
    assert.ok(
      afterAppend.every((b) => Buffer.from(b.name, 'base64').length === 24 && b.name.length === BLOCK_ID_LENGTH),
      'every block id of the blob has the same length',
    );
    const d = driver();
    assert.equal((await d.stat('/up/data')).size, first.length + second.length);
    assert.equal(sha(await d.getContent('/up/data')), sha(Buffer.concat([first, second])));
    await d.delete('/up');
  });

  it('a writer killed before close leaves only the content of the last close, and the upload continues from there', { timeout: 120_000 }, async () => {
    const d = driver();
    const head = bytes(3, 3 * MiB);
    const w0 = await d.writer('/killed/data');
    await w0.write(head);
    await w0.close();

    const child = spawn(process.execPath, ['--import', 'tsx', join('test/azure/fixtures/abandoned-writer.ts'), JSON.stringify(params), '/killed/data', '20'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const exited = once(child, 'exit').then(([code]) => Promise.reject(new Error(`the writer process exited early (${code})`)));
      const [line] = (await Promise.race([once(child.stdout, 'data'), exited])) as [Buffer];
      exited.catch(() => undefined);
      assert.equal(line.toString().trim(), 'written');
      // Wait until the child's blocks are on the server (staged, not committed), then kill it.
      for (let i = 0; i < 200 && (await uncommitted('killed/data')).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok((await uncommitted('killed/data')).length >= 2, 'the child staged blocks');
    } finally {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }

    assert.equal((await d.stat('/killed/data')).size, head.length, 'staged blocks are not visible');
    assert.equal(sha(await d.getContent('/killed/data')), sha(head));
    const tail = bytes(4, MiB + 7);
    const w1 = await d.writer('/killed/data', { append: true });
    assert.equal(w1.size, head.length);
    await w1.write(tail);
    await w1.commit();
    assert.equal(sha(await d.getContent('/killed/data')), sha(Buffer.concat([head, tail])));
    assert.deepEqual(await uncommitted('killed/data'), [], 'the orphaned blocks went with the next commit');
    await d.delete('/killed');
  });

  it('of two writers appending at once, the second to close fails and the first one\u2019s data stays', async () => {
    const d = driver();
    const w0 = await d.writer('/race/data');
    await w0.write(Buffer.from('base;'));
    await w0.close();
    const a = await driver().writer('/race/data', { append: true });
    const b = await driver().writer('/race/data', { append: true });
    await a.write(Buffer.from('from a;'));
    await b.write(Buffer.from('from b;'));
    await a.close();
    await assert.rejects(b.close(), (err: unknown) => err instanceof StorageDriverError && /another writer/.test(err.message));
    assert.equal((await d.getContent('/race/data')).toString(), 'base;from a;');
    await d.delete('/race');
  });

  it('continues an append blob, as the reference implementation leaves uploads in progress', async () => {
    const d = driver();
    const head = bytes(5, 1000);
    const appendBlob = container.getAppendBlobClient('legacy/data');
    await appendBlob.create();
    await appendBlob.appendBlock(head, head.length);
    const tail = bytes(6, 9 * MiB + 1);
    const w = await d.writer('/legacy/data', { append: true });
    assert.equal(w.size, head.length);
    await w.write(tail);
    await w.close();
    assert.equal((await appendBlob.getProperties()).blobType, 'AppendBlob');
    assert.equal((await d.stat('/legacy/data')).size, head.length + tail.length);
    assert.equal(sha(await d.getContent('/legacy/data')), sha(Buffer.concat([head, tail])));
    // A new writer and putContent replace it with a block blob.
    await (await d.writer('/legacy/data')).commit();
    assert.equal((await d.stat('/legacy/data')).size, 0);
    await d.putContent('/legacy/data', 'now a block blob');
    assert.equal((await container.getBlobClient('legacy/data').getProperties()).blobType, 'BlockBlob');
    assert.equal((await d.getContent('/legacy/data')).toString(), 'now a block blob');
    await d.delete('/legacy');
  });

  it('appends to content stored by one Put Blob or by another tool\u2019s block ids', async () => {
    const d = driver();
    await d.putContent('/foreign/put', 'abc');
    const w1 = await d.writer('/foreign/put', { append: true });
    assert.equal(w1.size, 3);
    await w1.write(Buffer.from('def'));
    await w1.close();
    assert.equal((await d.getContent('/foreign/put')).toString(), 'abcdef');

    const other = container.getBlockBlobClient('foreign/blocks');
    const ids = ['b1', 'b2'].map((s) => Buffer.from(s).toString('base64'));
    await other.stageBlock(ids[0] as string, Buffer.from('123'), 3);
    await other.stageBlock(ids[1] as string, Buffer.from('45'), 2);
    await other.commitBlockList(ids);
    const w2 = await d.writer('/foreign/blocks', { append: true });
    await w2.write(Buffer.from('6789'));
    await w2.close();
    assert.equal((await d.getContent('/foreign/blocks')).toString(), '123456789');
    assert.ok((await committed('foreign/blocks')).every((b) => b.name.length === BLOCK_ID_LENGTH));
    await d.delete('/foreign');
  });

  it('aborting a read in the middle stops the download', async () => {
    const d = driver();
    const content = bytes(7, 12 * MiB);
    const w = await d.writer('/abort/data');
    await w.write(content);
    await w.commit();
    const controller = new AbortController();
    const stream = await d.reader('/abort/data', 0, { signal: controller.signal });
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          got += (chunk as Buffer).length;
          controller.abort(new Error('client went away'));
        }
      })(),
    );
    assert.ok(got < content.length, 'the download stopped early');
    await d.delete('/abort');
  });
});
