/**
 * Hashers for blob uploads. A ResumableHasher hashes at Node crypto speed and can export its
 * state so that another process can continue the same hash (chunked uploads across instances).
 * Implemented in ./resumable.ts.
 */
import type { Algorithm, Digest } from './digest.js';

export interface ResumableHasher {
  readonly algorithm: Algorithm;
  /** Bytes hashed so far. */
  readonly offset: number;
  update(chunk: Uint8Array): void;
  /** The digest of everything so far; the hasher can keep going afterwards. */
  digest(): Digest;
  /**
   * The state to persist at `hashstates/<alg>/<offset>`, or undefined when this build cannot
   * export hash state (then resumption elsewhere re-hashes from storage).
   */
  exportState(): Buffer | undefined;
}
