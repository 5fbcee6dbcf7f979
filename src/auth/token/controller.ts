/**
 * `auth.token`: a Bearer token whose `access` claim must cover every record of the request. Without
 * a token, or with one that does not verify, the answer is 401 with
 * `Bearer realm="...",service="...",scope="..."` (plus `error="invalid_token"` for a bad token);
 * a valid token lacking a record gets `error="insufficient_scope"`, still 401 as in the reference,
 * so that clients fetch a token with the scope and retry.
 */
import type { IncomingMessage } from 'node:http';
import { scopeOf, type AccessRecord, type Authorization } from '../access.js';
import { authorizationHeader, quote, unauthorized, type AccessController } from '../controller.js';
import { InvalidTokenError, tokenAllows, type TokenVerifier, type VerifiedToken } from './verifier.js';

/** What a verified token lets its bearer do: exactly its `access` claim. */
class TokenAuthorization implements Authorization {
  readonly user: string | undefined;
  constructor(private readonly token: VerifiedToken) {
    this.user = token.subject || undefined;
  }

  allows(record: AccessRecord): boolean {
    return tokenAllows(this.token, record);
  }
}

export interface TokenControllerOptions {
  /** The token endpoint clients are sent to (fixed, or derived from the request). */
  realm: (req: IncomingMessage) => string;
  service: string;
  verifier: TokenVerifier;
  onRejected?: (reason: string) => void;
}

type Problem = 'invalid_token' | 'insufficient_scope' | undefined;

export function tokenController(opts: TokenControllerOptions): AccessController {
  const challenge = (req: IncomingMessage, records: readonly AccessRecord[], problem: Problem) => {
    let value = `Bearer realm=${quote(opts.realm(req))},service=${quote(opts.service)}`;
    const scope = scopeOf(records);
    if (scope !== '') value += `,scope=${quote(scope)}`;
    if (problem) value += `,error=${quote(problem)}`;
    return value;
  };
  return {
    async authorize(req, records) {
      const auth = authorizationHeader(req);
      if (!auth || auth.scheme !== 'bearer' || auth.value === '') throw unauthorized(records, challenge(req, records, undefined));
      let token;
      try {
        token = await opts.verifier.verify(auth.value);
      } catch (err) {
        if (!(err instanceof InvalidTokenError)) throw err;
        opts.onRejected?.(err.message);
        throw unauthorized(records, challenge(req, records, 'invalid_token'));
      }
      for (const r of records) {
        if (!tokenAllows(token, r)) throw unauthorized(records, challenge(req, records, 'insufficient_scope'));
      }
      return new TokenAuthorization(token);
    },
  };
}
