/**
 * berth's repository-level access rules (`access:` in config.yml), for the htpasswd controller and
 * the built-in token server. Without any rule, an authenticated user may do everything (the
 * reference's htpasswd behaviour); with rules, a user gets the union of what the rules matching
 * them grant. Anonymous grants apply to everyone, signed in or not.
 */
import type { AccessConfig } from '../config/extensions.js';
import { CATALOG_RECORD, REPOSITORY_ACTIONS, type AccessRecord, type RepositoryAction } from './access.js';

interface CompiledRule {
  users: Set<string>;
  groups: string[];
  anyUser: boolean;
  repositories: RegExp[];
  actions: Set<RepositoryAction>;
  catalog: boolean;
}

interface CompiledAnonymous {
  repositories: RegExp[];
  actions: Set<RepositoryAction>;
}

/**
 * A repository glob as a regular expression: `*` and `?` stay within one path component, `**`
 * crosses them (`team/**` is everything under team/, `**\/app` any repository named app).
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

const GLOB_CHARS = /^[a-z0-9._\-/*?]+$/;

function compileActions(actions: string[], key: string): Set<RepositoryAction> {
  const out = new Set<RepositoryAction>();
  actions.forEach((a, i) => {
    const action = a.trim().toLowerCase();
    if (action === '*') REPOSITORY_ACTIONS.forEach((x) => out.add(x));
    else if ((REPOSITORY_ACTIONS as readonly string[]).includes(action)) out.add(action as RepositoryAction);
    else throw new Error(`${key}[${i}]: unknown action ${JSON.stringify(a)} (expected pull, push, delete or *)`);
  });
  return out;
}

function compileGlobs(globs: string[], key: string): RegExp[] {
  return globs.map((g, i) => {
    if (!GLOB_CHARS.test(g)) throw new Error(`${key}[${i}]: ${JSON.stringify(g)} is not a repository pattern (lower-case names, /, * and ?)`);
    return globToRegExp(g);
  });
}

export class AccessPolicy {
  private readonly rules: CompiledRule[];
  private readonly anonymous: CompiledAnonymous[];
  private readonly groupsOf = new Map<string, string[]>();

  /** Throws an Error naming the config key when the section is inconsistent. */
  constructor(config: AccessConfig) {
    for (const [group, members] of Object.entries(config.groups)) {
      for (const user of members) {
        const list = this.groupsOf.get(user) ?? [];
        list.push(group);
        this.groupsOf.set(user, list);
      }
    }
    this.anonymous = config.anonymous.map((a, i) => ({
      repositories: compileGlobs(a.repositories, `access.anonymous[${i}].repositories`),
      // Anonymous access is about pulling: an entry without actions grants pull.
      actions: a.actions.length === 0 ? new Set<RepositoryAction>(['pull']) : compileActions(a.actions, `access.anonymous[${i}].actions`),
    }));
    this.rules = config.rules.map((r, i) => {
      r.groups.forEach((g, j) => {
        if (!Object.hasOwn(config.groups, g)) throw new Error(`access.rules[${i}].groups[${j}]: unknown group ${JSON.stringify(g)} (not in access.groups)`);
      });
      const actions = compileActions(r.actions, `access.rules[${i}].actions`);
      if (actions.size === 0 && !r.catalog) throw new Error(`access.rules[${i}]: grants nothing (give actions or catalog: true)`);
      if (actions.size > 0 && r.repositories.length === 0) throw new Error(`access.rules[${i}].repositories: required when the rule has actions`);
      return {
        users: new Set(r.users),
        groups: r.groups,
        anyUser: r.users.length === 0 && r.groups.length === 0,
        repositories: compileGlobs(r.repositories, `access.rules[${i}].repositories`),
        actions,
        catalog: r.catalog,
      };
    });
  }

  /** True when rules restrict authenticated users (otherwise they may do everything). */
  get restricted(): boolean {
    return this.rules.length > 0;
  }

  private appliesTo(rule: CompiledRule, user: string): boolean {
    if (rule.anyUser || rule.users.has(user)) return true;
    const groups = this.groupsOf.get(user);
    return groups !== undefined && rule.groups.some((g) => groups.includes(g));
  }

  /** What `user` (undefined: anonymous) may do on repository `name`. */
  repositoryActions(user: string | undefined, name: string): Set<RepositoryAction> {
    if (user !== undefined && !this.restricted) return new Set(REPOSITORY_ACTIONS);
    const out = new Set<RepositoryAction>();
    for (const a of this.anonymous) {
      if (a.repositories.some((re) => re.test(name))) a.actions.forEach((x) => out.add(x));
    }
    if (user === undefined) return out;
    for (const rule of this.rules) {
      if (out.size === REPOSITORY_ACTIONS.length) break;
      if (!this.appliesTo(rule, user) || !rule.repositories.some((re) => re.test(name))) continue;
      rule.actions.forEach((x) => out.add(x));
    }
    return out;
  }

  /** May `user` list the catalog? Never anonymously. */
  catalog(user: string | undefined): boolean {
    if (user === undefined) return false;
    if (!this.restricted) return true;
    return this.rules.some((r) => r.catalog && this.appliesTo(r, user));
  }

  allows(user: string | undefined, record: AccessRecord): boolean {
    if (user !== undefined && !this.restricted) {
      // No rules: a signed-in user may do everything, as with the reference.
      if (record.type === 'repository') return (REPOSITORY_ACTIONS as readonly string[]).includes(record.action);
      return record.type === CATALOG_RECORD.type && record.name === CATALOG_RECORD.name;
    }
    if (record.type === CATALOG_RECORD.type && record.name === CATALOG_RECORD.name) return this.catalog(user);
    if (record.type !== 'repository') return false;
    return this.repositoryActions(user, record.name).has(record.action as RepositoryAction);
  }

  /** True when an anonymous caller could be allowed anything at all. */
  get hasAnonymous(): boolean {
    return this.anonymous.length > 0;
  }
}
