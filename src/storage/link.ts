/** Link files: a digest string, no newline, as the reference writes them. */
import { parseDigest, type Digest } from '../digest/digest.js';
import type { CallOptions } from '../distribution/types.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';

/** Read a link; undefined when there is none. A corrupt link reads as absent. */
export async function readLink(driver: StorageDriver, path: string, opts?: CallOptions): Promise<Digest | undefined> {
  let content: Buffer;
  try {
    content = await driver.getContent(path, opts);
  } catch (err) {
    if (err instanceof PathNotFoundError) return undefined;
    throw err;
  }
  try {
    return parseDigest(content.toString('utf8').trim()).digest;
  } catch {
    return undefined;
  }
}

export async function writeLink(driver: StorageDriver, path: string, digest: Digest, opts?: CallOptions): Promise<void> {
  await driver.putContent(path, digest, opts);
}

/** Delete a path, answering whether it was there. */
export async function deleteIfPresent(driver: StorageDriver, path: string, opts?: CallOptions): Promise<boolean> {
  try {
    await driver.delete(path, opts);
    return true;
  } catch (err) {
    if (err instanceof PathNotFoundError) return false;
    throw err;
  }
}
