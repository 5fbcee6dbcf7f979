// Azure driver behaviour beyond the shared suite, on azurite: configuration errors that name the
// key, blob naming under rootdirectory (the reference's), SAS redirect URLs, the asynchronous copy
// path of move, a stalled connection abandoned and retried, and a missing container or wrong key.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { ContainerClient } from '@azure/storage-blob';
import { loadConfiguration } from '../../src/config/index.js';
import { AzureDriver } from '../../src/storage/driver/azure/azure-driver.js';
import { blockSizeFor, MAX_BLOCKS } from '../../src/storage/driver/azure/blocks.js';
import { resolveAzureOptions } from '../../src/storage/driver/azure/options.js';
import { PathNotFoundError, StorageDriverError } from '../../src/storage/driver/errors.js';
import { createDriver } from '../../src/storage/driver/factory.js';
import { startAzurite, type Azurite } from '../helpers/azurite.js';

const MiB = 1 << 20;

async function driverFromYaml(azure: string) {
  const config = loadConfiguration({ yamlText: `version: 0.1\nstorage:\n  azure:\n${azure}`, env: {} });
  return createDriver(config.config.storage.driver);
}

describe('azure driver: configuration', () => {
  it('rejects bad parameters with a message naming the key', async () => {
    const key = '    accountkey: a2V5\n';
    const cases: [string, RegExp][] = [
      ['    container: c1c\n' + key, /storage\.azure\.accountname: required/],
      ['    accountname: a\n' + key, /storage\.azure\.container: required/],
      ['    accountname: a\n    container: Bad_Name\n' + key, /storage\.azure\.container: "Bad_Name" is not a valid container name/],
      ['    accountname: a\n    container: reg\n', /storage\.azure\.accountkey: required/],
      ['    accountname: a\n    container: reg\n    accountkey: "not base64!"\n', /storage\.azure\.accountkey: expected the base64 key/],
      ['    accountname: a\n    container: reg\n    credentials:\n      type: client_secret\n', /storage\.azure\.credentials\.type: "client_secret" is not supported/],
      ['    accountname: a\n    container: reg\n    serviceurl: "ftp://x"\n' + key, /storage\.azure\.serviceurl: expected an http or https URL/],
      ['    accountname: a\n    container: reg\n    rootdirectory: /a/../b\n' + key, /storage\.azure\.rootdirectory: .* relative component/],
    ];
    for (const [yaml, message] of cases) await assert.rejects(driverFromYaml(yaml), message, yaml);
  });

  it('derives the endpoint from accountname and realm, and maps the reference\u2019s retry keys', () => {
    const o = resolveAzureOptions({ accountname: 'acct', accountkey: 'a2V5', container: 'reg', realm: 'core.chinacloudapi.cn', rootdirectory: '/a/b/' });
    assert.equal(o.serviceURL, 'https://acct.blob.core.chinacloudapi.cn');
    assert.equal(o.rootDirectory, 'a/b');
    assert.deepEqual([o.maxRetries, o.retryDelayMs, o.maxRetryDelayMs, o.tryTimeoutMs], [3, 4000, 60_000, undefined]);
    assert.deepEqual([o.copyPollMaxRetry, o.copyPollDelayMs], [5, 100]);
    const tuned = resolveAzureOptions({ accountname: 'acct', accountkey: 'a2V5', container: 'reg', max_retries: -1, retry_delay: 250, retry_try_timeout: 30_000 });
    assert.deepEqual([tuned.maxRetries, tuned.retryDelayMs, tuned.tryTimeoutMs], [0, 250, 30_000]);
  });

  it('grows block sizes with the block count so a blob stays under Azure\u2019s 50,000 blocks', () => {
    let total = 0;
    for (let n = 0; n < MAX_BLOCKS; n++) total += blockSizeFor(n);
    assert.equal(blockSizeFor(0), 8 * MiB);
    assert.ok(total > 1e12, `capacity ${total} bytes`);
    assert.ok(blockSizeFor(MAX_BLOCKS - 1) <= 128 * MiB, 'the largest block buffer stays bounded');
  });
});

