/**
 * How the client authenticates to a registry: nothing until the registry asks (401), then what
 * its `WWW-Authenticate` challenge names. Basic sends the configured credentials; Bearer runs the
 * token dance: GET <realm>?service=..&scope=repository:<name>:pull with the credentials (or
 * anonymously), then reuse the token for that scope until shortly before it expires. Token
 * requests for one scope are shared between concurrent callers. State is per instance.
 */
import { parseChallenges, type Challenge } from './challenge.js';
import { drain, header, readAll, type HttpTransport } from './http.js';
import { RegistryResponseError } from './errors.js';
import { waitFor } from '../util/wait-for.js';

export interface Credentials {
  username: string;
  password: string;
}

interface Token {
  value: string;
  /** Epoch milliseconds after which we fetch a new one. */
  renewAt: number;
}

type Scheme = { kind: 'basic' } | { kind: 'bearer'; realm: string; service?: string };

/** Tokens that say nothing about their lifetime live for 60 s (the token spec's default). */
const DEFAULT_TOKEN_SECONDS = 60;

export class Authenticator {
  private scheme: Scheme | undefined;
  private readonly tokens = new Map<string, Token>();
  private readonly pending = new Map<string, Promise<Token>>();

  constructor(
    private readonly transport: HttpTransport,
    private readonly credentials: Credentials | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header for a request in `scope`, if the registry has asked for one. */
  async authorization(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const scheme = this.scheme;
    if (!scheme) return undefined;
    if (scheme.kind === 'basic') return this.basic();
    const token = await this.token(scheme, scope, signal);
    return `Bearer ${token.value}`;
  }

  /**
   * The registry answered 401. Learn its challenge and drop the token used for `scope`. Answers
   * whether retrying could help (a scheme we can answer, and something changed).
   */
  challenged(wwwAuthenticate: string | string[] | undefined, scope: string, sentAuthorization: boolean): boolean {
    const next = pickScheme(parseChallenges(wwwAuthenticate));
    if (!next) return false;
    if (next.kind === 'basic' && !this.credentials) return false;
    const changed = !sameScheme(this.scheme, next);
    this.scheme = next;
    this.tokens.delete(scope);
    // Same scheme and we already sent credentials for it: only a Bearer token can be renewed.
    return changed || !sentAuthorization || next.kind === 'bearer';
  }

  private basic(): string | undefined {
    if (!this.credentials) return undefined;
    const { username, password } = this.credentials;
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private async token(scheme: Extract<Scheme, { kind: 'bearer' }>, scope: string, signal?: AbortSignal): Promise<Token> {
    const cached = this.tokens.get(scope);
    if (cached && cached.renewAt > this.now()) return cached;
    let pending = this.pending.get(scope);
    if (!pending) {
      // Shared by every caller waiting on this scope, so no single caller's signal may cancel it.
      pending = this.fetchToken(scheme, scope).finally(() => this.pending.delete(scope));
      this.pending.set(scope, pending);
    }
    const token = await waitFor(pending, signal);
    this.tokens.set(scope, token);
    return token;
  }

  private async fetchToken(scheme: Extract<Scheme, { kind: 'bearer' }>, scope: string): Promise<Token> {
    const url = new URL(scheme.realm);
    if (scheme.service !== undefined) url.searchParams.set('service', scheme.service);
    url.searchParams.set('scope', scope);
    if (this.credentials) url.searchParams.set('account', this.credentials.username);
    const headers: Record<string, string> = { Accept: 'application/json' };
    const basic = this.basic();
    if (basic) headers.Authorization = basic;
    const started = this.now();
    const res = await this.transport.request({ method: 'GET', url, headers });
    if (res.status !== 200) {
      drain(res.body);
      throw new RegistryResponseError(res.status, `token request to ${url.origin}${url.pathname} answered ${res.status}`, {
        retryAfter: header(res.headers, 'retry-after'),
      });
    }
    const body = await readAll(res.body, 1 << 20);
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      throw new RegistryResponseError(502, `token endpoint ${url.origin}${url.pathname} sent something that is not JSON`);
    }
    const value = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (!value) throw new RegistryResponseError(502, `token endpoint ${url.origin}${url.pathname} sent no token`);
    const seconds = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_SECONDS;
    const issued = typeof doc.issued_at === 'string' ? Date.parse(doc.issued_at) : NaN;
    // Trust our own clock over the issuer's when they disagree by much.
    const start = Number.isFinite(issued) && Math.abs(issued - started) < 60_000 ? issued : started;
    const lifetime = seconds * 1000;
    const slack = Math.min(10_000, lifetime / 10);
    return { value, renewAt: start + lifetime - slack };
  }
}

function pickScheme(challenges: Challenge[]): Scheme | undefined {
  const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
  if (bearer) {
    try {
      const realm = new URL(bearer.params.realm as string);
      if (realm.protocol !== 'http:' && realm.protocol !== 'https:') return undefined;
    } catch {
      return undefined;
    }
    return { kind: 'bearer', realm: bearer.params.realm as string, service: bearer.params.service };
  }
  if (challenges.some((c) => c.scheme === 'basic')) return { kind: 'basic' };
  return undefined;
}

function sameScheme(a: Scheme | undefined, b: Scheme): boolean {
  if (!a || a.kind !== b.kind) return false;
  if (a.kind === 'basic' || b.kind === 'basic') return true;
  return a.realm === b.realm && a.service === b.service;
}
