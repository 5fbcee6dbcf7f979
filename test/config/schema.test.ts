import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigurationError, loadConfiguration, type Configuration } from '../../src/config/index.js';

const BASE = 'version: 0.1\nstorage:\n  inmemory:\n';

function load(yamlText: string) {
  return loadConfiguration({ yamlText, env: {} });
}

function errorsOf(yamlText: string): string[] {
  try {
    load(yamlText);
  } catch (err) {
    assert.ok(err instanceof ConfigurationError, String(err));
    return err.errors;
  }
  assert.fail(`expected an error for:\n${yamlText}`);
}

test('every validation error names its key', () => {
  const cases: [string, string][] = [
    ['storage: inmemory\n', 'version: required key is missing'],
    ['version: 0.2\nstorage: inmemory\n', 'version: unsupported version "0.2"'],
    ['version: 0.1\n', 'storage: required section is missing'],
    ['version: 0.1\nstorage:\n  delete: {enabled: true}\n', 'storage: no storage driver configured'],
    ['version: 0.1\nstorage: {inmemory: , filesystem: }\n', 'storage: exactly one storage driver may be configured, found: inmemory, filesystem'],
    ['version: 0.1\nstorage:\n  swift:\n    container: x\n', 'storage.swift: unknown storage driver (supported: filesystem, inmemory, s3, azure, gcs)'],
    ['version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: [a, b]\n', 'storage.filesystem.rootdirectory: expected a string'],
    ['version: 0.1\nstorage:\n  filesystem:\n    maxthreads: many\n', 'storage.filesystem.maxthreads: expected an integer'],
    ['version: 0.1\nstorage:\n  filesystem:\n    directwrites: sometimes\n', 'storage.filesystem.directwrites: expected true or false'],
    ['version: 0.1\nstorage:\n  filesystem:\n    directreads: 1\n', 'storage.filesystem.directreads: expected true or false'],
    ['version: 0.1\nstorage:\n  filesystem: /var/lib/registry\n', 'storage.filesystem: expected a mapping of driver parameters'],
    ['version: 0.1\nstorage:\n  s3:\n    region: us-east-1\n', 'storage.s3.bucket: required key is missing'],
    ['version: 0.1\nstorage:\n  s3: {region: r, bucket: b, secure: maybe}\n', 'storage.s3.secure: expected true or false'],
    ['version: 0.1\nstorage:\n  gcs: {}\n', 'storage.gcs.bucket: required key is missing'],
    ['version: 0.1\nstorage:\n  azure: {accountname: a, retry_delay: soon}\n', 'storage.azure.retry_delay: invalid duration "soon"'],
    [BASE + '  delete:\n    enabled: 3\n', 'storage.delete.enabled: expected true or false'],
    [BASE + '  maintenance:\n    uploadpurging:\n      age: 5x\n', 'storage.maintenance.uploadpurging.age: unknown unit "x"'],
    [BASE + '  maintenance:\n    readonly: true\n', 'storage.maintenance.readonly: expected a mapping'],
    [BASE + '  cache:\n    blobdescriptorsize: -1\n', 'storage.cache.blobdescriptorsize: must be at least 0'],
    [BASE + '  cache:\n    blobdescriptor: redis\n', 'storage.cache.blobdescriptor: the redis cache needs a redis section'],
    [BASE + '  tag:\n    concurrencylimit: -1\n', 'storage.tag.concurrencylimit: must be at least 0'],
    [BASE + 'log:\n  level: verbose\n', 'log.level: expected one of error, warn, info, debug (got "verbose")'],
    [BASE + 'log:\n  formatter: xml\n', 'log.formatter: expected one of text, json, logstash'],
    [BASE + 'log:\n  fields: [a]\n', 'log.fields: expected a mapping'],
    [BASE + 'loglevel: loud\n', 'loglevel: expected one of'],
    [BASE + 'auth:\n  silly: {realm: r, service: s}\n  htpasswd: {realm: r, path: p}\n', 'auth: at most one access controller may be configured, found: silly, htpasswd'],
    [BASE + 'auth:\n  ldap: {}\n', 'auth.ldap: unknown access controller (supported: silly, token, htpasswd)'],
    [BASE + 'auth:\n  htpasswd:\n    realm: r\n', 'auth.htpasswd.path: required key is missing'],
    [BASE + 'auth:\n  silly:\n    realm: r\n', 'auth.silly.service: required key is missing'],
    [BASE + 'auth:\n  token: {realm: r, service: s, issuer: i}\n', 'auth.token.rootcertbundle: required key is missing (or set auth.token.jwks)'],
    [BASE + 'auth:\n  token: {realm: r, service: s, issuer: i, jwks: j, signingalgorithms: [HS999]}\n', 'auth.token.signingalgorithms[0]: expected one of EdDSA'],
    [BASE + 'middleware:\n  storage:\n    - options: {baseurl: x}\n', 'middleware.storage[0].name: required key is missing'],
    [BASE + 'middleware:\n  registry:\n    - name: x\n      options: [1]\n', 'middleware.registry[0].options: expected a mapping'],
    [BASE + 'http:\n  addr: [1]\n', 'http.addr: expected a string'],
    [BASE + 'http:\n  net: udp\n', 'http.net: expected one of tcp, unix (got "udp")'],
    [BASE + 'http:\n  draintimeout: ten\n', 'http.draintimeout: invalid duration "ten"'],
    [BASE + 'http:\n  relativeurls: sometimes\n', 'http.relativeurls: expected true or false'],
    [BASE + 'http:\n  headers:\n    X-Frame-Options: {a: b}\n', 'http.headers.X-Frame-Options: expected a list'],
    [BASE + 'http:\n  tls:\n    certificate: /c.pem\n', 'http.tls.key: required when http.tls.certificate is set'],
    [BASE + 'http:\n  tls:\n    key: /k.pem\n', 'http.tls.certificate: required when http.tls.key is set'],
    [BASE + 'http:\n  tls:\n    clientcas: /ca.pem\n', 'http.tls.clientcas: expected a list'],
    [BASE + 'http:\n  tls:\n    minimumtls: ssl3\n', 'http.tls.minimumtls: expected one of tls1.0'],
    [BASE + 'http:\n  debug:\n    prometheus:\n      enabled: 1\n', 'http.debug.prometheus.enabled: expected true or false'],
    [BASE + 'notifications:\n  endpoints:\n    - name: a\n', 'notifications.endpoints[0].url: required key is missing'],
    [BASE + 'notifications:\n  endpoints:\n    - {name: a, url: u}\n    - {name: b, url: u, timeout: 1x}\n', 'notifications.endpoints[1].timeout: unknown unit "x"'],
    [BASE + 'notifications:\n  endpoints: {name: a}\n', 'notifications.endpoints: expected a list'],
    [BASE + 'notifications:\n  endpoints:\n    -\n', 'notifications.endpoints[0]: empty list item'],
    [BASE + 'redis:\n  addr: r:6379\n  db: -1\n', 'redis.db: must be at least 0'],
    [BASE + 'redis:\n  addr: r:6379\n  dialtimeout: fast\n', 'redis.dialtimeout: invalid duration "fast"'],
    [BASE + 'health:\n  tcp:\n    - timeout: 3s\n', 'health.tcp[0].addr: required key is missing'],
    [BASE + 'health:\n  storagedriver:\n    interval: often\n', 'health.storagedriver.interval: invalid duration "often"'],
    [BASE + 'health:\n  http:\n    - uri: http://x\n      statuscode: ok\n', 'health.http[0].statuscode: expected an integer'],
    [BASE + 'proxy:\n  remoteurl: registry-1.docker.io\n', 'proxy.remoteurl: expected an absolute http(s) URL'],
    [BASE + 'proxy:\n  remoteurl: https://r.example\n  ttl: forever\n', 'proxy.ttl: invalid duration "forever"'],
    [BASE + 'validation:\n  manifests:\n    indexes:\n      platforms: some\n', 'validation.manifests.indexes.platforms: expected one of all, none, list'],
    [BASE + 'validation:\n  manifests:\n    urls:\n      allow: "^https://"\n', 'validation.manifests.urls.allow: expected a list'],
    [BASE + 'catalog:\n  maxentries: lots\n', 'catalog.maxentries: expected an integer'],
    [BASE + 'tags:\n  maxtags: -3\n', 'tags.maxtags: must be at least 0'],
    [BASE + 'http: yes\n', 'http: expected a mapping'],
    ['- version: 0.1\n', '(root): expected a mapping at the top level'],
  ];
  for (const [yaml, expected] of cases) {
    const errors = errorsOf(yaml);
    assert.ok(
      errors.some((e) => e.startsWith(expected)),
      `expected an error starting with ${JSON.stringify(expected)}, got ${JSON.stringify(errors)}`,
    );
  }
});

