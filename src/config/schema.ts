/**
 * The typed registry configuration and its validation.
 *
 * `checkConfiguration` decodes a raw tree (from YAML, after environment
 * overrides) and applies the rules that span several keys. Every error and
 * warning starts with the full key path, e.g.
 * `storage.filesystem.rootdirectory: expected a string`. Unknown keys and
 * sections, deprecated names and features berth does not implement produce
 * warnings, never errors, so an existing distribution config keeps loading.
 */
import {
  authSpec,
  catalogSpec,
  compatibilitySpec,
  healthSpec,
  httpSpec,
  logSpec,
  loglevelSpec,
  middlewareSpec,
  notificationsSpec,
  policySpec,
  proxySpec,
  redisSpec,
  reportingSpec,
  tagsSpec,
  validationSpec,
  type AuthConfig,
  type LogLevel,
} from './sections.js';
import { DecodeContext, isAbsent, isMapping, obj, own, str, SourceMap, type Out, type Path } from './spec.js';
import { storageSpec, type StorageConfig } from './storage.js';
import { accessSpec, proxiesSpec, tokenServerSpec, type AccessConfig, type TokenServerConfig, type UpstreamConfig } from './extensions.js';

/** The whole key tree; the environment override code walks it too. */
export const CONFIG_SPEC = obj({
  version: str(),
  log: logSpec,
  loglevel: loglevelSpec,
  storage: storageSpec,
  auth: authSpec,
  middleware: middlewareSpec,
  reporting: reportingSpec,
  http: httpSpec,
  notifications: notificationsSpec,
  redis: redisSpec,
  health: healthSpec,
  proxy: proxySpec,
  validation: validationSpec,
  catalog: catalogSpec,
  tags: tagsSpec,
  policy: policySpec,
  compatibility: compatibilitySpec,
  // berth extensions (extensions.ts)
  access: accessSpec,
  tokenserver: tokenServerSpec,
  proxies: proxiesSpec,
});

type Decoded = Out<typeof CONFIG_SPEC>;

export type LogConfig = Omit<Decoded['log'], 'level' | 'hooks'> & { level: LogLevel };
export type MiddlewareConfig = Decoded['middleware'];
export type HttpConfig = Decoded['http'];
export type NotificationsConfig = Decoded['notifications'];
export type HealthConfig = Decoded['health'];
export type CatalogConfig = Decoded['catalog'];
export type TagsConfig = Decoded['tags'];
export type PolicyConfig = Decoded['policy'];

/** Only present when an address is configured. Durations in milliseconds. */
export type RedisConfig = Omit<Decoded['redis'], 'addr' | 'pool'>;

/** Only present when `proxy.remoteurl` is set. `ttl` 0 means never expire. */
export type ProxyConfig = Omit<Decoded['proxy'], 'remoteurl'> & { remoteurl: string };

export interface ValidationConfig {
  /** Effective switch: true unless `disabled: true` (and the old `enabled` is not true). */
  enabled: boolean;
  /** Regular expressions in Go (RE2) syntax, as written. */
  manifests: Decoded['validation']['manifests'];
}

export interface Configuration {
  version: '0.1';
  log: LogConfig;
  storage: StorageConfig;
  /** undefined: no access control. */
  auth: AuthConfig | undefined;
  middleware: MiddlewareConfig;
  http: HttpConfig;
  notifications: NotificationsConfig;
  redis: RedisConfig | undefined;
  health: HealthConfig;
  proxy: ProxyConfig | undefined;
  validation: ValidationConfig;
  catalog: CatalogConfig;
  tags: TagsConfig;
  policy: PolicyConfig;
  /** berth: repository-level access rules. */
  access: AccessConfig;
  /** berth: the built-in token server. */
  tokenserver: TokenServerConfig;
  /** berth: pull-through upstreams by repository prefix, beside hosted repositories. */
  proxies: UpstreamConfig[];
}

