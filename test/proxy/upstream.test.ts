// Pieces of the cache that need no upstream: WWW-Authenticate parsing, repository name mapping
// (prefixes, Docker Hub's library/), and the configuration of upstreams (both sections, checks).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseChallenges } from '../../src/client/challenge.js';
import { validateConfiguration } from '../../src/config/index.js';
import { upstreamSpecs } from '../../src/features/proxy.js';
import { Upstream } from '../../src/proxy/upstream.js';

const base = { version: '0.1', storage: { inmemory: {} } };

describe('WWW-Authenticate parsing', () => {
  it('reads Bearer and Basic challenges with quoted and plain parameters', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    assert.deepEqual(parseChallenges('Basic realm="a, b", Bearer realm=https://x/t, error="invalid_token"'), [
      { scheme: 'basic', params: { realm: 'a, b' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', error: 'invalid_token' } },
    ]);
    assert.deepEqual(parseChallenges(['BEARER Realm="q\\"uote"']), [{ scheme: 'bearer', params: { realm: 'q"uote' } }]);
    assert.deepEqual(parseChallenges(undefined), []);
  });
});

describe('upstream names', () => {
  it('keeps names for the whole-registry mirror and strips a prefix', () => {
    const mirror = new Upstream({ prefix: '', remoteurl: 'http://127.0.0.1:1', ttl: 0 });
    assert.ok(mirror.serves('anything/at/all'));
    assert.equal(mirror.remoteName('team/app'), 'team/app');
    assert.equal(mirror.remoteName('app'), 'app');

    const ghcr = new Upstream({ prefix: 'ghcr.io', remoteurl: 'https://ghcr.io', ttl: 0 });
    assert.ok(ghcr.serves('ghcr.io/acme/tool'));
    assert.equal(ghcr.serves('ghcr.io'), false);
    assert.equal(ghcr.serves('ghcr.iox/acme'), false);
    assert.equal(ghcr.remoteName('ghcr.io/acme/tool'), 'acme/tool');
    [mirror, ghcr].forEach((u) => u.close());
  });

  it('maps one-component names to library/ on Docker Hub only', () => {
    const hub = new Upstream({ prefix: 'docker.io', remoteurl: 'https://registry-1.docker.io', ttl: 0 });
    assert.equal(hub.remoteName('docker.io/nginx'), 'library/nginx');
    assert.equal(hub.remoteName('docker.io/library/nginx'), 'library/nginx');
    assert.equal(hub.remoteName('docker.io/bitnami/redis'), 'bitnami/redis');
    const hubMirror = new Upstream({ prefix: '', remoteurl: 'https://index.docker.io', ttl: 0 });
    assert.equal(hubMirror.remoteName('alpine'), 'library/alpine');
    const other = new Upstream({ prefix: 'quay', remoteurl: 'https://quay.io', ttl: 0 });
    assert.equal(other.remoteName('quay/nginx'), 'nginx');
    [hub, hubMirror, other].forEach((u) => u.close());
  });
});

describe('upstream configuration', () => {
  it('takes proxy: and proxies: together, with defaults', () => {
    const { config } = validateConfiguration({
      ...base,
      proxy: { remoteurl: 'https://registry-1.docker.io', username: 'u', password: 'p' },
      proxies: [{ prefix: 'ghcr.io/', remoteurl: 'https://ghcr.io', ttl: '1h', timeout: '3s' }, { prefix: 'quay.io', remoteurl: 'https://quay.io' }],
    });
    assert.deepEqual(upstreamSpecs(config), [
      { prefix: 'ghcr.io', remoteurl: 'https://ghcr.io', username: undefined, password: undefined, ttl: 3_600_000, timeoutMs: 3000 },
      { prefix: 'quay.io', remoteurl: 'https://quay.io', username: undefined, password: undefined, ttl: 168 * 3_600_000, timeoutMs: 15_000 },
      { prefix: '', remoteurl: 'https://registry-1.docker.io', username: 'u', password: 'p', ttl: 168 * 3_600_000, timeoutMs: 15_000 },
    ]);
  });

  it('names the key of a bad prefix, a duplicate or a bad URL', () => {
    const check = (proxies: unknown[]) => () => upstreamSpecs(validateConfiguration({ ...base, proxies }).config);
    assert.throws(check([{ prefix: 'Docker.IO', remoteurl: 'https://x' }]), /proxies\[0\]\.prefix: "Docker\.IO" is not a repository name prefix/);
    assert.throws(check([{ prefix: 'a', remoteurl: 'https://x' }, { prefix: 'a/', remoteurl: 'https://y' }]), /proxies\[1\]\.prefix: "a" is configured twice/);
    assert.throws(check([{ prefix: 'a', remoteurl: 'ftp://x' }]), /proxies\[0\]\.remoteurl: expected an absolute http\(s\) URL/);
  });
});