test('all errors are reported at once', () => {
  const errors = errorsOf(BASE + 'http:\n  addr: [1]\n  net: udp\nlog:\n  level: loud\n');
  assert.equal(errors.length, 3);
  try {
    load(BASE + 'http:\n  addr: [1]\n');
  } catch (err) {
    assert.match((err as Error).message, /^invalid configuration \(inline YAML\):\n {2}- http\.addr: expected a string$/);
  }
});

test('defaults fill every section that is left out', () => {
  const { config, warnings } = load(BASE);
  assert.deepEqual(warnings, []);
  const expected: Partial<Configuration> = {
    version: '0.1',
    log: { level: 'info', formatter: 'text', fields: {}, accesslog: { disabled: false }, reportcaller: false },
    auth: undefined,
    redis: undefined,
    proxy: undefined,
    catalog: { maxentries: 1000 },
    tags: { maxtags: 0 },
  };
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(config[k as keyof Configuration], v, k);
  assert.deepEqual(config.storage, {
    driver: { name: 'inmemory', parameters: {} },
    delete: { enabled: false },
    redirect: { disable: false },
    cache: { blobdescriptor: undefined, blobdescriptorsize: 10000 },
    maintenance: {
      uploadpurging: { enabled: true, age: 168 * 3600_000, interval: 24 * 3600_000, dryrun: false },
      readonly: { enabled: false },
    },
    tag: { concurrencylimit: 0 },
  });
  assert.equal(config.http.addr, ':5000');
  assert.equal(config.http.net, 'tcp');
  assert.equal(config.http.draintimeout, 0);
  assert.equal(config.http.tls.minimumtls, 'tls1.2');
  assert.equal(config.http.debug.prometheus.path, '/metrics');
  assert.equal(config.http.secret, undefined);
  assert.deepEqual(config.validation.enabled, true);
  assert.deepEqual(config.validation.manifests.indexes, { platforms: 'all', platformlist: [] });
});

