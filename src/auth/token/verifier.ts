/**
 * Verifying the registry's bearer tokens: a JWT signed by a trusted key (trust.ts) with an allowed
 * algorithm (never `none`), the configured issuer, the service among its audiences, `exp` required,
 * and `exp`/`nbf` checked with a minute of clock skew as the reference allows. A verified token is
 * remembered until it expires, so the signature is checked once per token, not once per request.
 */
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { AccessRecord } from '../access.js';
import type { TrustStore } from './trust.js';

export const DEFAULT_ALGORITHMS = ['EdDSA', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];
/** Clock skew tolerated on `exp` and `nbf`, in seconds. */
export const LEEWAY_SECONDS = 60;

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

export interface VerifiedToken {
  subject: string;
  /** `type:name` → granted actions. */
  access: Map<string, Set<string>>;
  /** Past this instant (exp plus leeway) the token is no longer accepted. */
  usableUntilMs: number;
}

export function tokenAllows(token: VerifiedToken, record: AccessRecord): boolean {
  const actions = token.access.get(`${record.type}:${record.name}`);
  return actions !== undefined && (actions.has('*') || actions.has(record.action));
}

/** The `access` claim as a lookup table; malformed entries grant nothing. */
function accessOf(payload: JWTPayload): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const claim = payload.access;
  if (!Array.isArray(claim)) return out;
  for (const entry of claim as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { type, name, actions } = entry as { type?: unknown; name?: unknown; actions?: unknown };
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions)) continue;
    const key = `${type}:${name}`;
    const set = out.get(key) ?? new Set<string>();
    for (const a of actions) if (typeof a === 'string') set.add(a);
    out.set(key, set);
  }
  return out;
}

export interface TokenVerifierOptions {
  issuer: string;
  /** The audience tokens must name (`auth.token.service`). */
  service: string;
  trust: TrustStore;
  /** `auth.token.signingalgorithms`; default every asymmetric JWS algorithm. */
  algorithms?: string[];
  /** Verified tokens remembered. Default 4096. */
  cacheSize?: number;
}

export class TokenVerifier {
  private readonly cache = new Map<string, VerifiedToken>();
  private readonly algorithms: string[];

  constructor(private readonly opts: TokenVerifierOptions) {
    this.algorithms = (opts.algorithms && opts.algorithms.length > 0 ? opts.algorithms : DEFAULT_ALGORITHMS).filter((a) => a !== 'none');
  }

  async verify(raw: string): Promise<VerifiedToken> {
    const now = Date.now();
    const cached = this.cache.get(raw);
    if (cached) {
      if (now <= cached.usableUntilMs) return cached;
      this.cache.delete(raw);
      throw new InvalidTokenError('token expired');
    }
    let header;
    try {
      header = decodeProtectedHeader(raw);
    } catch {
      throw new InvalidTokenError('malformed token');
    }
    if (typeof header.alg !== 'string' || !this.algorithms.includes(header.alg)) {
      throw new InvalidTokenError(`signing algorithm ${JSON.stringify(String(header.alg))} is not accepted`);
    }
    let keys;
    try {
      keys = await this.opts.trust.candidates(header, now);
    } catch (err) {
      throw new InvalidTokenError((err as Error).message);
    }
    let lastError: unknown;
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(raw, key, {
          issuer: this.opts.issuer,
          audience: this.opts.service,
          algorithms: this.algorithms,
          clockTolerance: LEEWAY_SECONDS,
          requiredClaims: ['exp'],
        });
        const token: VerifiedToken = {
          subject: typeof payload.sub === 'string' ? payload.sub : '',
          access: accessOf(payload),
          usableUntilMs: ((payload.exp as number) + LEEWAY_SECONDS) * 1000,
        };
        this.remember(raw, token);
        return token;
      } catch (err) {
        lastError = err;
      }
    }
    throw new InvalidTokenError(`token rejected: ${(lastError as Error | undefined)?.message ?? 'no key'}`);
  }

  private remember(raw: string, token: VerifiedToken): void {
    this.cache.set(raw, token);
    const max = this.opts.cacheSize ?? 4096;
    while (this.cache.size > max) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}
