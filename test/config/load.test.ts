import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import {
  ConfigurationError,
  DEFAULT_CONFIG_YAML,
  DEFAULT_CONFIGURATION,
  defaultConfiguration,
  loadConfiguration,
} from '../../src/config/index.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const load = (name: string) => loadConfiguration({ path: join(fixtures, name), env: {} });

test('config-example.yml (the image default style) loads without warnings', () => {
  const { config, warnings } = load('config-example.yml');
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.storage.driver, { name: 'filesystem', parameters: { rootdirectory: '/var/lib/registry' } });
  assert.equal(config.storage.cache.blobdescriptor, 'inmemory');
  assert.equal(config.storage.tag.concurrencylimit, 8);
  assert.equal(config.http.addr, ':5000');
  assert.deepEqual(config.http.headers, { 'X-Content-Type-Options': ['nosniff'] });
  assert.deepEqual(config.auth, { type: 'htpasswd', realm: 'basic-realm', path: '/etc/registry' });
  assert.deepEqual(config.health.storagedriver, { enabled: true, interval: 10_000, threshold: 3 });
  assert.equal(config.log.level, 'info');
  assert.deepEqual(config.log.fields, { service: 'registry' });
});

test('config-dev.yml loads without warnings', () => {
  const { config, warnings } = load('config-dev.yml');
  assert.deepEqual(warnings, []);
  assert.equal(config.log.level, 'debug');
  assert.equal(config.storage.delete.enabled, true);
  assert.equal(config.storage.maintenance.uploadpurging.enabled, false);
  assert.equal(config.storage.maintenance.uploadpurging.age, 168 * 3600_000);
  assert.deepEqual(config.http.debug, { addr: ':5001', prometheus: { enabled: true, path: '/metrics' } });
  assert.equal(config.auth, undefined);
});

test('the full reference config loads, warning only about what berth ignores', () => {
  const { config, warnings } = load('config-full.yml');
  assert.deepEqual(warnings.sort(), [
    'compatibility.schema1: schema1 manifests are not supported by berth; ignored',
    "http.tls.letsencrypt: Let's Encrypt is not supported by berth; ignored",
    'log.hooks: log hooks are not supported by berth; ignored',
    'loglevel: deprecated, use log.level',
    'policy.repository.classes: repository classes are not enforced by berth; ignored',
    'reporting.bugsnag: error reporting is not supported by berth; ignored',
    'reporting.newrelic: error reporting is not supported by berth; ignored',
  ]);
  const { driver } = config.storage;
  assert.equal(driver.name, 's3');
  if (driver.name === 's3') {
    assert.equal(driver.parameters.bucket, 'bucketname');
    assert.equal(driver.parameters.secure, true);
    assert.equal(driver.parameters.chunksize, 5242880);
  }
  assert.equal(config.storage.cache.blobdescriptor, 'redis');
  assert.equal(config.auth?.type, 'token');
  assert.equal(config.log.formatter, 'json');
  assert.equal(config.http.draintimeout, 60_000);
  assert.equal(config.http.tls.clientcas.length, 2);
  assert.equal(config.middleware.storage[0]?.name, 'cloudfront');
  assert.equal(config.middleware.storage[0]?.disabled, true);
  assert.equal(config.middleware.storage[0]?.options.duration, '3000s');
  const ep = config.notifications.endpoints[0];
  assert.equal(ep?.url, 'https://my.listener.com/event');
  assert.deepEqual(ep?.ignore.actions, ['pull']);
  assert.equal(config.notifications.events.includereferences, true);
  assert.deepEqual(config.redis?.addrs, ['localhost:6379']);
  assert.equal(config.redis?.connmaxidletime, 300_000);
  assert.equal(config.health.http[0]?.timeout, 3000);
  assert.equal(config.health.tcp[0]?.addr, 'redis-server.domain.com:6379');
  assert.equal(config.proxy?.remoteurl, 'https://registry-1.docker.io');
  assert.equal(config.proxy?.ttl, 168 * 3600_000);
  assert.equal(config.validation.enabled, true);
  assert.equal(config.validation.manifests.indexes.platforms, 'list');
  assert.equal(config.catalog.maxentries, 100);
});

test('no source at all means the embedded default', () => {
  const { config, warnings } = loadConfiguration({ env: {} });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, defaultConfiguration());
  assert.deepEqual(config, DEFAULT_CONFIGURATION);
});

