/**
 * Resumable SHA-256 / SHA-512 for chunked blob uploads.
 *
 * The fast path is a small N-API addon (src/digest/native/sha_state.c, built to
 * build/Release/berth_sha.node) that drives OpenSSL's SHA256_* / SHA512_* functions exported
 * by the node binary, keeping the context in a Buffer we own. That gives node:crypto speed and
 * a state we can serialise. States use the exact encoding of Go's crypto/sha256 and
 * crypto/sha512 MarshalBinary, so the files under `_uploads/<id>/hashstates/<alg>/<offset>` are
 * interchangeable with those written by CNCF distribution.
 *
 * When the addon is missing (not built, foreign platform) or fails its start-up self-check,
 * createHasher() returns a plain node:crypto hasher whose exportState() is undefined and
 * resumeHasher() throws HashStateError with kind 'unavailable'; callers then re-hash the upload
 * from storage. Setting BERTH_DISABLE_NATIVE_SHA=1 forces that mode.
 */
import { createHash, type Hash } from 'node:crypto';
import { loadNativeAddon } from '../util/native-addon.js';
import { ALGORITHMS, type Algorithm, type Digest } from './digest.js';
import type { ResumableHasher } from './hasher.js';

/** What the native addon exposes (see sha_state.c). */
interface ShaAddon {
  readonly SHA256: number;
  readonly SHA512: number;
  create(kind: number): Buffer;
  update(kind: number, ctx: Buffer, data: Uint8Array): void;
  updateAsync(kind: number, ctx: Buffer, chunks: Uint8Array[]): Promise<void>;
  digest(kind: number, ctx: Buffer): Buffer;
  exportState(kind: number, ctx: Buffer): Buffer;
  importState(kind: number, state: Uint8Array): Buffer;
}

/** Layout of a serialised state, per Go's MarshalBinary. */
interface StateFormat {
  magic: Buffer;
  size: number;
  block: number;
}

const STATE_FORMATS: Record<Algorithm, StateFormat> = {
  sha256: { magic: Buffer.from('sha\x03', 'latin1'), size: 4 + 8 * 4 + 64 + 8, block: 64 },
  sha512: { magic: Buffer.from('sha\x07', 'latin1'), size: 4 + 8 * 8 + 128 + 8, block: 128 },
};

/** Magics Go uses for the truncated variants, to name them in error messages. */
const OTHER_MAGICS: Record<string, string> = {
  'sha\x02': 'sha224',
  'sha\x03': 'sha256',
  'sha\x04': 'sha384',
  'sha\x05': 'sha512/224',
  'sha\x06': 'sha512/256',
  'sha\x07': 'sha512',
};

export class HashStateError extends Error {
  constructor(
    message: string,
    /** `malformed`: the bytes are not a state for this algorithm; `unavailable`: this build cannot resume. */
    readonly kind: 'malformed' | 'unavailable' = 'malformed',
  ) {
    super(message);
    this.name = 'HashStateError';
  }
}