export class ConfigurationError extends Error {
  constructor(
    readonly errors: string[],
    readonly warnings: string[] = [],
    origin?: string,
  ) {
    const where = origin ? ` (${origin})` : '';
    super(`invalid configuration${where}:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

export interface CheckResult {
  /** undefined when there are errors. */
  config: Configuration | undefined;
  errors: string[];
  warnings: string[];
}

/** True when `raw` holds anything other than nulls and empty mappings/lists. */
function hasContent(raw: unknown): boolean {
  if (isAbsent(raw)) return false;
  if (Array.isArray(raw)) return raw.length > 0;
  if (isMapping(raw)) return Object.values(raw).some(hasContent);
  return raw !== '' && raw !== false;
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
}

/** Decode and cross-check a raw configuration tree. Never throws for content problems. */
export function checkConfiguration(raw: unknown, sources: SourceMap = new SourceMap()): CheckResult {
  const ctx = new DecodeContext(sources);
  if (!isMapping(raw)) {
    ctx.error([], isAbsent(raw) ? 'the configuration is empty' : 'expected a mapping at the top level');
    return { config: undefined, errors: ctx.errors, warnings: ctx.warnings };
  }
  const d = CONFIG_SPEC.decode(raw, [], ctx);
  const at = (...path: Path) => path;

  if (d.version === undefined) ctx.error(at('version'), 'required key is missing (use "version: 0.1")');
  else if (d.version.trim() !== '0.1') ctx.error(at('version'), `unsupported version ${JSON.stringify(d.version)}, only 0.1 is supported`);

  // log
  if (d.loglevel !== undefined) ctx.warn(at('loglevel'), 'deprecated, use log.level');
  if (d.log.hooks.length > 0) ctx.warn(at('log', 'hooks'), 'log hooks are not supported by berth; ignored');
  const { hooks: _hooks, level: _level, ...logRest } = d.log;
  const log: LogConfig = { ...logRest, level: d.log.level ?? d.loglevel ?? 'info' };

  // http
  const tls = d.http.tls;
  if (tls.certificate && !tls.key) ctx.error(at('http', 'tls', 'key'), 'required when http.tls.certificate is set');
  if (tls.key && !tls.certificate) ctx.error(at('http', 'tls', 'certificate'), 'required when http.tls.key is set');
  if (hasContent(own(own(own(raw, 'http'), 'tls'), 'letsencrypt'))) {
    const fallback = tls.certificate ? '' : '; without http.tls.certificate the server runs without TLS';
    ctx.warn(at('http', 'tls', 'letsencrypt'), `Let's Encrypt is not supported by berth; ignored${fallback}`);
  }
  if (d.http.host && !isHttpUrl(d.http.host)) {
    ctx.warn(at('http', 'host'), 'not an absolute http(s) URL; URLs will be derived from each request');
  }
  if (d.http.prefix && !d.http.prefix.startsWith('/')) {
    ctx.warn(at('http', 'prefix'), 'should start and end with "/", e.g. /my/nested/registry/');
  }

  // notifications
  d.notifications.endpoints.forEach((ep, i) => {
    if (!ep.disabled && !ep.url) ctx.error(at('notifications', 'endpoints', i, 'url'), 'required key is missing');
  });

  // redis: 2.x `addr` and `pool` folded into the 3.x names
  const { addr, pool, ...redisRest } = d.redis;
  let redis: RedisConfig | undefined;
  const addrs = redisRest.addrs.length > 0 ? redisRest.addrs : addr ? [addr] : [];
  if (addr && redisRest.addrs.length > 0) ctx.warn(at('redis', 'addr'), 'ignored because redis.addrs is set');
  if (addrs.length > 0) {
    redis = {
      ...redisRest,
      addrs,
      maxidleconns: redisRest.maxidleconns ?? pool.maxidle,
      maxactiveconns: redisRest.maxactiveconns ?? pool.maxactive,
      connmaxidletime: redisRest.connmaxidletime ?? pool.idletimeout,
      tls: { ...redisRest.tls, enabled: redisRest.tls.enabled || !!redisRest.tls.certificate },
    };
  } else if (hasContent(own(raw, 'redis'))) {
    ctx.warn(at('redis'), 'no redis.addr or redis.addrs given; redis is not configured');
  }
  const cache = d.storage.cache;
  if (cache.blobdescriptor === 'redis') {
    if (!redis) ctx.error(at('storage', 'cache', 'blobdescriptor'), 'the redis cache needs a redis section with addr or addrs');
    if (own(own(own(raw, 'storage'), 'cache'), 'blobdescriptorsize') !== undefined) {
      ctx.warn(at('storage', 'cache', 'blobdescriptorsize'), 'has no effect with the redis cache');
    }
  }

  // proxy
  let proxy: ProxyConfig | undefined;
  const { remoteurl, ...proxyRest } = d.proxy;
  if (remoteurl) {
    if (!isHttpUrl(remoteurl)) ctx.error(at('proxy', 'remoteurl'), `expected an absolute http(s) URL, got ${JSON.stringify(remoteurl)}`);
    proxy = { ...proxyRest, remoteurl };
  } else if (hasContent(own(raw, 'proxy'))) {
    ctx.warn(at('proxy'), 'no proxy.remoteurl given; the registry does not run as a pull-through cache');
  }

  // validation
  if (d.validation.enabled !== undefined) ctx.warn(at('validation', 'enabled'), 'deprecated, use validation.disabled');
  const validation: ValidationConfig = {
    enabled: d.validation.enabled === true || !d.validation.disabled,
    manifests: d.validation.manifests,
  };
  for (const which of ['allow', 'deny'] as const) {
    d.validation.manifests.urls[which].forEach((re, i) => {
      try {
        new RegExp(re);
      } catch (err) {
        ctx.warn(at('validation', 'manifests', 'urls', which, i), `not a JavaScript-compatible regular expression: ${(err as Error).message}`);
      }
    });
  }

  // accepted for compatibility, not implemented
  if (d.policy.repository.classes.length > 0) {
    ctx.warn(at('policy', 'repository', 'classes'), 'repository classes are not enforced by berth; ignored');
  }
  for (const service of ['bugsnag', 'newrelic'] as const) {
    if (hasContent(own(own(raw, 'reporting'), service))) {
      ctx.warn(at('reporting', service), 'error reporting is not supported by berth; ignored');
    }
  }
  if (hasContent(own(own(raw, 'compatibility'), 'schema1'))) {
    ctx.warn(at('compatibility', 'schema1'), 'schema1 manifests are not supported by berth; ignored');
  }

  const config: Configuration = {
    version: '0.1',
    log,
    storage: d.storage,
    auth: d.auth,
    middleware: d.middleware,
    http: d.http,
    notifications: d.notifications,
    redis,
    health: d.health,
    proxy,
    validation,
    catalog: { maxentries: d.catalog.maxentries > 0 ? d.catalog.maxentries : 1000 },
    tags: d.tags,
    policy: d.policy,
    access: d.access,
    tokenserver: d.tokenserver,
    proxies: d.proxies,
  };
  const ok = ctx.errors.length === 0;
  return { config: ok ? config : undefined, errors: ctx.errors, warnings: ctx.warnings };
}

/** Like checkConfiguration, but throws ConfigurationError listing every error. */
export function validateConfiguration(raw: unknown, sources?: SourceMap): { config: Configuration; warnings: string[] } {
  const result = checkConfiguration(raw, sources);
  if (!result.config) throw new ConfigurationError(result.errors, result.warnings);
  return { config: result.config, warnings: result.warnings };
}
