import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigurationError, loadConfiguration } from '../../src/config/index.js';

const YAML = `version: 0.1
log:
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
notifications:
  endpoints:
    - name: first
      url: http://one.example/events
`;

function withEnv(env: NodeJS.ProcessEnv, yamlText = YAML) {
  return loadConfiguration({ yamlText, env });
}

function envErrors(env: NodeJS.ProcessEnv, yamlText = YAML): string[] {
  try {
    withEnv(env, yamlText);
  } catch (err) {
    assert.ok(err instanceof ConfigurationError, String(err));
    return err.errors;
  }
  assert.fail('expected a ConfigurationError');
}

test('simple overrides reach nested keys', () => {
  const { config, warnings } = withEnv({
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/somewhere',
    REGISTRY_HTTP_ADDR: ':5001',
    REGISTRY_LOG_LEVEL: 'debug',
    REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED: 'true',
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.storage.driver, { name: 'filesystem', parameters: { rootdirectory: '/somewhere' } });
  assert.equal(config.http.addr, ':5001');
  assert.equal(config.log.level, 'debug');
  assert.equal(config.http.debug.prometheus.enabled, true);
});

test('key parts match without regard to case; the prefix must be upper case', () => {
  const { config, warnings } = withEnv({ REGISTRY_Http_Addr: ':7000', registry_http_net: 'unix' });
  assert.equal(config.http.addr, ':7000');
  assert.equal(config.http.net, 'tcp');
  assert.deepEqual(warnings, []);
});

test('values are parsed as YAML', () => {
  const { config } = withEnv({
    REGISTRY_STORAGE_DELETE_ENABLED: 'false',
    REGISTRY_HTTP_TLS_CLIENTCAS: '[/a.pem, /b.pem]',
    REGISTRY_HTTP_HEADERS: '{Strict-Transport-Security: [max-age=31536000]}',
    REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_AGE: '72h',
    REGISTRY_CATALOG_MAXENTRIES: '50',
  });
  assert.equal(config.storage.delete.enabled, false);
  assert.deepEqual(config.http.tls.clientcas, ['/a.pem', '/b.pem']);
  assert.deepEqual(config.http.headers, { 'Strict-Transport-Security': ['max-age=31536000'] });
  assert.equal(config.storage.maintenance.uploadpurging.age, 72 * 3600_000);
  assert.equal(config.catalog.maxentries, 50);
});

test('string keys keep the text as written', () => {
  const { config } = withEnv({ REGISTRY_HTTP_SECRET: '0123', REGISTRY_HTTP_HOST: 'https://r.example:5000' });
  assert.equal(config.http.secret, '0123');
  assert.equal(config.http.host, 'https://r.example:5000');
  // Not a YAML scalar, but fine as a secret.
  assert.equal(withEnv({ REGISTRY_HTTP_SECRET: 'a: b' }).config.http.secret, 'a: b');
  assert.equal(withEnv({ REGISTRY_HTTP_SECRET: '[x' }).config.http.secret, '[x');
});

test('list items by index: replace an item, append one, reject a gap', () => {
  const replaced = withEnv({ REGISTRY_NOTIFICATIONS_ENDPOINTS_0_URL: 'http://two.example/events' }).config;
  assert.equal(replaced.notifications.endpoints[0]?.url, 'http://two.example/events');
  assert.equal(replaced.notifications.endpoints[0]?.name, 'first');

  const appended = withEnv({
    REGISTRY_NOTIFICATIONS_ENDPOINTS_1_NAME: 'second',
    REGISTRY_NOTIFICATIONS_ENDPOINTS_1_URL: 'http://three.example/events',
    REGISTRY_NOTIFICATIONS_ENDPOINTS_1_TIMEOUT: '5s',
  }).config;
  assert.equal(appended.notifications.endpoints.length, 2);
  assert.deepEqual(
    { name: appended.notifications.endpoints[1]?.name, timeout: appended.notifications.endpoints[1]?.timeout },
    { name: 'second', timeout: 5000 },
  );

  const fresh = withEnv({ REGISTRY_HTTP_TLS_LETSENCRYPT_HOSTS_0: 'registry.example.com' }).config;
  assert.deepEqual(fresh.http.tls.letsencrypt.hosts, ['registry.example.com']);

  assert.deepEqual(envErrors({ REGISTRY_NOTIFICATIONS_ENDPOINTS_5_URL: 'http://x' }), [
    'REGISTRY_NOTIFICATIONS_ENDPOINTS_5_URL: list index 5 is out of range (the list has 1 items)',
  ]);
  assert.deepEqual(envErrors({ REGISTRY_NOTIFICATIONS_ENDPOINTS_FIRST_URL: 'http://x' }), [
    'REGISTRY_NOTIFICATIONS_ENDPOINTS_FIRST_URL: expected a list index, got "FIRST"',
  ]);
});

test('REGISTRY_STORAGE names a new driver and keeps the storage options', () => {
  const { config, warnings } = withEnv({
    REGISTRY_STORAGE: 's3',
    REGISTRY_STORAGE_S3_REGION: 'us-east-1',
    REGISTRY_STORAGE_S3_BUCKET: 'my-bucket',
    REGISTRY_STORAGE_S3_SECURE: 'false',
    REGISTRY_STORAGE_S3_CHUNKSIZE: '10485760',
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.storage.driver, {
    name: 's3',
    parameters: { region: 'us-east-1', bucket: 'my-bucket', secure: false, chunksize: 10485760 },
  });
  assert.equal(config.storage.cache.blobdescriptor, 'inmemory');
  assert.equal(config.storage.delete.enabled, true);
});

test('REGISTRY_STORAGE as a mapping replaces the whole section', () => {
  const { config } = withEnv({ REGISTRY_STORAGE: '{inmemory: {}}' });
  assert.equal(config.storage.driver.name, 'inmemory');
  assert.equal(config.storage.delete.enabled, false);
  assert.equal(config.storage.cache.blobdescriptor, undefined);
});

test('driver parameters without switching the driver make two drivers, as in the reference', () => {
  const errors = envErrors({ REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_REGION: 'r' });
  assert.deepEqual(errors, ['storage: exactly one storage driver may be configured, found: filesystem, s3']);
});

test('an unknown driver named in the environment is an error naming it', () => {
  assert.deepEqual(envErrors({ REGISTRY_STORAGE: 'swift' }), [
    'storage.swift: unknown storage driver (supported: filesystem, inmemory, s3, azure, gcs)',
  ]);
});

test('keys with underscores are matched whole (longest known key first)', () => {
  const { config, warnings } = withEnv({
    REGISTRY_STORAGE: 'azure',
    REGISTRY_STORAGE_AZURE_ACCOUNTNAME: 'acct',
    REGISTRY_STORAGE_AZURE_CONTAINER: 'registry',
    REGISTRY_STORAGE_AZURE_COPY_STATUS_POLL_DELAY: '250ms',
    REGISTRY_STORAGE_AZURE_COPY_STATUS_POLL_MAX_RETRY: '3',
    REGISTRY_STORAGE_AZURE_CREDENTIALS_TYPE: 'default_credentials',
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.storage.driver.parameters, {
    accountname: 'acct',
    container: 'registry',
    copy_status_poll_delay: 250,
    copy_status_poll_max_retry: 3,
    credentials: { type: 'default_credentials' },
  });
});

test('gcs service-account keys with underscores resolve from the environment', () => {
  const { config, warnings } = withEnv({
    REGISTRY_STORAGE: 'gcs',
    REGISTRY_STORAGE_GCS_BUCKET: 'b',
    REGISTRY_STORAGE_GCS_CREDENTIALS_TYPE: 'service_account',
    REGISTRY_STORAGE_GCS_CREDENTIALS_PRIVATE_KEY_ID: 'abc123',
    REGISTRY_STORAGE_GCS_CREDENTIALS_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----',
    REGISTRY_STORAGE_GCS_CREDENTIALS_AUTH_PROVIDER_X509_CERT_URL: 'https://www.googleapis.com/oauth2/v1/certs',
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.storage.driver.parameters.credentials, {
    type: 'service_account',
    private_key_id: 'abc123',
    private_key: '-----BEGIN PRIVATE KEY-----',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
  });
});

test('free-form maps: existing keys are matched, new keys are lower case', () => {
  const { config, warnings } = withEnv({
    'REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS': '[nosniff, other]',
    REGISTRY_LOG_FIELDS_ENVIRONMENT: 'production',
    REGISTRY_LOG_FIELDS_SERVICE: 'berth',
    REGISTRY_STORAGE_FILESYSTEM_SOMETHINGNEW: '1',
  });
  assert.deepEqual(config.http.headers, { 'X-Content-Type-Options': ['nosniff', 'other'] });
  assert.deepEqual(config.log.fields, { service: 'berth', environment: 'production' });
  assert.equal(config.storage.driver.parameters.somethingnew, 1);
  assert.deepEqual(warnings, ['storage.filesystem.somethingnew: unknown driver parameter, passed to the driver unchanged']);
});

test('auth and middleware can be configured from the environment alone', () => {
  const { config } = withEnv({
    REGISTRY_AUTH: 'htpasswd',
    REGISTRY_AUTH_HTPASSWD_REALM: 'Registry Realm',
    REGISTRY_AUTH_HTPASSWD_PATH: '/auth/htpasswd',
    REGISTRY_MIDDLEWARE_STORAGE_0_NAME: 'redirect',
    REGISTRY_MIDDLEWARE_STORAGE_0_OPTIONS_BASEURL: 'https://cdn.example.com/',
  });
  assert.deepEqual(config.auth, { type: 'htpasswd', realm: 'Registry Realm', path: '/auth/htpasswd' });
  assert.deepEqual(config.middleware.storage, [
    { name: 'redirect', disabled: false, options: { baseurl: 'https://cdn.example.com/' } },
  ]);
});

test("Go struct field names are accepted where they differ from the YAML keys", () => {
  const { config } = withEnv({
    REGISTRY_HEALTH_FILECHECKERS_0_FILE: '/tmp/maintenance',
    REGISTRY_NOTIFICATIONS_EVENTCONFIG_INCLUDEREFERENCES: 'true',
    REGISTRY_HEALTH_TCP_0_ADDR: 'redis:6379',
  });
  assert.equal(config.health.file[0]?.file, '/tmp/maintenance');
  assert.equal(config.health.tcp[0]?.addr, 'redis:6379');
  assert.equal(config.notifications.events.includereferences, true);
});

test('the version cannot be overridden; unknown variables are warned about and ignored', () => {
  const { config, warnings } = withEnv({
    REGISTRY_VERSION: '0.2',
    REGISTRY_PORT_5000_TCP_ADDR: '10.0.0.1', // what Kubernetes injects for a service named "registry"
    REGISTRY_HTTP_ADDR_EXTRA: 'x',
    REGISTRY_: 'x',
    OTHER_HTTP_ADDR: ':1',
  });
  assert.equal(config.version, '0.1');
  assert.equal(config.http.addr, ':5000');
  assert.deepEqual(warnings.sort(), [
    'REGISTRY_: does not match any configuration key; ignored',
    'REGISTRY_HTTP_ADDR_EXTRA: does not match any configuration key; ignored',
    'REGISTRY_PORT_5000_TCP_ADDR: does not match any configuration key; ignored',
    'REGISTRY_VERSION: the configuration version cannot be overridden; ignored',
  ]);
});

test('a bad value from the environment is reported against the key', () => {
  const errors = envErrors({ REGISTRY_HTTP_DRAINTIMEOUT: 'soon', REGISTRY_STORAGE_DELETE_ENABLED: '[x' });
  assert.deepEqual(errors.length, 2);
  assert.match(errors[0] ?? '', /^REGISTRY_STORAGE_DELETE_ENABLED: invalid YAML value/);
  assert.equal(errors[1], 'http.draintimeout: invalid duration "soon"');
});

test('an empty value means "not set"', () => {
  const { config } = withEnv({ REGISTRY_HTTP_ADDR: '' });
  assert.equal(config.http.addr, ':5000');
});

test('process.env is used when no env is given', () => {
  const saved = process.env.REGISTRY_HTTP_RELATIVEURLS;
  process.env.REGISTRY_HTTP_RELATIVEURLS = 'true';
  try {
    assert.equal(loadConfiguration({ yamlText: YAML }).config.http.relativeurls, true);
  } finally {
    if (saved === undefined) delete process.env.REGISTRY_HTTP_RELATIVEURLS;
    else process.env.REGISTRY_HTTP_RELATIVEURLS = saved;
  }
});