test('list items and optional sections get their defaults', () => {
  const { config } = load(
    BASE +
      'notifications:\n  endpoints:\n    - {name: a, url: "http://x"}\n' +
      'health:\n  file:\n    - file: /tmp/down\n  tcp:\n    - {addr: "r:6379", threshold: 0}\n' +
      'proxy:\n  remoteurl: https://r.example\n' +
      'catalog:\n  maxentries: -5\n',
  );
  const ep = config.notifications.endpoints[0];
  assert.equal(ep?.timeout, 1000);
  assert.equal(ep?.backoff, 1000);
  assert.equal(ep?.threshold, 10);
  assert.equal(ep?.disabled, false);
  assert.deepEqual(config.health.file, [{ file: '/tmp/down', interval: 10_000, threshold: 1 }]);
  assert.equal(config.health.tcp[0]?.threshold, 1);
  assert.equal(config.health.tcp[0]?.timeout, undefined);
  assert.equal(config.proxy?.ttl, 168 * 3600_000);
  assert.equal(config.catalog.maxentries, 1000);
});

test('a header given as a single value becomes a one-item list', () => {
  const { config } = load(BASE + 'http:\n  headers:\n    X-Frame-Options: DENY\n    X-Count: 1\n');
  assert.deepEqual(config.http.headers, { 'X-Frame-Options': ['DENY'], 'X-Count': ['1'] });
});

