/**
 * An ioredis client built from the `redis:` section. One address gives a plain client; several
 * with `mastername` go through Sentinel; several without it form a Cluster (the same choice the
 * reference's universal client makes).
 *
 * Fail-fast settings, because the cache must never hold a request up: commands issued while the
 * connection is down are rejected at once (no offline queue, no retries of in-flight commands),
 * and every command has a deadline (`readtimeout`). ioredis keeps reconnecting in the background
 * with the configured backoff, so the cache comes back by itself.
 *
 * ioredis multiplexes every command over one connection per node, so the pool settings
 * (`poolsize`, `maxidleconns`, ... and 2.x `pool.*`) have nothing to size; they are accepted.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../../config/index.js';

/** The reference's client defaults (go-redis): 5 s to connect, 3 s per reply, 8..512 ms backoff. */
export const REDIS_DEFAULTS = { dialMs: 5000, readMs: 3000, minBackoffMs: 8, maxBackoffMs: 512 } as const;

export type RedisClient = Redis | Cluster;

export interface RedisEndpoint {
  host?: string;
  port?: number;
  /** A unix socket path. */
  path?: string;
}

/** `host:port`, `[v6]:port`, `host` (port 6379), `:port` (localhost) or a unix socket path. */
export function parseRedisAddr(addr: string): RedisEndpoint {
  const a = addr.trim().replace(/^redis:\/\//, '');
  if (a.startsWith('/')) return { path: a };
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(a);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : 6379 };
  const i = a.lastIndexOf(':');
  if (i === -1) return { host: a || '127.0.0.1', port: 6379 };
  const port = Number(a.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`redis.addrs: invalid address ${JSON.stringify(addr)}`);
  return { host: a.slice(0, i) || '127.0.0.1', port };
}

/** How long one command may take before it counts as a failure. */
export function commandTimeoutMs(config: RedisConfig): number {
  return config.readtimeout || config.writetimeout || REDIS_DEFAULTS.readMs;
}

/** Whether any pool-sizing key is set (they have no effect; the installer says so once). */
export function hasPoolSettings(config: RedisConfig): boolean {
  return [config.poolsize, config.maxidleconns, config.maxactiveconns, config.minidleconns, config.connmaxidletime, config.connmaxlifetime, config.pooltimeout].some(
    (v) => v !== undefined && v !== 0,
  );
}

function tlsOptions(config: RedisConfig): RedisOptions['tls'] {
  if (!config.tls.enabled) return undefined;
  const ca = config.tls.clientcas.map((f) => readFileSync(f));
  return {
    ...(config.tls.certificate ? { cert: readFileSync(config.tls.certificate) } : {}),
    ...(config.tls.key ? { key: readFileSync(config.tls.key) } : {}),
    ...(ca.length > 0 ? { ca } : {}),
  };
}

/** Options shared by every connection the client opens. */
export function redisOptions(config: RedisConfig): RedisOptions {
  const minBackoff = config.minretrybackoff || REDIS_DEFAULTS.minBackoffMs;
  const maxBackoff = Math.max(minBackoff, config.maxretrybackoff || REDIS_DEFAULTS.maxBackoffMs);
  const protocol = config.protocol === 2 || config.protocol === 3 ? config.protocol : undefined;
  return {
    db: config.db,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.clientname ? { connectionName: config.clientname } : {}),
    ...(protocol ? { protocol } : {}),
    tls: tlsOptions(config),
    connectTimeout: config.dialtimeout || REDIS_DEFAULTS.dialMs,
    commandTimeout: commandTimeoutMs(config),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The few commands of one lookup leave in one write.
    enableAutoPipelining: true,
    // Reconnect forever, doubling the delay from the minimum up to the maximum.
    retryStrategy: (times) => Math.min(maxBackoff, minBackoff * 2 ** Math.min(times, 16)),
  };
}

export function createRedisClient(config: RedisConfig): RedisClient {
  const base = redisOptions(config);
  const endpoints = config.addrs.map(parseRedisAddr);
  if (config.mastername) {
    return new Redis({
      ...base,
      name: config.mastername,
      sentinels: endpoints.map((e) => ({ host: e.host, port: e.port })),
      ...(config.sentinelusername ? { sentinelUsername: config.sentinelusername } : {}),
      ...(config.sentinelpassword ? { sentinelPassword: config.sentinelpassword } : {}),
    });
  }
  if (endpoints.length > 1) {
    const { db: _db, retryStrategy, ...redisOpts } = base;
    const options: ClusterOptions = {
      redisOptions: redisOpts,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: (times) => retryStrategy?.(times) ?? null,
    };
    return new Cluster(
      endpoints.map((e) => ({ host: e.host, port: e.port })),
      options,
    );
  }
  const [only] = endpoints;
  if (!only) throw new Error('redis: no address configured');
  return new Redis({ ...base, ...only });
}
