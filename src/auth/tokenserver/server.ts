/**
 * The built-in token endpoint (`tokenserver.path`), speaking the Docker token protocol:
 *
 *   GET  <path>?service=..&scope=..[&scope=..][&offline_token=true]   Basic credentials or none
 *   POST <path>  grant_type=password (username, password) | refresh_token (refresh_token),
 *                service, scope (space separated), client_id, access_type=offline
 *
 * Both answer `{token, access_token, expires_in, issued_at}` (plus `refresh_token` when asked for
 * offline access, and `scope` on POST). What is granted is the subset of the requested actions that
 * the access rules allow the caller; a caller without credentials is anonymous. Wrong credentials
 * are a 401, never a silent downgrade to anonymous.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { RawRoute } from '../../composition.js';
import { isValidRepositoryName } from '../../reference/reference.js';
import { parseScopes, REPOSITORY_ACTIONS, type RequestedScope } from '../access.js';
import { basicCredentials, quote } from '../controller.js';
import type { HtpasswdFile } from '../htpasswd/file.js';
import type { AccessPolicy } from '../policy.js';
import type { GrantedAccess, TokenIssuer } from './issuer.js';

export interface TokenServerOptions {
  path: string;
  issuer: TokenIssuer;
  users: HtpasswdFile;
  policy: AccessPolicy;
  logger: Logger;
  /** Realm of the Basic challenge sent with a 401. */
  realm?: string;
}

const MAX_FORM_BYTES = 64 * 1024;

class TokenRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: 'UNAUTHORIZED' | 'UNSUPPORTED',
    readonly oauth: string,
    message: string,
  ) {
    super(message);
  }
}

/** The subset of the requested scopes that the policy grants `user` (undefined: anonymous). */
export function grantScopes(policy: AccessPolicy, user: string | undefined, scopes: RequestedScope[]): GrantedAccess[] {
  const out = new Map<string, GrantedAccess>();
  const add = (type: string, name: string, actions: string[]) => {
    if (actions.length === 0) return;
    const key = `${type}:${name}`;
    const entry = out.get(key);
    if (!entry) out.set(key, { type, name, actions: [...actions] });
    else for (const a of actions) if (!entry.actions.includes(a)) entry.actions.push(a);
  };
  for (const s of scopes) {
    if (s.type === 'repository') {
      if (!isValidRepositoryName(s.name)) continue;
      const allowed = policy.repositoryActions(user, s.name);
      const all = s.actions.includes('*');
      const wanted = all ? [...REPOSITORY_ACTIONS] : s.actions;
      const granted: string[] = wanted.filter((a) => allowed.has(a as (typeof REPOSITORY_ACTIONS)[number]));
      if (all && granted.length === REPOSITORY_ACTIONS.length) granted.push('*');
      add('repository', s.name, granted);
    } else if (s.type === 'registry' && s.name === 'catalog' && s.actions.includes('*') && policy.catalog(user)) {
      add('registry', 'catalog', ['*']);
    }
  }
  return [...out.values()];
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_FORM_BYTES) {
        reject(new TokenRequestError(413, 'UNSUPPORTED', 'invalid_request', 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(bytes.length), 'Cache-Control': 'no-store', ...headers });
  res.end(bytes);
}

