/**
 * `auth.htpasswd`: Basic credentials checked against the file, a `Basic realm` challenge when they
 * are missing or wrong. berth adds the access rules: a signed-in user is held to them (403 DENIED
 * past them), and a caller without credentials gets what anonymous access allows. The base route
 * always needs credentials, so that clients learn the scheme from it.
 */
import type { Logger } from 'pino';
import type { AccessRecord, Authorization } from '../access.js';
import { basicCredentials, denied, quote, unauthorized, type AccessController } from '../controller.js';
import type { AccessPolicy } from '../policy.js';
import type { HtpasswdFile } from './file.js';

/** What the rules let one caller (undefined: anonymous) do. */
export class PolicyAuthorization implements Authorization {
  constructor(
    private readonly policy: AccessPolicy,
    readonly user: string | undefined,
  ) {}

  allows(record: AccessRecord): boolean {
    return this.policy.allows(this.user, record);
  }

  allowsAll(records: readonly AccessRecord[]): boolean {
    for (const r of records) if (!this.policy.allows(this.user, r)) return false;
    return true;
  }
}

export function htpasswdController(realm: string, file: HtpasswdFile, policy: AccessPolicy, logger?: Logger): AccessController {
  const challenge = `Basic realm=${quote(realm)}`;
  const anonymous = new PolicyAuthorization(policy, undefined);
  return {
    async authorize(req, records) {
      const creds = basicCredentials(req);
      if (creds === undefined && records.length > 0 && anonymous.allowsAll(records)) return anonymous;
      if (!creds) throw unauthorized(records, challenge);
      if (!(await file.verify(creds.user, creds.password))) {
        logger?.info({ user: creds.user.slice(0, 100) }, 'authentication failed');
        throw unauthorized(records, challenge);
      }
      const authz = new PolicyAuthorization(policy, creds.user);
      if (!authz.allowsAll(records)) throw denied(records);
      return authz;
    },
  };
}
