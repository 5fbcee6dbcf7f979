// The `log:` section: level, formatter (json, text, logstash), static fields, and access logs on
// and off (`log.accesslog.disabled`), written whatever the level as the reference does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { validateConfiguration } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { startRegistry } from '../../src/registry-server.js';
import { req } from '../helpers/registry-client.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  return { lines, stream: new Writable({ write: (c, _e, cb) => (lines.push(...String(c).split('\n').filter(Boolean)), cb()) }) };
}

describe('log formats', () => {
  it('json: one object per line with the level as a word, an RFC 3339 time, msg and the static fields', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', formatter: 'json', fields: { environment: 'test' }, destination: stream });
    log.info({ repo: 'a/b' }, 'hello');
    log.debug('hidden');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.level, 'info');
    assert.equal(entry.msg, 'hello');
    assert.equal(entry.environment, 'test');
    assert.equal(entry.repo, 'a/b');
    assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  });

  it('text: time, level, msg, then key=value pairs', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'debug', formatter: 'text', fields: { service: 'registry' }, destination: stream });
    log.debug({ status: 200, path: '/v2/' }, 'request done');
    assert.match(lines[0]!, /^time="[^"]+" level=debug msg="request done" service=registry status=200 path=\/v2\/$/);
  });

  it('logstash: @timestamp, @version, message and level', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'warn', formatter: 'logstash', destination: stream });
    log.info('hidden');
    log.warn('careful');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.message, 'careful');
    assert.equal(entry['@version'], '1');
    assert.equal(entry.level, 'warn');
    assert.match(String(entry['@timestamp']), /Z$/);
  });

  it('rejects an unknown level or formatter', () => {
    assert.throws(() => createLogger({ level: 'loud' }), /log\.level/);
    assert.throws(() => createLogger({ formatter: 'xml' }), /log\.formatter/);
  });
});

describe('access logs', () => {
  async function requestLines(accesslogDisabled: boolean): Promise<string[]> {
    const root = mkdtempSync(join(tmpdir(), 'berth-accesslog-'));
    const { config } = validateConfiguration({
      version: '0.1',
      log: { level: 'warn', formatter: 'json', accesslog: { disabled: accesslogDisabled } },
      storage: { filesystem: { rootdirectory: root } },
      http: { addr: '127.0.0.1:0', secret: 'access-log-test' },
    });
    const { lines, stream } = capture();
    const logger = createLogger({ level: config.log.level, formatter: config.log.formatter, destination: stream });
    const reg = await startRegistry(config, { logger });
    try {
      assert.equal((await req('GET', `${reg.url}/v2/`)).status, 200);
      assert.equal((await req('GET', `${reg.url}/v2/some/repo/tags/list`)).status, 404);
    } finally {
      await reg.close();
      rmSync(root, { recursive: true, force: true });
    }
    return lines.filter((l) => (JSON.parse(l) as { msg?: string }).msg === 'request');
  }

  it('writes one entry per request, even at log level warn', async () => {
    const entries = (await requestLines(false)).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(entries.length, 2);
    assert.deepEqual(
      entries.map((e) => [e.method, e.url, e.status]),
      [
        ['GET', '/v2/', 200],
        ['GET', '/v2/some/repo/tags/list', 404],
      ],
    );
    assert.ok(entries.every((e) => typeof e.reqId === 'string'));
  });

  it('writes none with log.accesslog.disabled', async () => {
    assert.deepEqual(await requestLines(true), []);
  });
});