function loadAddon(): ShaAddon | undefined {
  const addon = loadNativeAddon<ShaAddon>('berth_sha', 'BERTH_DISABLE_NATIVE_SHA');
  try {
    return addon && selfCheck(addon) ? addon : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A quick end-to-end check against node:crypto: if the headers the addon was compiled with
 * ever disagreed with the OpenSSL inside this node binary, hashes or states would be wrong,
 * and we would rather fall back than store bad digests.
 */
function selfCheck(addon: ShaAddon): boolean {
  const input = Buffer.alloc(300);
  for (let i = 0; i < input.length; i++) input[i] = (i * 31 + 7) & 0xff;
  for (const alg of ['sha256', 'sha512'] as const) {
    const kind = alg === 'sha256' ? addon.SHA256 : addon.SHA512;
    const ctx = addon.create(kind);
    addon.update(kind, ctx, input.subarray(0, 131));
    const state = addon.exportState(kind, ctx);
    if (state.length !== STATE_FORMATS[alg].size || !state.subarray(0, 4).equals(STATE_FORMATS[alg].magic)) return false;
    if (state.readBigUInt64BE(state.length - 8) !== 131n) return false;
    const resumed = addon.importState(kind, state);
    addon.update(kind, resumed, input.subarray(131));
    const want = createHash(alg).update(input).digest();
    if (!addon.digest(kind, resumed).equals(want)) return false;
    if (!addon.exportState(kind, addon.importState(kind, state)).equals(state)) return false;
  }
  return true;
}

const addon = loadAddon();

/** True when hashers can export their state and resumeHasher() works. */
export const nativeHashStateAvailable: boolean = addon !== undefined;

function checkAlgorithm(alg: Algorithm): void {
  if (!Object.hasOwn(ALGORITHMS, alg)) throw new TypeError(`unsupported hash algorithm ${JSON.stringify(String(alg))}`);
}

function checkChunk(chunk: Uint8Array): void {
  if (!(chunk instanceof Uint8Array)) throw new TypeError('update() takes a Uint8Array');
}

class NativeHasher implements ResumableHasher {
  readonly #addon: ShaAddon;
  readonly #kind: number;
  readonly #ctx: Buffer;
  #offset: number;

  constructor(
    addon: ShaAddon,
    readonly algorithm: Algorithm,
    ctx: Buffer,
    offset: number,
  ) {
    this.#addon = addon;
    this.#kind = algorithm === 'sha256' ? addon.SHA256 : addon.SHA512;
    this.#ctx = ctx;
    this.#offset = offset;
  }

  get offset(): number {
    return this.#offset;
  }

  update(chunk: Uint8Array): void {
    checkChunk(chunk);
    this.#idle();
    this.#addon.update(this.#kind, this.#ctx, chunk);
    this.#offset += chunk.byteLength;
  }

  /** Background jobs queued and not yet finished; the context belongs to them meanwhile. */
  #inflight = 0;
  #tail: Promise<void> = Promise.resolve();

  updateInBackground(chunks: Uint8Array[]): Promise<void> {
    chunks.forEach(checkChunk);
    const bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
    this.#offset += bytes;
    this.#inflight++;
    const job = this.#tail.then(() => this.#addon.updateAsync(this.#kind, this.#ctx, chunks));
    const done = job.finally(() => {
      this.#inflight--;
    });
    // Later jobs wait for this one whatever its fate; settled() reports a failure.
    this.#tail = done.catch(() => undefined);
    done.catch((err: unknown) => {
      this.#failure ??= err;
    });
    return done;
  }

  #failure: unknown;

  async settled(): Promise<void> {
    await this.#tail;
    if (this.#failure !== undefined) throw this.#failure;
  }

  #idle(): void {
    if (this.#inflight > 0) throw new Error('hasher is busy hashing in the background: await settled() first');
    if (this.#failure !== undefined) throw this.#failure;
  }

  digest(): Digest {
    this.#idle();
    return `${this.algorithm}:${this.#addon.digest(this.#kind, this.#ctx).toString('hex')}` as Digest;
  }

  exportState(): Buffer {
    this.#idle();
    return this.#addon.exportState(this.#kind, this.#ctx);
  }
}

/** node:crypto only: same speed, no exportable state. */
class CryptoHasher implements ResumableHasher {
  readonly #hash: Hash;
  #offset = 0;

  constructor(readonly algorithm: Algorithm) {
    this.#hash = createHash(ALGORITHMS[algorithm].nodeName);
  }

  get offset(): number {
    return this.#offset;
  }

  update(chunk: Uint8Array): void {
    checkChunk(chunk);
    this.#hash.update(chunk);
    this.#offset += chunk.byteLength;
  }

  /** node:crypto has no background mode: hash now. */
  async updateInBackground(chunks: Uint8Array[]): Promise<void> {
    for (const c of chunks) this.update(c);
  }

  async settled(): Promise<void> {}

  digest(): Digest {
    return `${this.algorithm}:${this.#hash.copy().digest('hex')}` as Digest;
  }

  exportState(): undefined {
    return undefined;
  }
}

/** A new hasher; resumable when the native addon is available. */
export function createHasher(alg: Algorithm): ResumableHasher {
  checkAlgorithm(alg);
  if (!addon) return new CryptoHasher(alg);
  return new NativeHasher(addon, alg, addon.create(alg === 'sha256' ? addon.SHA256 : addon.SHA512), 0);
}

/** A node:crypto hasher that never exports state, whatever this build supports. */
export function createNonResumableHasher(alg: Algorithm): ResumableHasher {
  checkAlgorithm(alg);
  return new CryptoHasher(alg);
}

/**
 * Checks a serialised state and returns the number of bytes it covers. Accepts exactly what
 * Go's UnmarshalBinary accepts (magic and size); as there, block bytes past the pending
 * length are ignored.
 */
export function hashStateOffset(alg: Algorithm, state: Uint8Array): number {
  checkAlgorithm(alg);
  if (!(state instanceof Uint8Array)) throw new HashStateError(`${alg} hash state must be bytes`);
  const fmt = STATE_FORMATS[alg];
  const buf = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
  if (buf.length < 4) throw new HashStateError(`${alg} hash state is ${buf.length} bytes, too short to identify`);
  const magic = buf.subarray(0, 4);
  if (!magic.equals(fmt.magic)) {
    const other = OTHER_MAGICS[magic.toString('latin1')];
    throw new HashStateError(
      other
        ? `hash state is for ${other}, not ${alg}`
        : `invalid ${alg} hash state identifier ${JSON.stringify(magic.toString('latin1'))}`,
    );
  }
  if (buf.length !== fmt.size) {
    throw new HashStateError(`invalid ${alg} hash state size: ${buf.length} bytes, expected ${fmt.size}`);
  }
  const length = buf.readBigUInt64BE(fmt.size - 8);
  if (length > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new HashStateError(`${alg} hash state length ${length} is beyond what this registry can track`);
  }
  return Number(length);
}

/**
 * Continue a hash from a state saved by exportState() here or by CNCF distribution.
 * Throws HashStateError: `malformed` for bad bytes, `unavailable` when this build has no
 * native addon (re-hash from storage instead).
 */
export function resumeHasher(alg: Algorithm, state: Buffer): ResumableHasher {
  const offset = hashStateOffset(alg, state);
  if (!addon) {
    throw new HashStateError('resumable hashing is not available in this build (native addon not loaded)', 'unavailable');
  }
  const kind = alg === 'sha256' ? addon.SHA256 : addon.SHA512;
  let ctx: Buffer;
  try {
    ctx = addon.importState(kind, state);
  } catch (err) {
    throw new HashStateError(`invalid ${alg} hash state: ${(err as Error).message}`);
  }
  return new NativeHasher(addon, alg, ctx, offset);
}
