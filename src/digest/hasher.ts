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
  /**
   * Hash chunks off the event loop, in order after everything queued before. `offset` counts
   * them at once. The chunks must not change until the returned promise settles, and no other
   * method but `offset` may be used until `settled()` resolves.
   */
  updateInBackground(chunks: Uint8Array[]): Promise<void>;
  /** Resolves when all background work is done (rejects if any of it failed). */
  settled(): Promise<void>;
  /** The digest of everything so far; the hasher can keep going afterwards. */
  digest(): Digest;
  /**
   * The state to persist at `hashstates/<alg>/<offset>`, or undefined when this build cannot
   * export hash state (then resumption elsewhere re-hashes from storage).
   */
  exportState(): Buffer | undefined;
}
