/**
 * Specs for every top-level section except `storage` (storage.ts). Defaults
 * follow distribution where it has one; where distribution fills a default at
 * use time (health intervals, notification timeouts) we fill it here so the
 * rest of berth reads one value.
 */
import {
  bool,
  custom,
  duration,
  headers,
  int,
  isAbsent,
  isMapping,
  list,
  obj,
  oneOf,
  optional,
  record,
  required,
  str,
  strings,
  type Out,
  type Spec,
} from './spec.js';
import { notificationQueueSpec } from './extensions.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const logSpec = obj({
  level: oneOf(LOG_LEVELS),
  formatter: oneOf(['text', 'json', 'logstash'], 'text'),
  fields: record(),
  accesslog: obj({ disabled: bool(false) }),
  // Mail hooks: accepted so configs load, reported as unsupported by the schema.
  hooks: list(obj({ type: str(), disabled: bool(false), levels: strings(), options: record() })),
  reportcaller: bool(false),
});

export const loglevelSpec = oneOf(LOG_LEVELS);

// ---- auth ----------------------------------------------------------------

export const SIGNING_ALGORITHMS = [
  'EdDSA', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512',
  'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512',
] as const;

const sillySpec = obj({ realm: required(str()), service: required(str()) });
const tokenSpec = obj({
  realm: required(str()),
  service: required(str()),
  issuer: required(str()),
  rootcertbundle: str(),
  jwks: str(),
  autoredirect: bool(false),
  autoredirectpath: str('/auth/token/'),
  signingalgorithms: list(required(oneOf(SIGNING_ALGORITHMS))),
});
const htpasswdSpec = obj({ realm: required(str()), path: required(str()) });

export type AuthConfig =
  | ({ type: 'silly' } & Out<typeof sillySpec>)
  | ({ type: 'token' } & Out<typeof tokenSpec>)
  | ({ type: 'htpasswd' } & Out<typeof htpasswdSpec>);

const AUTH_TYPES = { silly: sillySpec, token: tokenSpec, htpasswd: htpasswdSpec } as const;

/** At most one access controller; `none` (any case) or nothing means no auth. */
export const authSpec: Spec<AuthConfig | undefined> = custom({ kind: 'object', fields: AUTH_TYPES }, (raw, path, ctx) => {
  let input: Record<string, unknown> = {};
  if (typeof raw === 'string' && raw.trim() !== '') input = { [raw.trim()]: null };
  else if (isMapping(raw)) input = raw;
  else if (!isAbsent(raw)) {
    ctx.error(path, 'expected a mapping with one access controller');
    return undefined;
  }
  const keys = Object.keys(input);
  if (keys.length === 0) return undefined;
  if (keys.length > 1) {
    ctx.error(path, `at most one access controller may be configured, found: ${keys.join(', ')}`);
    return undefined;
  }
  const type = keys[0] as string;
  if (type.toLowerCase() === 'none') return undefined;
  if (!Object.hasOwn(AUTH_TYPES, type)) {
    ctx.error([...path, type], `unknown access controller (supported: ${Object.keys(AUTH_TYPES).join(', ')})`);
    return undefined;
  }
  const name = type as keyof typeof AUTH_TYPES;
  const params = AUTH_TYPES[name].decode(input[name], [...path, name], ctx);
  if (name === 'token') {
    const token = params as Out<typeof tokenSpec>;
    if (!token.rootcertbundle && !token.jwks) {
      ctx.error([...path, name, 'rootcertbundle'], 'required key is missing (or set auth.token.jwks)');
    }
  }
  return { type: name, ...params } as AuthConfig;
});

// ---- middleware ----------------------------------------------------------

const middlewareEntry = obj({ name: required(str()), disabled: bool(false), options: record() });
export type MiddlewareEntry = Out<typeof middlewareEntry>;
export const middlewareSpec = obj({
  registry: list(middlewareEntry),
  repository: list(middlewareEntry),
  storage: list(middlewareEntry),
});

// ---- http ----------------------------------------------------------------

export const httpSpec = obj({
  addr: str(':5000'),
  net: oneOf(['tcp', 'unix'], 'tcp'),
  host: str(),
  prefix: str(),
  secret: str(),
  relativeurls: bool(false),
  /** 0: stop at once, without waiting for connections to drain. */
  draintimeout: duration('0'),
  headers: headers(),
  tls: obj({
    certificate: str(),
    key: str(),
    clientcas: strings(),
    clientauth: oneOf(
      ['request-client-cert', 'require-any-client-cert', 'verify-client-cert-if-given', 'require-and-verify-client-cert'],
      'require-and-verify-client-cert',
    ),
    minimumtls: oneOf(['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3'], 'tls1.2'),
    ciphersuites: strings(),
    letsencrypt: obj({ cachefile: str(), email: str(), hosts: strings(), directoryurl: str() }),
  }),
  debug: obj({
    addr: str(),
    prometheus: obj({ enabled: bool(false), path: str('/metrics') }),
  }),
  http2: obj({ disabled: bool(false) }),
  h2c: obj({ enabled: bool(false) }),
});

