/**
 * `auth.silly`, the reference's test controller: any Authorization header is accepted (as the user
 * "silly"); without one, a Bearer challenge listing each needed record as its own scope.
 */
import type { AccessController } from './controller.js';
import { quote, unauthorized } from './controller.js';

export function sillyController(realm: string, service: string): AccessController {
  return {
    authorize(req, records) {
      if (!req.headers.authorization) {
        let challenge = `Bearer realm=${quote(realm)},service=${quote(service)}`;
        if (records.length > 0) challenge += `,scope=${quote(records.map((r) => `${r.type}:${r.name}:${r.action}`).join(' '))}`;
        throw unauthorized(records, challenge);
      }
      return { user: 'silly', allows: () => true };
    },
  };
}
