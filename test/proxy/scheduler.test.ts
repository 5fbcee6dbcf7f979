// The expiry scheduler on its own, over the in-memory driver: reading a state file in the
// reference's format (as Go writes it: nanoseconds and a zone offset), expiring what is due in
// one batch, keeping what is not, retrying what failed, and writing the state back.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Digest } from '../../src/digest/digest.js';
import { createLogger } from '../../src/observability/logger.js';
import { TTLScheduler, type ScheduledItem } from '../../src/proxy/scheduler.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import { SCHEDULER_STATE_PATH } from '../../src/storage/paths.js';
import { eventually, sleep } from './helpers/storage.js';

const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;

async function readState(driver: InMemoryDriver): Promise<Record<string, { Key: string; ExpiryData: string; EntryType: number }>> {
  return JSON.parse((await driver.getContent(SCHEDULER_STATE_PATH)).toString('utf8')) as Record<string, { Key: string; ExpiryData: string; EntryType: number }>;
}

describe('TTL scheduler', () => {
  it('reads the reference format, expires what is due, keeps and rewrites the rest', async () => {
    const driver = new InMemoryDriver();
    const future = new Date(Date.now() + 3_600_000).toISOString().replace('Z', '123456+00:00');
    const state = {
      [`library/nginx@${d('a')}`]: { Key: `library/nginx@${d('a')}`, ExpiryData: '2020-01-02T03:04:05.123456789+02:00', EntryType: 0 },
      [`library/nginx@${d('b')}`]: { Key: `library/nginx@${d('b')}`, ExpiryData: future, EntryType: 1 },
      broken: { Key: 'not a reference', ExpiryData: '2020-01-01T00:00:00Z', EntryType: 0 },
      [`other/repo@${d('c')}`]: { Key: `other/repo@${d('c')}`, ExpiryData: '2020-01-01T00:00:00Z', EntryType: 0 },
    };
    await driver.putContent(SCHEDULER_STATE_PATH, JSON.stringify(state));
    const expired: ScheduledItem[][] = [];
    const s = new TTLScheduler({
      driver,
      logger: quiet,
      saveDelayMs: 10,
      accept: (item) => item.repository.startsWith('library/'),
      onExpire: async (items) => {
        expired.push(items);
        return [];
      },
    });
    await s.start();
    await eventually('the due entry expires', () => expired.length === 1);
    assert.deepEqual(expired[0], [{ repository: 'library/nginx', digest: d('a'), kind: 'blob' }]);
    await s.stop();

    const written = await readState(driver);
    assert.deepEqual(Object.keys(written), [`library/nginx@${d('b')}`]);
    const kept = written[`library/nginx@${d('b')}`];
    assert.equal(kept?.EntryType, 1);
    assert.equal(Date.parse(kept?.ExpiryData ?? ''), Date.parse(future));
  });

  it('expires added entries after their TTL in one batch, and retries failures', async () => {
    const driver = new InMemoryDriver();
    const batches: string[][] = [];
    let failOnce = true;
    const s = new TTLScheduler({
      driver,
      logger: quiet,
      saveDelayMs: 10,
      onExpire: async (items) => {
        batches.push(items.map((i) => `${i.kind}:${i.digest.slice(7, 8)}`));
        if (failOnce) {
          failOnce = false;
          return items.filter((i) => i.digest === d('f'));
        }
        return [];
      },
    });
    await s.start();
    s.add({ repository: 'a/b', digest: d('e'), kind: 'manifest' }, 50);
    s.add({ repository: 'a/b', digest: d('f'), kind: 'blob' }, 50);
    s.add({ repository: 'a/b', digest: d('9'), kind: 'blob' }, 3_600_000);
    await eventually('the two short entries expire together', () => batches.length === 1);
    assert.deepEqual(batches[0]?.sort(), ['blob:f', 'manifest:e']);
    assert.ok(s.has('a/b', d('f')), 'a failed expiry stays scheduled for a retry');
    assert.equal(s.has('a/b', d('e')), false);
    assert.ok(s.has('a/b', d('9')));
    await s.stop();
    const written = await readState(driver);
    assert.deepEqual(Object.keys(written).sort(), [`a/b@${d('9')}`, `a/b@${d('f')}`]);
  });

  it('re-adding an entry replaces its expiry', async () => {
    const driver = new InMemoryDriver();
    const batches: ScheduledItem[][] = [];
    const s = new TTLScheduler({ driver, logger: quiet, onExpire: async (items) => (batches.push(items), []) });
    await s.start();
    s.add({ repository: 'a/b', digest: d('1'), kind: 'blob' }, 30);
    s.add({ repository: 'a/b', digest: d('1'), kind: 'blob' }, 3_600_000);
    await sleep(150);
    assert.equal(batches.length, 0);
    assert.equal(s.size, 1);
    await s.stop();
  });
});
