// What the shared suite does not reach in the S3 driver, against a real Ceph RGW: writers that
// continue objects on both sides of S3's 5 MiB minimum part, an object replaced under an append
// writer, multipart uploads left open by a writer that never closed, moves above the copy
// threshold, presigned URLs that really serve, a frozen gateway (SIGSTOP) that must produce a
// timeout instead of a hang, and the configuration errors.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { StorageDriverError } from '../../src/storage/driver/errors.js';
import { parseS3Parameters, type S3DriverOptions } from '../../src/storage/driver/s3/options.js';
import { S3Driver } from '../../src/storage/driver/s3/s3-driver.js';
import { startRgw, type Rgw } from '../helpers/rgw.js';

const MiB = 1024 * 1024;
const STEP = { timeout: 120_000 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('s3 driver on Ceph RGW', () => {
  let rgw: Rgw;
  let bucket: string;
  const drivers: S3Driver[] = [];
  const driver = (params: Record<string, unknown> = {}, limits?: S3DriverOptions['limits']) => {
    const d = new S3Driver({ ...parseS3Parameters(rgw.storageConfig(bucket, { chunksize: 5 * MiB, ...params })), limits });
    drivers.push(d);
    return d;
  };

  before(async () => {
    rgw = await startRgw();
    bucket = await rgw.createBucket();
  }, STEP);
  after(async () => {
    for (const d of drivers) d.destroy();
    await rgw?.stop();
  });

  it('continues objects below, at and above the 5 MiB minimum part, byte for byte', STEP, async () => {
    const d = driver();
    for (const base of [1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1, 11 * MiB + 7]) {
      const path = `/continue/${base}`;
      let want = randomBytes(base);
      let w = await d.writer(path);
      await w.write(want);
      await w.close();
      for (const more of [1, 7 * MiB + 3]) {
        const extra = randomBytes(more);
        w = await d.writer(path, { append: true });
        assert.equal(w.size, want.length);
        for (let at = 0; at < extra.length; at += 1 * MiB) await w.write(extra.subarray(at, at + 1 * MiB));
        await w.close();
        want = Buffer.concat([want, extra]);
        assert.equal((await d.stat(path)).size, want.length, `base ${base} + ${more}`);
        assert.equal(sha(await d.getContent(path)), sha(want), `base ${base} + ${more}`);
      }
      // An append writer closed without new bytes leaves the object alone.
      await (await d.writer(path, { append: true })).close();
      assert.equal((await d.stat(path)).size, want.length);
    }
    await d.delete('/continue');
  });

  it('never stitches in an object replaced after an append writer opened it', STEP, async () => {
    const d = driver();
    for (const base of [1000, 6 * MiB]) {
      const path = `/replaced/${base}`;
      await d.putContent(path, randomBytes(base));
      const w = await d.writer(path, { append: true });
      await d.putContent(path, 'replaced meanwhile');
      const attempt = (async () => {
        await w.write(Buffer.from('appended'));
        await w.close();
      })();
      await assert.rejects(attempt, StorageDriverError);
      assert.equal((await d.getContent(path)).toString(), 'replaced meanwhile');
    }
    await d.delete('/replaced');
    const open = await rgw.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'replaced/' }));
    assert.deepEqual(open.Uploads ?? [], [], 'the failed writer aborted its upload');
  });

  it('delete of a directory aborts the multipart upload of a writer that never closed', STEP, async () => {
    const d = driver();
    await d.putContent('/abandoned/startedat', 'now');
    const w = await d.writer('/abandoned/data');
    await w.write(randomBytes(12 * MiB)); // two parts sent, a third buffered
    const uploads = async () => (await rgw.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'abandoned/' }))).Uploads ?? [];
    for (let i = 0; i < 100 && (await uploads()).length === 0; i++) await sleep(100);
    assert.equal((await uploads()).length, 1);
    await d.delete('/abandoned');
    assert.deepEqual(await uploads(), []);
    await w.cancel();
  });

  it('moves objects above the copy threshold through a multipart copy', STEP, async () => {
    const d = driver({ multipartcopythresholdsize: 5 * MiB, multipartcopychunksize: 5 * MiB, multipartcopymaxconcurrency: 3 });
    for (const size of [5 * MiB, 17 * MiB + 5]) {
      const content = randomBytes(size);
      await d.putContent(`/move/src-${size}`, content);
      await d.move(`/move/src-${size}`, `/move/dst-${size}`);
      assert.equal(sha(await d.getContent(`/move/dst-${size}`)), sha(content), `size ${size}`);
      await assert.rejects(d.stat(`/move/src-${size}`));
    }
    await d.delete('/move');
  });

  it('hands out presigned GET and HEAD URLs that the gateway honours', STEP, async () => {
    const d = driver({ rootdirectory: '/under/root' });
    const content = randomBytes(3000);
    await d.putContent('/presigned/f', content);
    const get = await fetch((await d.redirectURL('/presigned/f', { method: 'GET' })) as string);
    assert.equal(get.status, 200);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
    const head = await fetch((await d.redirectURL('/presigned/f', { method: 'HEAD' })) as string, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '3000');
    const forged = new URL((await d.redirectURL('/presigned/f', { method: 'GET' })) as string);
    forged.pathname = forged.pathname.replace(/f$/, 'g');
    assert.equal((await fetch(forged)).status, 403, 'the signature covers the key');
    await d.delete('/presigned');
  });

  it('a frozen gateway ends in a timeout error after retries, and a signal ends the wait at once', { timeout: 120_000 }, async () => {
    const d = driver({}, { requestTimeoutMs: 1000, idleTimeoutMs: 1000, maxAttempts: 2 });
    const content = randomBytes(48 * MiB);
    await d.putContent('/frozen/f', content);
    const reading = await d.reader('/frozen/f', 0);
    const iterator = reading[Symbol.asyncIterator]();
    await iterator.next();
    process.kill(rgw.rgwPid, 'SIGSTOP');
    try {
      await assert.rejects(
        (async () => {
          while (!(await iterator.next()).done);
        })(),
        /timed out/,
        'a body that stops moving errors out',
      );
      await assert.rejects(d.stat('/frozen/f'), (err: unknown) => err instanceof StorageDriverError && /TimeoutError/.test(err.message));
      const reason = new Error('the client went away');
      const controller = new AbortController();
      setTimeout(() => controller.abort(reason), 100);
      await assert.rejects(d.getContent('/frozen/f', { signal: controller.signal }), (err: unknown) => err === reason);
    } finally {
      process.kill(rgw.rgwPid, 'SIGCONT');
    }
    assert.equal((await d.stat('/frozen/f')).size, content.length, 'works again once the gateway runs');
    await d.delete('/frozen');
  });

  it('rejects bad parameters, naming the key', () => {
    const base = { bucket: 'b', region: 'r' };
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ region: 'r' }, /storage\.s3\.bucket: required/],
      [{ bucket: 'b' }, /storage\.s3\.region: required/],
      [{ ...base, chunksize: 1024 }, /storage\.s3\.chunksize: expected a size in bytes between 5242880/],
      [{ ...base, multipartcopychunksize: 6 * 1024 * 1024 * 1024 }, /storage\.s3\.multipartcopychunksize/],
      [{ ...base, multipartcopymaxconcurrency: 0 }, /storage\.s3\.multipartcopymaxconcurrency/],
      [{ ...base, accesskey: 'AK' }, /storage\.s3\.secretkey: accesskey and secretkey go together/],
      [{ ...base, v4auth: false }, /storage\.s3\.v4auth/],
      [{ ...base, regionendpoint: 'ftp://x' }, /storage\.s3\.regionendpoint/],
    ];
    for (const [params, message] of bad) assert.throws(() => parseS3Parameters(params as never), message);
    const ok = parseS3Parameters({ ...base, regionendpoint: 'minio.local:9000', secure: false, rootdirectory: '/a/b/', storageclass: 'NONE', encrypt: true, keyid: 'k' } as never);
    assert.equal(ok.endpoint, 'http://minio.local:9000');
    assert.equal(ok.rootDirectory, 'a/b');
    assert.equal(ok.storageClass, undefined);
    assert.equal(ok.chunkSize, 10 * MiB);
    assert.equal(ok.multipartCopyThresholdSize, 32 * MiB);
  });
});
