/** Content digests: `<algorithm>:<encoded>`, as in the OCI image spec. */
import { createHash } from 'node:crypto';

export type Algorithm = 'sha256' | 'sha512';

export const ALGORITHMS: Record<Algorithm, { hexLength: number; nodeName: string }> = {
  sha256: { hexLength: 64, nodeName: 'sha256' },
  sha512: { hexLength: 128, nodeName: 'sha512' },
};

/** A validated digest string such as `sha256:e3b0...`. */
export type Digest = string & { readonly __digest: unique symbol };

const ALG_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*$/;
const HEX = /^[a-f0-9]+$/;

export class DigestError extends Error {
  constructor(
    message: string,
    /** `unsupported` when the grammar is right but the algorithm is not one we verify. */
    readonly kind: 'invalid' | 'unsupported' = 'invalid',
  ) {
    super(message);
    this.name = 'DigestError';
  }
}

export interface ParsedDigest {
  digest: Digest;
  algorithm: Algorithm;
  hex: string;
}

/** Parse and validate a digest; throws DigestError. */
export function parseDigest(input: string): ParsedDigest {
  if (typeof input !== 'string') throw new DigestError('digest must be a string');
  const colon = input.indexOf(':');
  if (colon <= 0) throw new DigestError(`invalid digest ${JSON.stringify(input.slice(0, 200))}: missing algorithm`);
  const alg = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (!ALG_GRAMMAR.test(alg)) throw new DigestError(`invalid digest algorithm ${JSON.stringify(alg.slice(0, 50))}`);
  const known = (ALGORITHMS as Record<string, { hexLength: number } | undefined>)[alg];
  if (!known) throw new DigestError(`unsupported digest algorithm ${JSON.stringify(alg.slice(0, 50))}`, 'unsupported');
  if (hex.length !== known.hexLength || !HEX.test(hex)) {
    throw new DigestError(`invalid ${alg} digest: expected ${known.hexLength} lowercase hex characters`);
  }
  return { digest: input as Digest, algorithm: alg as Algorithm, hex };
}

export function isDigest(input: string): input is Digest {
  try {
    parseDigest(input);
    return true;
  } catch {
    return false;
  }
}

/** The digest of bytes held in memory (manifests, link files; never blobs). */
export function digestOf(content: Uint8Array | string, algorithm: Algorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(ALGORITHMS[algorithm].nodeName).update(content).digest('hex')}` as Digest;
}

export function algorithmOf(digest: Digest): Algorithm {
  return digest.slice(0, digest.indexOf(':')) as Algorithm;
}

export function hexOf(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}
