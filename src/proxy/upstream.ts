/**
 * One upstream registry the cache pulls from: its client (with its own credentials), its TTL, and
 * how a local repository name becomes the upstream's name. With a prefix (berth's `proxies:`),
 * `docker.io/library/nginx` is `library/nginx` upstream; without one (`proxy:`), names are kept.
 * Docker Hub keeps official images under `library/`, so a one-component name gains that prefix
 * when the upstream is Docker Hub, as docker itself does.
 */
import { RegistryClient } from '../client/registry-client.js';

/** After the upstream failed to answer, cached answers go first for this long. */
const DOWN_GRACE_MS = 10_000;

const DOCKER_HUB_HOSTS = new Set(['registry-1.docker.io', 'index.docker.io', 'docker.io', 'registry.hub.docker.com']);

export interface UpstreamSpec {
  /** Local name prefix without a trailing slash; '' for the reference's whole-registry mirror. */
  prefix: string;
  remoteurl: string;
  username?: string;
  password?: string;
  /** Milliseconds; 0 means cached content never expires. */
  ttl: number;
  /** Response-header deadline for upstream calls (ms). */
  timeoutMs?: number;
}

export class Upstream {
  readonly client: RegistryClient;
  readonly prefix: string;
  readonly ttl: number;
  readonly url: string;
  readonly dockerHub: boolean;
  private downUntil = 0;

  constructor(spec: UpstreamSpec) {
    this.prefix = spec.prefix;
    this.ttl = spec.ttl;
    this.url = spec.remoteurl;
    this.dockerHub = DOCKER_HUB_HOSTS.has(new URL(spec.remoteurl).hostname);
    const credentials = spec.username ? { username: spec.username, password: spec.password ?? '' } : undefined;
    this.client = new RegistryClient({ url: spec.remoteurl, credentials, timeoutMs: spec.timeoutMs, userAgent: 'berth-proxy' });
  }

  /** Does this upstream serve the local repository `name`? */
  serves(name: string): boolean {
    return this.prefix === '' || name.startsWith(`${this.prefix}/`);
  }

  /** The repository's name at the upstream. */
  remoteName(name: string): string {
    const stripped = this.prefix === '' ? name : name.slice(this.prefix.length + 1);
    return this.dockerHub && !stripped.includes('/') ? `library/${stripped}` : stripped;
  }

  /** The upstream did not answer (refused, reset, timed out). */
  noteUnreachable(): void {
    this.downUntil = Date.now() + DOWN_GRACE_MS;
  }

  /** True shortly after the upstream failed to answer: serve what is cached without asking it. */
  get recentlyUnreachable(): boolean {
    return Date.now() < this.downUntil;
  }

  /** For logs. */
  describe(): string {
    return this.prefix ? `${this.prefix} -> ${this.url}` : this.url;
  }

  close(): void {
    this.client.close();
  }
}