export function tokenServerRoute(opts: TokenServerOptions): RawRoute {
  const path = opts.path.replace(/\/+$/, '') || '/';
  const badCredentials = () => new TokenRequestError(401, 'UNAUTHORIZED', 'invalid_grant', 'invalid username or password');

  const checkService = (service: string | null) => {
    if (service !== null && service !== '' && service !== opts.issuer.service) {
      throw new TokenRequestError(400, 'UNSUPPORTED', 'invalid_request', `unknown service ${JSON.stringify(service.slice(0, 100))}; this token server serves ${JSON.stringify(opts.issuer.service)}`);
    }
  };

  const signIn = async (user: string, password: string): Promise<string> => {
    if (!(await opts.users.verify(user, password))) {
      opts.logger.info({ user: user.slice(0, 100) }, 'token server: authentication failed');
      throw badCredentials();
    }
    return user;
  };

  const answer = async (user: string | undefined, scopes: RequestedScope[], offline: boolean, refresh?: string) => {
    const granted = grantScopes(opts.policy, user, scopes);
    const issued = await opts.issuer.accessToken(user ?? '', granted);
    const body: Record<string, unknown> = { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt };
    if (refresh) body.refresh_token = refresh;
    else if (offline && user !== undefined) {
      const hash = await opts.users.hashOf(user);
      if (hash !== undefined) body.refresh_token = await opts.issuer.refreshToken(user, hash);
    }
    opts.logger.info({ user: user ?? '(anonymous)', granted: granted.map((g) => `${g.type}:${g.name}:${g.actions.join(',')}`) }, 'token issued');
    return { body, scope: granted.map((g) => `${g.type}:${g.name}:${g.actions.join(',')}`).join(' ') };
  };

  const handleGet = async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => {
    checkService(query.get('service'));
    const creds = basicCredentials(req);
    if (creds === null) throw badCredentials();
    let user: string | undefined;
    if (creds) {
      const account = query.get('account');
      if (account && account !== creds.user) throw new TokenRequestError(401, 'UNAUTHORIZED', 'invalid_grant', 'account does not match the credentials');
      user = await signIn(creds.user, creds.password);
    }
    const { body } = await answer(user, parseScopes(query.getAll('scope')), query.get('offline_token') === 'true');
    sendJson(res, 200, body);
  };

  const handlePost = async (req: IncomingMessage, res: ServerResponse) => {
    const form = await readForm(req);
    checkService(form.get('service'));
    const scopes = parseScopes(form.getAll('scope'));
    const grant = form.get('grant_type');
    if (grant === 'password') {
      const username = form.get('username');
      const password = form.get('password');
      if (!username || password === null) throw new TokenRequestError(400, 'UNAUTHORIZED', 'invalid_request', 'username and password are required');
      const user = await signIn(username, password);
      const { body, scope } = await answer(user, scopes, form.get('access_type') === 'offline');
      sendJson(res, 200, { ...body, scope });
    } else if (grant === 'refresh_token') {
      const raw = form.get('refresh_token');
      if (!raw) throw new TokenRequestError(400, 'UNAUTHORIZED', 'invalid_request', 'refresh_token is required');
      const user = await opts.issuer.refreshSubject(raw, (u) => opts.users.hashOf(u));
      if (user === undefined) throw new TokenRequestError(401, 'UNAUTHORIZED', 'invalid_grant', 'the refresh token is invalid or expired');
      const { body, scope } = await answer(user, scopes, false, raw);
      sendJson(res, 200, { ...body, scope });
    } else {
      throw new TokenRequestError(400, 'UNSUPPORTED', 'unsupported_grant_type', `unsupported grant_type ${JSON.stringify((grant ?? '').slice(0, 50))}`);
    }
  };

  return async (req, res, requestPath) => {
    if (requestPath !== path && requestPath !== `${path}/`) return false;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    try {
      if (req.method === 'GET') await handleGet(req, res, query);
      else if (req.method === 'POST') await handlePost(req, res);
      else throw new TokenRequestError(405, 'UNSUPPORTED', 'invalid_request', `method ${req.method} not allowed here`);
    } catch (err) {
      if (!(err instanceof TokenRequestError)) throw err;
      const headers: Record<string, string> = {};
      if (err.status === 401) headers['WWW-Authenticate'] = `Basic realm=${quote(opts.realm ?? 'berth token server')}`;
      if (err.status === 405) headers.Allow = 'GET, POST';
      // Both shapes: the registry's error list for Docker-protocol clients, OAuth2 fields for the rest.
      sendJson(res, err.status, { errors: [{ code: err.code, message: err.message }], error: err.oauth, error_description: err.message }, headers);
      if (err.status === 413) req.resume();
    }
    return true;
  };
}
