// Access records, scopes and the access rules on their own.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessRecordsFor, parseScope, parseScopes, scopeOf } from '../../src/auth/access.js';
import { AccessPolicy, globToRegExp } from '../../src/auth/policy.js';
import { grantScopes } from '../../src/auth/tokenserver/server.js';
import type { AccessConfig } from '../../src/config/extensions.js';

const config = (over: Partial<AccessConfig>): AccessConfig => ({ groups: {}, anonymous: [], rules: [], ...over });
const rule = (over: Partial<AccessConfig['rules'][number]>): AccessConfig['rules'][number] => ({ users: [], groups: [], repositories: [], actions: [], catalog: false, ...over });

describe('access records', () => {
  it('derives them from route and method as the reference does', () => {
    const m = { route: 'manifest' as const, name: 'a/b', ref: 'x' };
    assert.deepEqual(accessRecordsFor({ route: 'base' }, 'GET'), []);
    assert.deepEqual(accessRecordsFor({ route: 'catalog' }, 'GET'), [{ type: 'registry', name: 'catalog', action: '*' }]);
    assert.deepEqual(accessRecordsFor(m, 'HEAD').map((r) => r.action), ['pull']);
    assert.deepEqual(accessRecordsFor(m, 'PUT').map((r) => r.action), ['pull', 'push']);
    assert.deepEqual(accessRecordsFor(m, 'PATCH').map((r) => r.action), ['pull', 'push']);
    assert.deepEqual(accessRecordsFor(m, 'DELETE').map((r) => r.action), ['delete']);
  });

  it('writes scopes per resource and parses them back, names with ports included', () => {
    assert.equal(scopeOf(accessRecordsFor({ route: 'upload-start', name: 'a/b' }, 'POST')), 'repository:a/b:pull,push');
    assert.deepEqual(parseScope('repository:localhost:5000/app:pull,push'), { type: 'repository', name: 'localhost:5000/app', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository(plugin):x/y:pull'), { type: 'repository', class: 'plugin', name: 'x/y', actions: ['pull'] });
    assert.equal(parseScope('nonsense'), undefined);
    assert.equal(parseScope('repository:x:'), undefined);
    assert.equal(parseScopes(['repository:a:pull registry:catalog:*', '', 'bad']).length, 2);
  });
});

describe('repository globs', () => {
  const cases: [string, string, boolean][] = [
    ['team/*', 'team/app', true],
    ['team/*', 'team/app/sub', false],
    ['team/**', 'team/app/sub', true],
    ['team/**', 'team', false],
    ['**/app', 'app', true],
    ['**/app', 'a/b/app', true],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['**', 'anything/at/all', true],
    ['lib?', 'lib1', true],
    ['lib?', 'lib/', false],
    ['a.b', 'axb', false],
  ];
  for (const [glob, name, expected] of cases) {
    it(`${glob} ${expected ? 'matches' : 'does not match'} ${name}`, () => assert.equal(globToRegExp(glob).test(name), expected));
  }
});

describe('access policy', () => {
  it('without rules, signed-in users may do everything and anonymous callers nothing', () => {
    const p = new AccessPolicy(config({}));
    assert.deepEqual([...p.repositoryActions('x', 'a/b')], ['pull', 'push', 'delete']);
    assert.equal(p.catalog('x'), true);
    assert.equal(p.repositoryActions(undefined, 'a/b').size, 0);
    assert.equal(p.catalog(undefined), false);
  });

  it('unions the rules that apply to a user directly, by group, or to everyone signed in', () => {
    const p = new AccessPolicy(
      config({
        groups: { devs: ['ann'] },
        anonymous: [{ repositories: ['pub/**'], actions: [] }],
        rules: [rule({ groups: ['devs'], repositories: ['dev/**'], actions: ['push'] }), rule({ users: ['ann'], repositories: ['dev/**'], actions: ['pull'] }), rule({ repositories: ['shared'], actions: ['pull'] })],
      }),
    );
    assert.deepEqual([...p.repositoryActions('ann', 'dev/x')].sort(), ['pull', 'push']);
    assert.deepEqual([...p.repositoryActions('ben', 'shared')], ['pull']);
    assert.deepEqual([...p.repositoryActions('ben', 'pub/x')], ['pull'], 'anonymous grants reach signed-in users too');
    assert.deepEqual([...p.repositoryActions(undefined, 'pub/x')], ['pull']);
    assert.equal(p.repositoryActions('ben', 'dev/x').size, 0);
    assert.equal(p.catalog('ann'), false);
  });

  it('grants the subset of the asked scopes, expanding and reporting *', () => {
    const p = new AccessPolicy(config({ rules: [rule({ users: ['u'], repositories: ['a'], actions: ['*'] }), rule({ users: ['u'], repositories: ['b'], actions: ['pull'] })] }));
    assert.deepEqual(grantScopes(p, 'u', parseScopes(['repository:a:* repository:b:pull,push,delete registry:catalog:*'])), [
      { type: 'repository', name: 'a', actions: ['pull', 'push', 'delete', '*'] },
      { type: 'repository', name: 'b', actions: ['pull'] },
    ]);
  });

  it('reports configuration mistakes with their key', () => {
    assert.throws(() => new AccessPolicy(config({ rules: [rule({ repositories: ['a'], actions: ['pul'] })] })), /^Error: access\.rules\[0\]\.actions\[0\]: unknown action "pul"/);
    assert.throws(() => new AccessPolicy(config({ rules: [rule({ groups: ['nope'], repositories: ['a'], actions: ['pull'] })] })), /access\.rules\[0\]\.groups\[0\]: unknown group "nope"/);
    assert.throws(() => new AccessPolicy(config({ rules: [rule({ users: ['u'] })] })), /access\.rules\[0\]: grants nothing/);
    assert.throws(() => new AccessPolicy(config({ rules: [rule({ users: ['u'], actions: ['pull'] })] })), /access\.rules\[0\]\.repositories: required/);
    assert.throws(() => new AccessPolicy(config({ anonymous: [{ repositories: ['Team/(x)'], actions: [] }] })), /access\.anonymous\[0\]\.repositories\[0\]/);
  });
});
