/**
 * Which keys may sign the tokens the registry accepts: the root certificate bundle
 * (`auth.token.rootcertbundle`), a JWK set (`auth.token.jwks`) and keys handed over in process (the
 * built-in token server's). A token names its key in one of three ways, tried in this order as the
 * reference does: an `x5c` certificate chain that must lead to a root of the bundle, a `jwk` that
 * must be one of the trusted keys, or a `kid` looked up among them.
 */
import { createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { JWK, ProtectedHeaderParameters } from 'jose';
import { keyIdsOf, rfc7638KeyId } from './key-ids.js';

export class UntrustedKeyError extends Error {
  override name = 'UntrustedKeyError';
}

const MAX_CHAIN = 8;

/** A public KeyObject from a JWK (any private part is dropped). */
function publicKeyFromJwk(jwk: JWK): KeyObject {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return createPublicKey({ key: pub as JsonWebKey, format: 'jwk' });
}

function validNow(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

export class TrustStore {
  private readonly byKid = new Map<string, KeyObject[]>();
  private readonly thumbprints = new Map<string, KeyObject>();

  constructor(readonly roots: X509Certificate[] = []) {}

  get size(): number {
    return this.thumbprints.size + this.roots.length;
  }

  /** Trust `key` under its computed names, plus `kid` when the source gives one. */
  async addKey(key: KeyObject, kid?: string): Promise<void> {
    const names = await keyIdsOf(key);
    if (kid !== undefined) names.unshift(kid);
    for (const name of new Set(names)) {
      const list = this.byKid.get(name) ?? [];
      if (!list.some((k) => k.equals(key))) list.push(key);
      this.byKid.set(name, list);
    }
    this.thumbprints.set(await rfc7638KeyId(key), key);
  }

  /** Load `rootcertbundle` (every CERTIFICATE block) and/or a JWKS file; errors name the key. */
  static async load(opts: { rootcertbundle?: string; jwks?: string; key: string }): Promise<TrustStore> {
    const roots: X509Certificate[] = [];
    if (opts.rootcertbundle) {
      let text: string;
      try {
        text = await readFile(opts.rootcertbundle, 'utf8');
      } catch (err) {
        throw new Error(`${opts.key}.rootcertbundle: cannot read ${JSON.stringify(opts.rootcertbundle)}: ${(err as Error).message}`, { cause: err });
      }
      const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      for (const [i, block] of blocks.entries()) {
        try {
          roots.push(new X509Certificate(block));
        } catch (err) {
          throw new Error(`${opts.key}.rootcertbundle: certificate ${i + 1} of ${JSON.stringify(opts.rootcertbundle)} does not parse: ${(err as Error).message}`, { cause: err });
        }
      }
    }
    const store = new TrustStore(roots);
    for (const cert of roots) await store.addKey(cert.publicKey);
    if (opts.jwks) {
      let keys: JWK[];
      try {
        const parsed = JSON.parse(await readFile(opts.jwks, 'utf8')) as { keys?: unknown };
        if (!Array.isArray(parsed.keys)) throw new Error('expected {"keys": [...]}');
        keys = parsed.keys as JWK[];
      } catch (err) {
        throw new Error(`${opts.key}.jwks: cannot use ${JSON.stringify(opts.jwks)}: ${(err as Error).message}`, { cause: err });
      }
      for (const [i, jwk] of keys.entries()) {
        try {
          await store.addKey(publicKeyFromJwk(jwk), jwk.kid);
        } catch (err) {
          throw new Error(`${opts.key}.jwks: key ${i} of ${JSON.stringify(opts.jwks)} is not a usable public key: ${(err as Error).message}`, { cause: err });
        }
      }
    }
    return store;
  }

  /** The keys that may have signed a token with this header; throws when none is trusted. */
  async candidates(header: ProtectedHeaderParameters, now = Date.now()): Promise<KeyObject[]> {
    if (header.x5c && header.x5c.length > 0) return [this.verifyChain(header.x5c, now)];
    if (header.jwk) {
      const jwk = header.jwk;
      if (Array.isArray(jwk.x5c) && jwk.x5c.length > 0) {
        const leaf = this.verifyChain(jwk.x5c, now);
        const given = publicKeyFromJwk(jwk);
        if (!given.equals(leaf)) throw new UntrustedKeyError('the jwk does not match its certificate');
        return [leaf];
      }
      const thumbprint = await rfc7638KeyId(publicKeyFromJwk(jwk));
      const key = this.thumbprints.get(thumbprint);
      if (!key) throw new UntrustedKeyError('untrusted jwk without a certificate chain');
      return [key];
    }
    if (header.kid) {
      const keys = this.byKid.get(header.kid);
      if (!keys) throw new UntrustedKeyError(`token signed by an untrusted key (kid ${JSON.stringify(header.kid.slice(0, 100))})`);
      return keys;
    }
    throw new UntrustedKeyError('the token names no signing key (x5c, jwk or kid)');
  }

  /** Follow an x5c chain (base64 DER, leaf first) to one of the roots; answer the leaf's key. */
  private verifyChain(x5c: string[], now: number): KeyObject {
    let certs: X509Certificate[];
    try {
      certs = x5c.slice(0, MAX_CHAIN).map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
    } catch {
      throw new UntrustedKeyError('x5c holds a certificate that does not parse');
    }
    const [leaf, ...intermediates] = certs;
    if (!leaf || !validNow(leaf, now)) throw new UntrustedKeyError('the x5c leaf certificate is not valid now');
    let current = leaf;
    const used = new Set<X509Certificate>();
    for (let depth = 0; depth <= MAX_CHAIN; depth++) {
      if (this.roots.some((r) => r.raw.equals(current.raw))) return leaf.publicKey;
      const root = this.roots.find((r) => validNow(r, now) && current.checkIssued(r) && current.verify(r.publicKey));
      if (root) return leaf.publicKey;
      const next = intermediates.find((c) => !used.has(c) && c.ca && validNow(c, now) && current.checkIssued(c) && current.verify(c.publicKey));
      if (!next) break;
      used.add(next);
      current = next;
    }
    throw new UntrustedKeyError('the x5c chain does not lead to a trusted root certificate');
  }
}