/** A TCP relay to azurite that can swallow one connection's traffic without answering. */
async function startRelay(target: number): Promise<{ port: number; connections: () => number; stallNext: () => void; close: () => Promise<void> }> {
  let count = 0;
  let stall = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    count++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (stall) {
      stall = false;
      client.resume(); // read and drop: the request never reaches azurite, no answer comes back
      return;
    }
    const upstream = connect(target, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => count,
    stallNext: () => void (stall = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A TLS endpoint in front of azurite with a self-signed certificate (test/azure/fixtures, valid until 2126). */
async function startTlsRelay(target: number): Promise<{ port: number; close: () => Promise<void> }> {
  const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: fixture('self-signed.key'), cert: fixture('self-signed.crt') }, (client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('azure driver: against azurite', () => {
  let azurite: Azurite;
  let name: string;
  let container: ContainerClient;
  const drivers: AzureDriver[] = [];
  const driver = (extra: Record<string, unknown> = {}, tweaks: { syncCopyMaxBytes?: number } = {}) => {
    const d = new AzureDriver({ ...resolveAzureOptions(azurite.parameters(name, extra)), ...tweaks });
    drivers.push(d);
    return d;
  };
  const blobNames = async () => {
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    return names.sort();
  };

  before(async () => {
    azurite = await startAzurite();
    name = await azurite.createContainer('specifics');
    container = azurite.service.getContainerClient(name);
  });
  after(async () => {
    for (const d of drivers) d.close();
    await azurite?.stop();
  });

  it('names blobs as the reference does, with and without rootdirectory', async () => {
    await driver().putContent('/docker/registry/v2/repositories/a/_layers/link', 'x');
    await driver({ rootdirectory: '/registry/' }).putContent('/docker/registry/v2/blobs/data', 'y');
    await driver({ rootdirectory: 'deep/er' }).putContent('/f', 'z');
    assert.deepEqual(await blobNames(), ['deep/er/f', 'docker/registry/v2/repositories/a/_layers/link', 'registry/docker/registry/v2/blobs/data']);
    const rooted = driver({ rootdirectory: 'registry' });
    assert.deepEqual(await rooted.list('/'), ['/docker']);
    const seen: string[] = [];
    await rooted.walk('/', (fi) => void seen.push(fi.path));
    assert.deepEqual(seen, ['/docker', '/docker/registry', '/docker/registry/v2', '/docker/registry/v2/blobs', '/docker/registry/v2/blobs/data']);
    await rooted.delete('/');
    await driver({ rootdirectory: 'deep' }).delete('/');
    assert.deepEqual(await blobNames(), ['docker/registry/v2/repositories/a/_layers/link'], 'a rooted delete stays under its root');
    await driver().delete('/docker');
    assert.deepEqual(await blobNames(), []);
  });

  it('redirect URLs are read-only SAS URLs for one blob', async () => {
    const d = driver({ rootdirectory: 'r' });
    const content = createHash('shake256', { outputLength: 3 * MiB + 1 }).update('sas').digest();
    await d.putContent('/blobs/one', content);
    await d.putContent('/blobs/two', 'secret');
    const url = await d.redirectURL('/blobs/one', { method: 'GET' });
    assert.ok(url);
    const get = await fetch(url);
    assert.equal(get.status, 200);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(content), 'the bytes arrive intact');
    const head = await fetch((await d.redirectURL('/blobs/one', { method: 'HEAD' })) ?? '', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(content.length));
    const parsed = new URL(url);
    assert.equal(parsed.searchParams.get('sp'), 'r', 'read permission only');
    const expires = Date.parse(parsed.searchParams.get('se') ?? '');
    assert.ok(expires > Date.now() + 15 * 60_000 && expires <= Date.now() + 21 * 60_000, 'valid for about 20 minutes');
    // The signature covers this blob, read-only.
    const other = new URL(url);
    other.pathname = other.pathname.replace(/one$/, 'two');
    assert.equal((await fetch(other)).status, 403);
    assert.equal((await fetch(url, { method: 'PUT', body: 'x', headers: { 'x-ms-blob-type': 'BlockBlob' } })).status, 403);
    const unsigned = new URL(url);
    unsigned.search = '';
    assert.notEqual((await fetch(unsigned)).status, 200, 'the container is not public');
    await d.delete('/blobs');
  });

  it('moves blobs above the single-copy limit with an asynchronous copy', async () => {
    const d = driver({ copy_status_poll_delay: 10 }, { syncCopyMaxBytes: 1024 });
    const content = createHash('shake256', { outputLength: 200_000 }).update('copy').digest();
    const w = await d.writer('/copy/src');
    await w.write(content);
    await w.commit();
    await d.move('/copy/src', '/copy/dst/deeper');
    assert.ok((await d.getContent('/copy/dst/deeper')).equals(content));
    await assert.rejects(d.stat('/copy/src'), PathNotFoundError);
    assert.equal((await container.getBlobClient('copy/dst/deeper').getProperties()).copyStatus, 'success');
    await d.delete('/copy');
  });

  it('abandons a connection that stops answering and retries the request', async () => {
    const relay = await startRelay(azurite.port);
    try {
      const d = driver({ serviceurl: `http://127.0.0.1:${relay.port}/devstoreaccount1`, retry_try_timeout: 1000, retry_delay: 10 });
      await d.putContent('/stall/f', 'still there');
      const before = relay.connections();
      relay.stallNext();
      d.close(); // drop pooled connections: the next request opens the stalled one
      assert.equal((await d.getContent('/stall/f')).toString(), 'still there');
      assert.ok(relay.connections() >= before + 2, 'the stalled connection was given up for a new one');
      await d.delete('/stall');
    } finally {
      await relay.close();
    }
  });

  it('verifies the endpoint’s TLS certificate unless skipverify is set', async () => {
    const relay = await startTlsRelay(azurite.port);
    try {
      const serviceurl = `https://127.0.0.1:${relay.port}/devstoreaccount1`;
      const trusting = driver({ serviceurl, skipverify: true });
      await trusting.putContent('/tls/f', 'over TLS');
      assert.equal((await trusting.getContent('/tls/f')).toString(), 'over TLS');
      const url = new URL((await trusting.redirectURL('/tls/f', { method: 'GET' })) ?? '');
      assert.equal(url.protocol, 'https:');
      assert.equal(url.searchParams.get('spr'), 'https', 'the SAS URL is for HTTPS only');
      const verifying = driver({ serviceurl, max_retries: 0 });
      await assert.rejects(verifying.getContent('/tls/f'), (err: unknown) => err instanceof StorageDriverError && !(err instanceof PathNotFoundError));
      await trusting.delete('/tls');
    } finally {
      await relay.close();
    }
  });

  it('a missing container and a wrong key are errors, not missing paths', async () => {
    const missing = new AzureDriver(resolveAzureOptions(azurite.parameters('no-such-container')));
    drivers.push(missing);
    await assert.rejects(missing.stat('/'), /container "no-such-container" does not exist/, 'stat of the root asks the service');
    await assert.rejects(missing.stat('/x'), (err: unknown) => err instanceof StorageDriverError && !(err instanceof PathNotFoundError) && /container "no-such-container" does not exist/.test(err.message));
    await assert.rejects(missing.getContent('/x'), (err: unknown) => err instanceof StorageDriverError && !(err instanceof PathNotFoundError));
    const wrongKey = driver({ accountkey: Buffer.from('not the key').toString('base64'), max_retries: 0 });
    await assert.rejects(wrongKey.getContent('/x'), (err: unknown) => err instanceof StorageDriverError && !(err instanceof PathNotFoundError) && /403/.test(err.message));
    await assert.rejects(wrongKey.putContent('/x', 'y'), (err: unknown) => err instanceof StorageDriverError && /403/.test(err.message));
  });
});
