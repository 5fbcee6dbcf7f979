/**
 * berth's own configuration sections, beyond what distribution knows. They sit beside the
 * reference's sections so that a distribution config.yml stays valid unchanged:
 *
 *   access:        repository-level rules for the htpasswd and token access controllers
 *   tokenserver:   a built-in Docker token server (users from an htpasswd file)
 *   proxies:       several pull-through upstreams by repository name prefix, beside hosted repos
 *   notifications.queue: where and how much each endpoint's pending events are kept (sections.ts)
 */
import { bool, duration, int, list, map, obj, required, str, strings, type Out } from './spec.js';

/** One grant: who (users and/or groups; none = any authenticated user) gets what, where. */
const ruleSpec = obj({
  users: strings(),
  groups: strings(),
  /** Glob patterns over repository names: `*` within one path component, `**` across them. */
  repositories: strings(),
  /** pull, push, delete, or `*` for all three. */
  actions: strings(),
  /** Grants `registry:catalog:*`. */
  catalog: bool(false),
});

export const accessSpec = obj({
  /** Group name → member user names. */
  groups: map(strings()),
  /** Repositories anyone may pull from without credentials. */
  anonymous: list(obj({ repositories: strings(), actions: strings() })),
  rules: list(ruleSpec),
});
export type AccessConfig = Out<typeof accessSpec>;
export type AccessRule = Out<typeof ruleSpec>;

export const tokenServerSpec = obj({
  enabled: bool(false),
  /** Path the token endpoint answers on (GET and the OAuth2 POST form). */
  path: str('/auth/token'),
  /** Users and bcrypt hashes, as for auth.htpasswd. */
  htpasswd: str(),
  /** `iss` of issued tokens; the registry trusts this issuer. */
  issuer: str('berth-token-server'),
  /** `aud` of issued tokens; defaults to auth.token.service when set. */
  service: str(),
  /** Lifetime of issued tokens. */
  expiration: duration('5m'),
  /** PEM private key (EC P-256, RSA or Ed25519), inline or a file path; generated on first start when absent. */
  signingkey: str(),
  /** Where a generated key is kept (default: beside the filesystem storage root, else ./data). */
  keydirectory: str(),
});
export type TokenServerConfig = Out<typeof tokenServerSpec>;

export const proxiesSpec = list(
  obj({
    /** Repository name prefix served from this upstream, e.g. `docker.io` or `ghcr.io/acme`. */
    prefix: required(str()),
    remoteurl: required(str()),
    username: str(),
    password: str(),
    /** 0 means cached content never expires. */
    ttl: duration('168h'),
    /** How long to wait for the upstream's response headers before treating it as down. */
    timeout: duration('15s'),
  }),
);
export type UpstreamConfig = Out<typeof proxiesSpec>[number];

export const notificationQueueSpec = obj({
  /** Directory for the durable per-endpoint queues (default: beside the filesystem storage root). */
  directory: str(),
  /** Pending events kept per endpoint; past this the oldest are dropped (counted and logged). */
  maxevents: int(100000, { min: 1 }),
});