// ---- notifications -------------------------------------------------------

const endpointSpec = obj({
  name: str(''),
  disabled: bool(false),
  url: str(),
  headers: headers(),
  timeout: duration('1s'),
  threshold: int(10, { min: 0 }),
  backoff: duration('1s'),
  ignoredmediatypes: strings(),
  ignore: obj({ mediatypes: strings(), actions: strings() }),
});
export type NotificationEndpoint = Out<typeof endpointSpec>;

export const notificationsSpec = obj(
  { events: obj({ includereferences: bool(false) }), endpoints: list(endpointSpec), queue: notificationQueueSpec },
  { aliases: { eventconfig: 'events' } },
);

// ---- redis ---------------------------------------------------------------

export const redisSpec = obj({
  addr: str(), // distribution 2.x
  addrs: strings(), // distribution 3.x
  clientname: str(),
  db: int(0, { min: 0 }),
  protocol: int(),
  username: str(),
  password: str(),
  sentinelusername: str(),
  sentinelpassword: str(),
  mastername: str(),
  maxretries: int(),
  minretrybackoff: duration(),
  maxretrybackoff: duration(),
  dialtimeout: duration(),
  readtimeout: duration(),
  writetimeout: duration(),
  poolsize: int(),
  pooltimeout: duration(),
  minidleconns: int(),
  maxidleconns: int(),
  maxactiveconns: int(),
  connmaxidletime: duration(),
  connmaxlifetime: duration(),
  // distribution 2.x pool settings; folded into the 3.x names by the schema.
  pool: obj({ maxidle: int(), maxactive: int(), idletimeout: duration() }),
  tls: obj({ enabled: bool(false), certificate: str(), key: str(), clientcas: strings() }),
});

// ---- health --------------------------------------------------------------

/** Failures in a row before a check reports unhealthy; 0 behaves as 1, as in the reference. */
function threshold(): Spec<number> {
  const base = int(1, { min: 0 });
  return { ...base, decode: (raw, path, ctx) => Math.max(1, base.decode(raw, path, ctx)) };
}

export const healthSpec = obj(
  {
    storagedriver: obj({ enabled: bool(false), interval: duration('10s'), threshold: threshold() }),
    file: list(obj({ file: required(str()), interval: duration('10s'), threshold: threshold() })),
    http: list(
      obj({
        uri: required(str()),
        headers: headers(),
        statuscode: int(200),
        /** undefined: no timeout. */
        timeout: duration(),
        interval: duration('10s'),
        threshold: threshold(),
      }),
    ),
    tcp: list(
      obj({ addr: required(str()), timeout: duration(), interval: duration('10s'), threshold: threshold() }),
    ),
  },
  // Go field names, which distribution's environment overrides use.
  { aliases: { filecheckers: 'file', httpcheckers: 'http', tcpcheckers: 'tcp' } },
);

// ---- proxy ---------------------------------------------------------------

export const proxySpec = obj({
  remoteurl: str(),
  username: str(),
  password: str(),
  exec: optional(obj({ command: required(str()), lifetime: duration() })),
  /** 0 means cached content never expires. */
  ttl: duration('168h'),
  remotenamespace: str(),
  cachewritetimeout: duration(),
});

// ---- validation, catalog, tags, policy, reporting, compatibility ---------

export const validationSpec = obj({
  enabled: bool(), // deprecated in favour of `disabled`
  disabled: bool(false),
  manifests: obj({
    urls: obj({ allow: strings(), deny: strings() }),
    indexes: obj({
      platforms: oneOf(['all', 'none', 'list'], 'all'),
      platformlist: list(obj({ architecture: str(''), os: str('') })),
    }),
  }),
});

export const catalogSpec = obj({ maxentries: int(1000) });
export const tagsSpec = obj({ maxtags: int(0, { min: 0 }) });
export const policySpec = obj({ repository: obj({ classes: strings() }) });

export const reportingSpec = obj({
  bugsnag: obj({ apikey: str(), releasestage: str(), endpoint: str() }),
  newrelic: obj({ licensekey: str(), name: str(), verbose: bool(false) }),
});

export const compatibilitySpec = obj({
  schema1: obj({ signingkeyfile: str(), enabled: bool(false) }),
});
