import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  NAME_MAX_LENGTH,
  NameInvalidError,
  TAG_MAX_LENGTH,
  TagInvalidError,
  isValidRepositoryName,
  isValidTag,
  parseReference,
  parseRepositoryName,
  parseTag,
  type NameInvalidReason,
  type TagInvalidReason,
} from '../../src/reference/reference.js';
import { DigestError, digestOf } from '../../src/digest/digest.js';

const nameRefused = (name: string, reason: NameInvalidReason, message?: RegExp) => {
  assert.equal(isValidRepositoryName(name), false, name);
  assert.throws(
    () => parseRepositoryName(name),
    (err: unknown) => {
      assert.ok(err instanceof NameInvalidError, String(err));
      assert.equal(err.reason, reason, `${name}: ${err.message}`);
      assert.equal(err.code, 'NAME_INVALID');
      if (message) assert.match(err.message, message);
      return true;
    },
  );
};

const tagRefused = (tag: string, reason: TagInvalidReason) => {
  assert.equal(isValidTag(tag), false, tag);
  assert.throws(
    () => parseTag(tag),
    (err: unknown) => err instanceof TagInvalidError && err.reason === reason,
    tag,
  );
};

describe('repository names', () => {
  it('accepts the grammar of the distribution spec', () => {
    for (const name of [
      'a',
      'library/ubuntu',
      'my-org/my-app',
      'a/b/c/d/e',
      'foo.bar/baz_qux',
      'foo__bar',
      'foo---bar',
      'x0/1y/22',
      'quay.io-mirror/coreos/etcd',
      'a'.repeat(NAME_MAX_LENGTH),
      `${'a'.repeat(127)}/${'b'.repeat(127)}`,
    ]) {
      assert.equal(parseRepositoryName(name), name);
      assert.ok(isValidRepositoryName(name), name);
    }
  });

  it('refuses names that are empty, too long or not strings', () => {
    nameRefused('', 'empty');
    nameRefused('a'.repeat(NAME_MAX_LENGTH + 1), 'too-long', /256 characters long; the limit is 255/);
    nameRefused(`${'a'.repeat(128)}/${'b'.repeat(127)}`, 'too-long');
    assert.throws(() => parseRepositoryName(42 as unknown as string), (e: unknown) => e instanceof NameInvalidError && e.reason === 'not-a-string');
  });

  it('refuses empty path components', () => {
    for (const name of ['/a', 'a/', 'a//b', '/']) nameRefused(name, 'empty-component', /'\/'/);
  });

  it('refuses uppercase with a specific reason', () => {
    nameRefused('Library/ubuntu', 'uppercase', /lowercase/);
    nameRefused('library/Ubuntu', 'uppercase');
  });

  it('refuses bad separators and characters', () => {
    for (const name of ['-a', 'a-', '.a', 'a.', '_a', 'a_', 'a___b', 'a..b', 'a._b', 'a_-b', 'a b', 'a:b', 'a@b', 'ü', 'a/b/-c', 'a%2Fb', 'a\nb']) {
      nameRefused(name, 'invalid-component');
    }
    nameRefused('library/-ubuntu', 'invalid-component', /path component "-ubuntu"/);
  });

  // Inputs that make a backtracking pattern run for a very long time: the timeout fails it.
  it('refuses hostile input', { timeout: 60_000 }, () => {
    for (let i = 0; i < 200; i++) {
      assert.equal(isValidRepositoryName(`${'a-'.repeat(120)}!`), false);
      assert.equal(isValidRepositoryName(`${'a_'.repeat(120)}_`), false);
    }
  });
});

describe('tags', () => {
  it('accepts the grammar', () => {
    for (const tag of ['latest', 'v1.2.3', '1.0', '_internal', 'A-b_c.D', '3.19-alpine', 'x'.repeat(TAG_MAX_LENGTH), 'sha256-abc.sig']) {
      assert.equal(parseTag(tag), tag);
      assert.ok(isValidTag(tag));
    }
  });

  it('refuses bad tags with a reason', () => {
    tagRefused('', 'empty');
    tagRefused('x'.repeat(TAG_MAX_LENGTH + 1), 'too-long');
    tagRefused('.hidden', 'invalid-first-character');
    tagRefused('-x', 'invalid-first-character');
    tagRefused('a/b', 'invalid-character');
    tagRefused('a b', 'invalid-character');
    tagRefused('a+b', 'invalid-character');
    tagRefused('é', 'invalid-first-character');
    assert.throws(() => parseTag(null as unknown as string), (e: unknown) => e instanceof TagInvalidError && e.reason === 'not-a-string');
  });

  it('messages quote and cut the input', () => {
    assert.throws(() => parseTag(`a${'/'.repeat(120)}`), (e: unknown) => e instanceof TagInvalidError && e.message.includes('…'));
  });
});

describe('parseReference', () => {
  const dg = digestOf('hello');

  it('a string without a colon is a tag', () => {
    assert.deepEqual(parseReference('latest'), { kind: 'tag', tag: 'latest' });
    assert.throws(() => parseReference('bad/tag'), TagInvalidError);
    assert.throws(() => parseReference(''), TagInvalidError);
  });

  it('a string with a colon is a digest and must parse', () => {
    assert.deepEqual(parseReference(dg), { kind: 'digest', digest: dg, algorithm: 'sha256', hex: dg.slice(7) });
    const d512 = digestOf('hello', 'sha512');
    assert.equal(parseReference(d512).kind, 'digest');
    assert.throws(() => parseReference('sha256:zz'), DigestError);
    assert.throws(() => parseReference(dg.toUpperCase()), DigestError);
    assert.throws(() => parseReference(':abc'), DigestError);
    assert.throws(() => parseReference('latest:'), DigestError);
    assert.throws(
      () => parseReference('md5:d41d8cd98f00b204e9800998ecf8427e'),
      (e: unknown) => e instanceof DigestError && e.kind === 'unsupported',
    );
  });
});
