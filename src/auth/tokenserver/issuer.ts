/**
 * Signing what the built-in token server hands out: access tokens in the Docker token format (the
 * `access` claim lists the granted actions per resource) and refresh tokens for the OAuth2 flow.
 * A refresh token is a JWT of its own audience, so the registry never takes it for an access token,
 * and it carries a fingerprint of the user's password hash: changing the password revokes it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { SigningKey } from './signing-key.js';

export interface GrantedAccess {
  type: string;
  name: string;
  actions: string[];
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: string;
}

/** Refresh tokens live this long; a new password ends them earlier. */
export const REFRESH_LIFETIME_SECONDS = 90 * 24 * 3600;

export function passwordFingerprint(hash: string): string {
  return createHash('sha256').update(hash).digest('base64url').slice(0, 22);
}

export class TokenIssuer {
  constructor(
    private readonly key: SigningKey,
    readonly issuer: string,
    readonly service: string,
    /** Access token lifetime in seconds. */
    readonly lifetime: number,
  ) {}

  private get refreshAudience(): string {
    return `${this.service}#refresh`;
  }

  async accessToken(subject: string, access: GrantedAccess[]): Promise<IssuedToken> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(subject)
      .setAudience(this.service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + this.lifetime)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.key.privateKey);
    return { token, expiresIn: this.lifetime, issuedAt: new Date(now * 1000).toISOString() };
  }

  async refreshToken(subject: string, passwordHash: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ pwh: passwordFingerprint(passwordHash) })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(subject)
      .setAudience(this.refreshAudience)
      .setIssuedAt(now)
      .setExpirationTime(now + REFRESH_LIFETIME_SECONDS)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.key.privateKey);
  }

  /** The user a refresh token speaks for, if it is ours, current, and the password unchanged. */
  async refreshSubject(raw: string, currentHash: (user: string) => Promise<string | undefined>): Promise<string | undefined> {
    let payload;
    try {
      ({ payload } = await jwtVerify(raw, this.key.publicKey, {
        issuer: this.issuer,
        audience: this.refreshAudience,
        algorithms: [this.key.alg],
        requiredClaims: ['exp', 'sub'],
      }));
    } catch {
      return undefined;
    }
    const user = payload.sub as string;
    const hash = await currentHash(user);
    if (hash === undefined || typeof payload.pwh !== 'string') return undefined;
    const a = Buffer.from(payload.pwh);
    const b = Buffer.from(passwordFingerprint(hash));
    return a.length === b.length && timingSafeEqual(a, b) ? user : undefined;
  }
}