test('proxy ttl 0 means never expire', () => {
  const { config } = load(BASE + 'proxy:\n  remoteurl: https://r.example\n  ttl: 0\n');
  assert.equal(config.proxy?.ttl, 0);
});

test('shorthand and legacy spellings', () => {
  const a = load('version: 0.1\nstorage: inmemory\nauth: none\n');
  assert.equal(a.config.storage.driver.name, 'inmemory');
  assert.equal(a.config.auth, undefined);

  const b = load('version: 0.1\nstorage: inmemory\nauth: {NONE: }\n');
  assert.equal(b.config.auth, undefined);

  const c = load('version: 0.1\nloglevel: warn\nstorage:\n  inmemory:\n  cache:\n    layerinfo: inmemory\n');
  assert.equal(c.config.log.level, 'warn');
  assert.equal(c.config.storage.cache.blobdescriptor, 'inmemory');
  assert.deepEqual(c.warnings.sort(), [
    'loglevel: deprecated, use log.level',
    'storage.cache.layerinfo: deprecated name, use storage.cache.blobdescriptor',
  ]);

  const d = load(BASE + 'log:\n  level: DEBUG\nloglevel: error\n');
  assert.equal(d.config.log.level, 'debug');
});

test('redis 2.x settings are folded into the 3.x names', () => {
  const { config, warnings } = load(
    BASE + 'redis:\n  addr: localhost:6379\n  pool:\n    maxidle: 16\n    maxactive: 64\n    idletimeout: 300s\n  tls:\n    enabled: true\n',
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.redis?.addrs, ['localhost:6379']);
  assert.equal(config.redis?.maxidleconns, 16);
  assert.equal(config.redis?.maxactiveconns, 64);
  assert.equal(config.redis?.connmaxidletime, 300_000);
  assert.equal(config.redis?.tls.enabled, true);
  assert.ok(!('addr' in (config.redis ?? {})));
});

test('validation: the deprecated enabled flag and the disabled flag', () => {
  assert.equal(load(BASE + 'validation:\n  disabled: true\n').config.validation.enabled, false);
  const old = load(BASE + 'validation:\n  enabled: true\n  disabled: true\n');
  assert.equal(old.config.validation.enabled, true);
  assert.deepEqual(old.warnings, ['validation.enabled: deprecated, use validation.disabled']);
});

test('unknown keys and unsupported options are warnings, not errors', () => {
  const { config, warnings } = load(
    'version: 0.1\n' +
      'storage:\n  s3: {region: r, bucket: b, secure: "false", newoption: 1}\n  cache:\n    blobdescriptor: memcached\n' +
      'http:\n  addr: :5000\n  colour: blue\n  host: myregistry.local\n' +
      'extensions:\n  foo: bar\n',
  );
  assert.deepEqual(warnings.sort(), [
    'extensions: unknown configuration key, ignored',
    'http.colour: unknown configuration key, ignored',
    'http.host: not an absolute http(s) URL; URLs will be derived from each request',
    'storage.cache.blobdescriptor: unknown cache type "memcached", caching disabled',
    'storage.s3.newoption: unknown driver parameter, passed to the driver unchanged',
  ]);
  assert.equal(config.storage.cache.blobdescriptor, undefined);
  const { driver } = config.storage;
  assert.equal(driver.name, 's3');
  assert.equal(driver.parameters.secure, false); // the string "false" is read as a boolean
  assert.equal(driver.parameters.newoption, 1); // passed through unchanged
});

test('driver durations become milliseconds, other driver values stay as typed', () => {
  const { config } = load(
    'version: 0.1\nstorage:\n  azure:\n    accountname: acct\n    container: c\n    copy_status_poll_delay: 100ms\n    max_retries: "5"\n    credentials:\n      type: client_secret\n',
  );
  assert.deepEqual(config.storage.driver.parameters, {
    accountname: 'acct',
    container: 'c',
    copy_status_poll_delay: 100,
    max_retries: 5,
    credentials: { type: 'client_secret' },
  });
});
