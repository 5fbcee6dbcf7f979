/**
 * The names token issuers give their keys in a JWT's `kid`, so that a token naming its key can be
 * matched to a trusted certificate or JWK:
 *
 * - the RFC 7638 JWK thumbprint (SHA-256, base64url);
 * - the libtrust key ID the reference 2.x used: SHA-256 of the DER public key, the first 240 bits in
 *   base32, in twelve groups of four joined by colons;
 * - for EC keys, the value the reference 3.x computes for its root certificates, which hashes the
 *   curve's base point instead of the key (so every key of a curve gets the same value; candidates
 *   are therefore tried in turn and the signature decides).
 */
import { createECDH, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK } from 'jose';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

const publicOf = (key: KeyObject): KeyObject => (key.type === 'private' ? createPublicKey(key) : key);

export function libtrustKeyId(key: KeyObject): string {
  const der = publicOf(key).export({ type: 'spki', format: 'der' });
  const encoded = base32(createHash('sha256').update(der).digest().subarray(0, 30));
  return encoded.match(/.{4}/g)?.join(':') ?? encoded;
}

const CURVES: Record<string, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

/** The curve's base point, uncompressed: the public key of private key 1. */
function basePoint(curve: string): { x: Buffer; y: Buffer } {
  const ecdh = createECDH(curve);
  ecdh.setPrivateKey(Buffer.from([1]));
  const point = ecdh.getPublicKey();
  const half = (point.length - 1) / 2;
  return { x: point.subarray(1, 1 + half), y: point.subarray(1 + half) };
}

/** Go's big.Int.Bytes(): no leading zero bytes. */
function minimal(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

export async function rfc7638KeyId(key: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicOf(key)), 'sha256');
}

/** Every name under which a trusted key may be referred to by `kid`. */
export async function keyIdsOf(key: KeyObject): Promise<string[]> {
  const ids = [await rfc7638KeyId(key), libtrustKeyId(key)];
  const jwk = await exportJWK(publicOf(key));
  if (jwk.kty === 'EC' && jwk.crv && CURVES[jwk.crv]) {
    const g = basePoint(CURVES[jwk.crv] as string);
    const payload = `{"crv":"${jwk.crv}","kty":"EC","x":"${minimal(g.x).toString('base64url')}","y":"${minimal(g.y).toString('base64url')}"}`;
    ids.push(createHash('sha256').update(payload).digest('base64url'));
  }
  return ids;
}