test('the embedded default matches what it promises', () => {
  assert.match(DEFAULT_CONFIG_YAML, /^version: 0\.1$/m);
  const c = DEFAULT_CONFIGURATION;
  assert.deepEqual(c.storage.driver, { name: 'filesystem', parameters: { rootdirectory: './data' } });
  assert.equal(c.storage.cache.blobdescriptor, 'inmemory');
  assert.equal(c.storage.delete.enabled, false);
  assert.equal(c.storage.maintenance.uploadpurging.enabled, true);
  assert.equal(c.http.addr, ':5000');
  assert.ok(Object.isFrozen(c.storage));
  assert.ok(!Object.isFrozen(defaultConfiguration().storage));
});

test('environment overrides apply on top of the default too', () => {
  const { config } = loadConfiguration({ env: { REGISTRY_HTTP_ADDR: ':6000' } });
  assert.equal(config.http.addr, ':6000');
});

test('yamlText wins over path', () => {
  const { config } = loadConfiguration({
    yamlText: 'version: 0.1\nstorage: inmemory\n',
    path: '/nonexistent/config.yml',
    env: {},
  });
  assert.equal(config.storage.driver.name, 'inmemory');
});

test('an unreadable file is a ConfigurationError naming the file', () => {
  assert.throws(
    () => loadConfiguration({ path: '/nonexistent/config.yml', env: {} }),
    (err: unknown) => err instanceof ConfigurationError && /\/nonexistent\/config\.yml/.test(err.message) && /cannot read/.test(err.message),
  );
});

test('a YAML syntax error is a ConfigurationError with a position', () => {
  assert.throws(
    () => loadConfiguration({ yamlText: 'version: 0.1\nstorage:\n  inmemory: [\n', env: {} }),
    (err: unknown) => err instanceof ConfigurationError && /YAML syntax/.test(err.message) && /line \d+/.test(err.message),
  );
});

test('duplicate keys are rejected like go-yaml does', () => {
  assert.throws(
    () => loadConfiguration({ yamlText: 'version: 0.1\nstorage: inmemory\nstorage: inmemory\n', env: {} }),
    ConfigurationError,
  );
});

test('an empty file fails on the missing version and storage', () => {
  try {
    loadConfiguration({ yamlText: '', env: {} });
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof ConfigurationError);
    assert.ok(err.errors.some((e) => e.startsWith('version: required key is missing')));
    assert.ok(err.errors.some((e) => e.startsWith('storage: required section is missing')));
  }
});

test('YAML read as go-yaml reads it', () => {
  const { config, warnings } = loadConfiguration({
    env: {},
    yamlText: [
      'version: 0.1',
      'storage:',
      '  inmemory:',
      '  delete:',
      '    enabled: yes', // a YAML 1.1 boolean
      'http:',
      '  secret: 0123', // stays the string "0123", not octal 83
      '  prefix: /a/',
      'proxy:',
      '  remoteurl: https://registry-1.docker.io',
      '  password: 1e3', // not 1000
      '  username: off', // not "false"
      'shared: &d',
      '  maxentries: 7',
      'catalog:',
      '  <<: *d', // merge keys work
      'log:',
      '  fields:',
      '    n: 1', // a key spelled like a 1.1 boolean stays "n"
      '    when: 10:30', // no sexagesimal numbers
    ].join('\n'),
  });
  assert.deepEqual(warnings, ['shared: unknown configuration key, ignored']);
  assert.equal(config.storage.delete.enabled, true);
  assert.equal(config.http.secret, '0123');
  assert.equal(config.proxy?.password, '1e3');
  assert.equal(config.proxy?.username, 'off');
  assert.equal(config.catalog.maxentries, 7);
  assert.deepEqual(config.log.fields, { n: 1, when: '10:30' });
});

test('a version written as a string or a number both work', () => {
  for (const v of ['0.1', '"0.1"', "'0.1'"]) {
    const { config } = loadConfiguration({ yamlText: `version: ${v}\nstorage: inmemory\n`, env: {} });
    assert.equal(config.version, '0.1');
  }
  assert.throws(() => loadConfiguration({ yamlText: 'version: 0.10\nstorage: inmemory\n', env: {} }), /unsupported version "0\.10"/);
});
