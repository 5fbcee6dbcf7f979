// Blob downloads from S3 (Ceph RGW, started here) relayed socket to socket by a pool thread:
// whole blobs and odd ranges byte-identical with keep-alive kept, a client that stops reading
// still gets every byte, and clients that hang up release their relay slots.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { relayStats } from '../../src/http/socket-relay.js';
import { parseS3Parameters } from '../../src/storage/driver/s3/options.js';
import { S3Driver } from '../../src/storage/driver/s3/s3-driver.js';
import { fourAtOnce, get, hangUps, pausedReader } from '../helpers/download-clients.js';
import { req } from '../helpers/registry-client.js';
import { startRgw, type Rgw } from '../helpers/rgw.js';
import { startTestRegistry, type TestRegistry } from '../http/fixture.js';

const MiB = 1 << 20;
const STEP = { timeout: 120_000 };

describe('blob downloads relayed from S3', () => {
  let rgw: Rgw;
  let r: TestRegistry;
  let data: Buffer;
  let path: string;

  before(async () => {
    rgw = await startRgw();
    const bucket = await rgw.createBucket();
    r = await startTestRegistry({ redirect: false }, new S3Driver(parseS3Parameters(rgw.storageConfig(bucket))));
    data = randomBytes(20 * MiB + 4321);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const res = await req('POST', `${r.url}/v2/relay/big/blobs/uploads/?digest=${digest}`, { body: data });
    assert.equal(res.status, 201, res.text());
    path = `/v2/relay/big/blobs/${digest}`;
  });
  after(async () => {
    await r?.stop();
    await rgw?.stop();
  });

  it('serves whole blobs and odd ranges byte-identical, keeping the client connection', STEP, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = relayStats.started;
      const whole = await get(r.url, agent, path);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(data), 'whole blob differs');
      for (const [from, to] of [[1, 9 * MiB + 3], [MiB + 5, data.length - 1]] as const) {
        const part = await get(r.url, agent, path, { Range: `bytes=${from}-${to}` });
        assert.equal(part.status, 206);
        assert.ok(part.body.equals(data.subarray(from, to + 1)), `range ${from}-${to} differs`);
        assert.equal(part.reused, true, 'the client connection was not reused');
      }
      assert.equal(relayStats.started - before, 3, 'not every download was relayed');
    } finally {
      agent.destroy();
    }
  });

  it('gives a client that stops reading every byte', STEP, async () => {
    const before = relayStats.started;
    const handoffs = relayStats.slowReaderHandoffs;
    const got = await pausedReader(r.url, path, data.length);
    assert.ok(got.equals(data), 'slow reader got different bytes');
    assert.equal(relayStats.started - before, 1);
    assert.ok(relayStats.slowReaderHandoffs > handoffs, 'the paused client never made the relay hand bytes to Node');
  });

  it('releases the relay slots of clients that hang up, and serves the next downloads', STEP, async () => {
    await hangUps(r.url, path, () => relayStats.running);
    const before = relayStats.started;
    await fourAtOnce(r.url, path, data);
    assert.equal(relayStats.started - before, 4, 'four concurrent downloads should all be relayed');
  });
});
