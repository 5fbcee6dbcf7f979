/**
 * The pull-through cache feature. `proxy.remoteurl` (the reference's section) makes every
 * repository a cache of one upstream; berth's `proxies:` list maps repository name prefixes to
 * upstreams beside hosted repositories. Both may be given: prefixes go to their upstreams and
 * every other name to `proxy.remoteurl`. Writes to a proxied repository answer 405 UNSUPPORTED.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Composition, Installer } from '../composition.js';
import type { Configuration } from '../config/index.js';
import { UnsupportedError } from '../distribution/errors.js';
import type { RequestContext } from '../http/context.js';
import { isValidRepositoryName } from '../reference/reference.js';
import { ProxyNamespace } from '../proxy/proxy-namespace.js';
import { PullThroughCache } from '../proxy/pull-through.js';
import { Upstream, type UpstreamSpec } from '../proxy/upstream.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const DEFAULT_TIMEOUT_MS = 15_000;

/** The configured upstreams, checked; throws naming the offending key. */
export function upstreamSpecs(config: Configuration): UpstreamSpec[] {
  const specs: UpstreamSpec[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  config.proxies.forEach((p, i) => {
    const prefix = p.prefix.trim().replace(/\/+$/, '');
    if (!isValidRepositoryName(prefix)) errors.push(`proxies[${i}].prefix: ${JSON.stringify(p.prefix)} is not a repository name prefix (components of [a-z0-9] separated by . _ __ -, joined by /)`);
    else if (seen.has(prefix)) errors.push(`proxies[${i}].prefix: ${JSON.stringify(prefix)} is configured twice`);
    seen.add(prefix);
    if (!isHttpUrl(p.remoteurl)) errors.push(`proxies[${i}].remoteurl: expected an absolute http(s) URL, got ${JSON.stringify(p.remoteurl)}`);
    specs.push({ prefix, remoteurl: p.remoteurl, username: p.username, password: p.password, ttl: p.ttl, timeoutMs: p.timeout });
  });
  if (errors.length > 0) throw new Error(`invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
  const proxy = config.proxy;
  if (proxy) {
    specs.push({ prefix: '', remoteurl: proxy.remoteurl, username: proxy.username, password: proxy.password, ttl: proxy.ttl, timeoutMs: DEFAULT_TIMEOUT_MS });
  }
  return specs;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
}

function warnUnimplemented(comp: Composition): void {
  const proxy = comp.config.proxy;
  if (!proxy) return;
  const ignored = (['remotenamespace', 'exec', 'cachewritetimeout'] as const).filter((k) => proxy[k] !== undefined);
  if (ignored.length > 0) comp.logger.warn({ keys: ignored.map((k) => `proxy.${k}`) }, 'proxy: these keys are not supported by berth and are ignored');
}

/**
 * The host directory behind the storage driver when it is the plain filesystem driver, checked by
 * writing a probe through the driver and finding it on disk; undefined otherwise.
 */
async function filesystemRoot(comp: Composition): Promise<string | undefined> {
  const storage = comp.config.storage.driver;
  if (storage.name !== 'filesystem' || comp.driver.name !== 'filesystem') return undefined;
  const root = resolve(String(storage.parameters.rootdirectory ?? '/var/lib/registry'));
  const probe = `/proxy-probe-${randomBytes(8).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  try {
    await comp.driver.putContent(probe, token);
    return (await readFile(join(root, probe), 'utf8')) === token ? root : undefined;
  } catch {
    return undefined;
  } finally {
    await comp.driver.delete(probe).catch(() => undefined);
  }
}

export const proxyInstaller: Installer = {
  name: 'proxy',
  async app(comp) {
    const specs = upstreamSpecs(comp.config);
    if (specs.length === 0) return;
    const registry = comp.registry;
    if (!registry) throw new Error('proxy: the storage registry must exist before the app phase');
    warnUnimplemented(comp);
    const logger = comp.logger.child({ component: 'proxy' });
    const cache = new PullThroughCache({
      registry,
      cache: comp.cache,
      logger,
      upstreams: specs.map((s) => new Upstream(s)),
      filesystemRoot: await filesystemRoot(comp),
    });
    await cache.start();
    comp.onClose.push(() => cache.close());
    comp.namespace = new ProxyNamespace(cache, comp.namespace ?? registry);
    // Refuse writes before any handler reads a body or asks the upstream about referenced blobs.
    comp.gates.push((ctx: RequestContext) => {
      const name = ctx.match.name;
      if (name === undefined || !WRITES.has(ctx.method)) return;
      const upstream = cache.upstreamFor(name);
      if (upstream) throw new UnsupportedError(`${name} is a pull-through cache of ${upstream.url}: pushes and deletes are not supported`);
    });
    logger.info(
      { upstreams: cache.upstreams.map((u) => ({ prefix: u.prefix || '*', url: u.url, ttl: u.ttl })), spool: cache.spoolLocation },
      'proxy: pull-through cache enabled',
    );
  },
};
