/**
 * Where an upload's running hash comes from. The common path (every chunk on this process) keeps a
 * live hasher in memory at full OpenSSL speed. Each chunk's end state is also saved in storage at
 * `_uploads/<id>/hashstates/<alg>/<offset>`, so another process continues from it without
 * re-reading the upload. Without a saved state (older build, crash between chunk and state), the
 * hash is rebuilt from the nearest saved state, or from byte 0, by reading the upload's data.
 */
import { createHash } from 'node:crypto';
import type { Algorithm } from '../digest/digest.js';
import type { ResumableHasher } from '../digest/hasher.js';
import { createHasher, resumeHasher } from '../digest/resumable.js';
import type { CallOptions } from '../distribution/types.js';
import { BoundedLRU } from '../util/lru.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { uploadDataPath, uploadHashStatePath, uploadHashStatesDir } from './paths.js';

export interface HasherSource {
  /** How the hasher was obtained, for tests and metrics. */
  via: 'live' | 'saved-state' | 'rehash';
  hasher: ResumableHasher;
}

/** Per-instance memory of live hashers, bounded; never a module global. */
export class UploadHashers {
  private readonly live: BoundedLRU<ResumableHasher>;

  constructor(limit = 1000) {
    this.live = new BoundedLRU(limit);
  }

  remember(key: string, hasher: ResumableHasher): void {
    this.live.set(key, hasher);
  }

  forget(key: string): void {
    this.live.delete(key);
  }

  /** A hasher positioned exactly at `size` bytes of the upload. */
  async at(
    driver: StorageDriver,
    repository: string,
    id: string,
    size: number,
    algorithm: Algorithm,
    opts?: CallOptions,
  ): Promise<HasherSource> {
    const key = `${repository}/${id}`;
    const live = this.live.get(key);
    if (live && live.algorithm === algorithm && live.offset === size) return { via: 'live', hasher: live };
    this.live.delete(key);
    if (size === 0) return { via: 'live', hasher: createHasher(algorithm) };

    // The newest saved state at or below the size.
    const offsets = await savedOffsets(driver, repository, id, algorithm, opts);
    for (const offset of offsets.filter((o) => o <= size).sort((a, b) => b - a)) {
      let hasher: ResumableHasher;
      try {
        const state = await driver.getContent(uploadHashStatePath(repository, id, algorithm, offset), opts);
        hasher = resumeHasher(algorithm, state);
      } catch {
        continue; // unreadable or foreign state: try an older one
      }
      if (hasher.offset !== offset) continue;
      if (offset === size) return { via: 'saved-state', hasher };
      await feed(driver, uploadDataPath(repository, id), hasher, size, opts);
      return { via: 'rehash', hasher };
    }
    const hasher = createHasher(algorithm);
    if (size > 0) await feed(driver, uploadDataPath(repository, id), hasher, size, opts);
    return { via: size > 0 ? 'rehash' : 'live', hasher };
  }

  /** Save the hasher's state at its offset; false when this build cannot export state. */
  async save(driver: StorageDriver, repository: string, id: string, hasher: ResumableHasher, opts?: CallOptions): Promise<boolean> {
    const state = hasher.exportState();
    if (!state) return false;
    // A lost or torn state is only slower: the next chunk rebuilds the hash from the data.
    await driver.putContent(uploadHashStatePath(repository, id, hasher.algorithm, hasher.offset), state, { ...opts, scratch: true });
    return true;
  }
}

async function savedOffsets(driver: StorageDriver, repository: string, id: string, algorithm: Algorithm, opts?: CallOptions): Promise<number[]> {
  try {
    const entries = await driver.list(uploadHashStatesDir(repository, id, algorithm), opts);
    return entries.map((p) => Number(p.slice(p.lastIndexOf('/') + 1))).filter((n) => Number.isSafeInteger(n) && n >= 0);
  } catch (err) {
    if (err instanceof PathNotFoundError) return [];
    throw err;
  }
}

/** Hash the upload's bytes from the hasher's offset up to `size`. */
async function feed(driver: StorageDriver, path: string, hasher: ResumableHasher, size: number, opts?: CallOptions): Promise<void> {
  const stream = await driver.reader(path, hasher.offset, opts);
  let remaining = size - hasher.offset;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (remaining <= 0) break;
    const part = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
    hasher.update(part);
    remaining -= part.length;
  }
  stream.destroy();
  if (remaining > 0) throw new Error(`upload data ended ${remaining} bytes short while rebuilding its hash`);
}

/** Digest a whole stored upload with an algorithm the running hash does not use (rare: sha512 on a sha256 upload). */
export async function digestStored(driver: StorageDriver, path: string, algorithm: Algorithm, opts?: CallOptions): Promise<string> {
  const hash = createHash(algorithm);
  const stream = await driver.reader(path, 0, opts);
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return `${algorithm}:${hash.digest('hex')}`;
}
