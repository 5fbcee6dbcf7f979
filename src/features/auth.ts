/**
 * The access control feature: `auth` (silly, htpasswd, token), berth's `access` rules and the
 * built-in token server (`tokenserver`). App phase: a gate that authorizes every API request, the
 * mount check (pull on the source), and the token endpoint as an extra route.
 */
import { createAuth } from '../auth/setup.js';
import type { Installer } from '../composition.js';

export const authInstaller: Installer = {
  name: 'auth',
  async app(comp) {
    const auth = await createAuth(comp.config, comp.logger);
    if (!auth) return;
    comp.gates.push((ctx) => auth.gate(ctx));
    comp.canMountFrom = (ctx, from) => auth.canMountFrom(ctx, from);
    comp.routes.push(...auth.routes);
  },
};
