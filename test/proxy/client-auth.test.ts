// The registry client's token handling against berth's own token server (in process, behind a
// counting forwarder): one token per repository scope, reused until it expires, then renewed
// before it is sent again. The clock is the client's, moved forward by the test.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { RegistryResponseError } from '../../src/client/errors.js';
import { RegistryClient } from '../../src/client/registry-client.js';
import { validateConfiguration } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { startRegistry, type RunningRegistry } from '../../src/registry-server.js';
import { Forwarder } from './helpers/forwarder.js';

describe('registry client token reuse', () => {
  let work: string;
  let registry: RunningRegistry;
  let forwarder: Forwarder;
  let clock = Date.now();
  let client: RegistryClient;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'berth-client-auth-'));
    const htpasswd = join(work, 'htpasswd');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('pw', 5)}\n`);
    const { config } = validateConfiguration({
      version: '0.1',
      log: { level: 'error' },
      storage: { inmemory: {} },
      http: { addr: '127.0.0.1:0', secret: 'x' },
      tokenserver: { enabled: true, htpasswd, keydirectory: join(work, 'keys'), expiration: '5m' },
      access: { rules: [{ users: ['alice'], repositories: ['**'], actions: ['pull'] }] },
    });
    registry = await startRegistry(config, { logger: createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) }) });
    forwarder = await Forwarder.start(registry.url);
    client = new RegistryClient({ url: forwarder.url, credentials: { username: 'alice', password: 'pw' }, now: () => clock });
  });

  after(async () => {
    client?.close();
    await forwarder?.stop();
    await registry?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const tokens = () => forwarder.seen.filter((s) => s.path.startsWith('/auth/token?'));
  const unauthorized = () => forwarder.seen.filter((s) => s.status === 401).length;
  const lookUp = (repo: string) =>
    assert.rejects(client.headManifest(repo, 'latest'), (err: unknown) => err instanceof RegistryResponseError && err.status === 404);

  it('asks for a token once the registry challenges, then reuses it', async () => {
    await lookUp('team/app');
    assert.equal(tokens().length, 1);
    assert.equal(unauthorized(), 1, 'the first, anonymous request learned the challenge');
    await lookUp('team/app');
    await lookUp('team/app');
    assert.equal(tokens().length, 1);
    assert.equal(unauthorized(), 1);
  });

  it('renews the token before sending it once it has expired, and keeps one per scope', async () => {
    clock += 5 * 60_000;
    await lookUp('team/app');
    assert.equal(tokens().length, 2);
    assert.equal(unauthorized(), 1, 'the expired token was never sent');
    await lookUp('team/other');
    assert.equal(tokens().length, 3);
    assert.equal(new URL(tokens()[2]?.path ?? '', 'http://x').searchParams.get('scope'), 'repository:team/other:pull');
  });
});
