import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DigestError, algorithmOf, digestOf, hexOf, isDigest, parseDigest, type Digest } from '../../src/digest/digest.js';

const HEX256 = createHash('sha256').update('berth').digest('hex');
const HEX512 = createHash('sha512').update('berth').digest('hex');

function rejects(input: string, kind: 'invalid' | 'unsupported' = 'invalid'): DigestError {
  let caught: unknown;
  try {
    parseDigest(input);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DigestError, `expected DigestError for ${JSON.stringify(input.slice(0, 80))}`);
  assert.equal(caught.kind, kind, `kind for ${JSON.stringify(input.slice(0, 80))}: ${caught.message}`);
  assert.equal(caught.name, 'DigestError');
  return caught;
}

describe('parseDigest', () => {
  it('accepts lowercase sha256 and sha512 digests', () => {
    const a = parseDigest(`sha256:${HEX256}`);
    assert.deepEqual(a, { digest: `sha256:${HEX256}`, algorithm: 'sha256', hex: HEX256 });
    const b = parseDigest(`sha512:${HEX512}`);
    assert.deepEqual(b, { digest: `sha512:${HEX512}`, algorithm: 'sha512', hex: HEX512 });
    assert.equal(parseDigest(`sha256:${'0'.repeat(64)}`).hex, '0'.repeat(64));
  });

  it('rejects uppercase hex, in part or whole', () => {
    rejects(`sha256:${HEX256.toUpperCase()}`);
    rejects(`sha256:A${HEX256.slice(1)}`);
    rejects(`sha512:${HEX512.slice(0, 127)}F`);
  });

  it('rejects an uppercase algorithm name as a grammar error', () => {
    rejects(`SHA256:${HEX256}`);
    rejects(`Sha256:${HEX256}`);
  });

  it('rejects the wrong hex length for the algorithm', () => {
    rejects(`sha256:${HEX256.slice(1)}`);
    rejects(`sha256:${HEX256}0`);
    rejects(`sha256:${HEX512}`);
    rejects(`sha512:${HEX256}`);
    rejects(`sha512:${HEX512.slice(2)}`);
  });

  it('rejects non-hex characters and whitespace', () => {
    rejects(`sha256:${HEX256.slice(0, 63)}g`);
    rejects(`sha256:${HEX256.slice(0, 63)} `);
    rejects(`sha256:${HEX256}\n`);
    rejects(` sha256:${HEX256}`);
    rejects(`sha256: ${HEX256.slice(1)}`);
    rejects(`sha256:${HEX256.slice(0, 62)}-0`);
  });

  it('reports a well-formed but unknown algorithm as unsupported', () => {
    rejects(`md5:${'a'.repeat(32)}`, 'unsupported');
    rejects(`sha384:${'a'.repeat(96)}`, 'unsupported');
    rejects(`blake3:${'a'.repeat(64)}`, 'unsupported');
    rejects(`sha256+b64u:${'a'.repeat(43)}`, 'unsupported');
    rejects(`multihash.v1_x-y:${HEX256}`, 'unsupported');
    // Unsupported wins over a bad encoded part: the algorithm is checked first.
    rejects('sha1:', 'unsupported');
  });

  it('rejects algorithm names outside the grammar as invalid', () => {
    rejects(`sha256_:${HEX256}`);
    rejects(`+sha256:${HEX256}`);
    rejects(`sha__256:${HEX256}`);
    rejects(`sha 256:${HEX256}`);
    rejects(`sha256/:${HEX256}`);
  });

  it('rejects a missing colon, an empty string and an empty algorithm', () => {
    rejects(HEX256);
    rejects(`sha256${HEX256}`);
    rejects('');
    rejects(':');
    rejects(`:${HEX256}`);
  });

  it('rejects an algorithm with no encoded part', () => {
    rejects('sha256:');
    rejects('sha512:');
    rejects('sha256::');
    rejects(`sha256::${HEX256.slice(1)}`);
  });

  // A pattern that backtracks on these 4 MB inputs would run for hours: the timeout fails it.
  it('rejects huge inputs and keeps the message short', { timeout: 60_000 }, () => {
    const inputs: Array<[string, 'invalid' | 'unsupported']> = [
      [`sha256:${'a'.repeat(4_000_000)}`, 'invalid'],
      [`${'a'.repeat(4_000_000)}:${HEX256}`, 'unsupported'],
      [`${'a-'.repeat(2_000_000)}:${HEX256}`, 'invalid'],
      ['x'.repeat(4_000_000), 'invalid'],
      [`sha256:${HEX256}${'0'.repeat(1_000_000)}`, 'invalid'],
    ];
    for (const [input, kind] of inputs) {
      const err = rejects(input, kind);
      assert.ok(err.message.length < 400, `message is ${err.message.length} chars`);
    }
  });

  it('rejects non-string input with a DigestError', () => {
    assert.throws(() => parseDigest(42 as unknown as string), DigestError);
    assert.throws(() => parseDigest(undefined as unknown as string), DigestError);
  });
});

describe('digest helpers', () => {
  it('isDigest mirrors parseDigest', () => {
    assert.equal(isDigest(`sha256:${HEX256}`), true);
    assert.equal(isDigest(`sha256:${HEX256.toUpperCase()}`), false);
    assert.equal(isDigest(`md5:${'a'.repeat(32)}`), false);
    assert.equal(isDigest(''), false);
  });

  it('digestOf hashes strings and bytes with either algorithm', () => {
    assert.equal(digestOf('berth'), `sha256:${HEX256}`);
    assert.equal(digestOf(Buffer.from('berth'), 'sha512'), `sha512:${HEX512}`);
    assert.equal(digestOf(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.ok(isDigest(digestOf(new Uint8Array([1, 2, 3]), 'sha512')));
  });

  it('algorithmOf and hexOf split a digest', () => {
    const d = `sha512:${HEX512}` as Digest;
    assert.equal(algorithmOf(d), 'sha512');
    assert.equal(hexOf(d), HEX512);
  });
});
