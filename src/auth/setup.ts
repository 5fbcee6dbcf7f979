/**
 * From the configuration to a working access control: the controller chosen by `auth`, berth's
 * `access` rules, and the built-in token server (`tokenserver`). The registry trusts the token
 * server by itself when `tokenserver.enabled` is true and there is no `auth` section: it then runs
 * the token controller with the server's own public key, its issuer and service, and a realm
 * pointing at the token endpoint on this very listener. With an explicit `auth.token` whose issuer
 * equals `tokenserver.issuer`, the server's key is trusted in addition to the configured ones.
 *
 * Every start-up problem is thrown as an Error naming the configuration key.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RawRoute } from '../composition.js';
import type { Configuration } from '../config/index.js';
import type { RequestContext } from '../http/context.js';
import { accessRecordsFor, type Authorization } from './access.js';
import { externalBase, type AccessController } from './controller.js';
import { htpasswdController } from './htpasswd/controller.js';
import { HtpasswdFile } from './htpasswd/file.js';
import { AccessPolicy } from './policy.js';
import { sillyController } from './silly.js';
import { tokenController } from './token/controller.js';
import { TrustStore } from './token/trust.js';
import { TokenVerifier } from './token/verifier.js';
import { TokenIssuer } from './tokenserver/issuer.js';
import { tokenServerRoute } from './tokenserver/server.js';
import { loadSigningKey, type SigningKey } from './tokenserver/signing-key.js';

export interface AuthSetup {
  /** silly, htpasswd, token, or token (built-in). */
  mode: string;
  gate: (ctx: RequestContext) => Promise<void>;
  /** A cross-repository mount needs pull on the source. */
  canMountFrom: (ctx: RequestContext, from: string) => boolean;
  /** The token endpoint, when the built-in server runs. */
  routes: RawRoute[];
}

interface BuiltInServer {
  key: SigningKey;
  issuer: TokenIssuer;
  route: RawRoute;
}

async function startTokenServer(config: Configuration, policy: AccessPolicy, logger: Logger): Promise<BuiltInServer> {
  const ts = config.tokenserver;
  if (!ts.htpasswd) throw new Error('tokenserver.htpasswd: required when tokenserver.enabled is true (the users who may sign in)');
  if (!ts.path.startsWith('/')) throw new Error(`tokenserver.path: must start with "/", got ${JSON.stringify(ts.path)}`);
  if (ts.expiration < 1000) throw new Error('tokenserver.expiration: must be at least 1s');
  const users = await HtpasswdFile.open({ path: ts.htpasswd, key: 'tokenserver.htpasswd', logger });
  const key = await loadSigningKey(config, logger);
  const service = ts.service ?? (config.auth?.type === 'token' ? config.auth.service : undefined) ?? 'berth';
  const issuer = new TokenIssuer(key, ts.issuer, service, Math.floor(ts.expiration / 1000));
  const route = tokenServerRoute({ path: ts.path, issuer, users, policy, logger });
  return { key, issuer, route };
}

function autoRedirectRealm(path: string): (req: IncomingMessage) => string {
  // As the reference: https unless a proxy says otherwise, the host the client used.
  return (req) => {
    const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0]?.trim() || 'https';
    return `${proto}://${req.headers.host ?? 'localhost'}${path}`;
  };
}

export async function createAuth(config: Configuration, logger: Logger): Promise<AuthSetup | undefined> {
  const auth = config.auth;
  const ts = config.tokenserver;
  const rulesGiven = config.access.rules.length > 0 || config.access.anonymous.length > 0;
  if (!auth && !ts.enabled) {
    if (rulesGiven) logger.warn('access: rules have no effect without auth.htpasswd, auth.token or tokenserver.enabled');
    return undefined;
  }
  if (ts.enabled && auth && auth.type !== 'token') {
    throw new Error(
      `tokenserver.enabled: the built-in token server issues bearer tokens, which auth.${auth.type} does not accept; ` +
        `remove auth.${auth.type} (the registry then trusts the token server by itself) or configure auth.token`,
    );
  }
  const policy = new AccessPolicy(config.access);
  const server = ts.enabled ? await startTokenServer(config, policy, logger) : undefined;

  let controller: AccessController;
  let mode: string;
  if (auth?.type === 'silly') {
    controller = sillyController(auth.realm, auth.service);
    mode = 'silly';
  } else if (auth?.type === 'htpasswd') {
    const file = await HtpasswdFile.open({ path: auth.path, key: 'auth.htpasswd.path', logger });
    controller = htpasswdController(auth.realm, file, policy, logger);
    mode = 'htpasswd';
  } else if (auth?.type === 'token') {
    const trust = await TrustStore.load({ rootcertbundle: auth.rootcertbundle, jwks: auth.jwks, key: 'auth.token' });
    const trustsBuiltIn = server !== undefined && ts.issuer === auth.issuer;
    if (server && trustsBuiltIn) await trust.addKey(server.key.publicKey, server.key.kid);
    if (server && !trustsBuiltIn) {
      logger.warn(`tokenserver.issuer (${ts.issuer}) differs from auth.token.issuer (${auth.issuer}): the registry accepts the built-in server's tokens only if auth.token trusts its key and issuer`);
    }
    if (trust.size === 0) throw new Error('auth.token: no signing key to trust (rootcertbundle and jwks hold none)');
    if (rulesGiven && !trustsBuiltIn) {
      logger.warn('access: rules are applied by the built-in token server; tokens of an external issuer carry their own grants');
    }
    const realm = auth.autoredirect ? autoRedirectRealm(auth.autoredirectpath) : () => auth.realm;
    const verifier = new TokenVerifier({ issuer: auth.issuer, service: auth.service, trust, algorithms: auth.signingalgorithms });
    controller = tokenController({ realm, service: auth.service, verifier, onRejected: (reason) => logger.debug({ reason }, 'bearer token rejected') });
    mode = 'token';
  } else if (server) {
    const trust = new TrustStore();
    await trust.addKey(server.key.publicKey, server.key.kid);
    const verifier = new TokenVerifier({ issuer: server.issuer.issuer, service: server.issuer.service, trust, algorithms: [server.key.alg] });
    const host = config.http.host || undefined;
    controller = tokenController({
      realm: (req) => `${externalBase(req, host)}${ts.path}`,
      service: server.issuer.service,
      verifier,
      onRejected: (reason) => logger.debug({ reason }, 'bearer token rejected'),
    });
    mode = 'token (built-in token server)';
  } else {
    return undefined;
  }

  // What each request was granted, for the mount check later in the same request.
  const grants = new WeakMap<RequestContext, Authorization>();
  logger.info({ mode, rules: config.access.rules.length, anonymous: config.access.anonymous.length, tokenserver: server ? ts.path : undefined }, 'access control enabled');
  return {
    mode,
    async gate(ctx) {
      const authz = await controller.authorize(ctx.req, accessRecordsFor(ctx.match, ctx.method));
      grants.set(ctx, authz);
      if (authz.user !== undefined) ctx.user = authz.user;
    },
    canMountFrom(ctx, from) {
      return grants.get(ctx)?.allows({ type: 'repository', name: from, action: 'pull' }) ?? false;
    },
    routes: server ? [server.route] : [],
  };
}
