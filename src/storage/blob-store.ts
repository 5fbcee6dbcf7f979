/**
 * The global content-addressed blob store: `blobs/<alg>/<hex[:2]>/<hex>/data`, shared by every
 * repository. It knows nothing of repositories; access goes through LinkedBlobStore.
 */
import type { Readable } from 'node:stream';
import { digestOf, type Algorithm, type Digest } from '../digest/digest.js';
import { BlobUnknownError } from '../distribution/errors.js';
import type { BlobStatter, CallOptions, Descriptor } from '../distribution/types.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { blobDataPath } from './paths.js';

export const OCTET_STREAM = 'application/octet-stream';

export class BlobStore implements BlobStatter {
  constructor(readonly driver: StorageDriver) {}

  async stat(digest: Digest, opts?: CallOptions): Promise<Descriptor> {
    try {
      const info = await this.driver.stat(blobDataPath(digest), opts);
      if (info.isDir) throw new BlobUnknownError(digest);
      return { digest, size: info.size, mediaType: OCTET_STREAM };
    } catch (err) {
      if (err instanceof PathNotFoundError) throw new BlobUnknownError(digest);
      throw err;
    }
  }

  async exists(digest: Digest, opts?: CallOptions): Promise<boolean> {
    try {
      await this.stat(digest, opts);
      return true;
    } catch (err) {
      if (err instanceof BlobUnknownError) return false;
      throw err;
    }
  }

  /** Read a small blob whole (manifests, configs). */
  async get(digest: Digest, opts?: CallOptions): Promise<Buffer> {
    try {
      return await this.driver.getContent(blobDataPath(digest), opts);
    } catch (err) {
      if (err instanceof PathNotFoundError) throw new BlobUnknownError(digest);
      throw err;
    }
  }

  async open(digest: Digest, offset: number, opts?: CallOptions): Promise<Readable> {
    try {
      return await this.driver.reader(blobDataPath(digest), offset, opts);
    } catch (err) {
      if (err instanceof PathNotFoundError) throw new BlobUnknownError(digest);
      throw err;
    }
  }

  /** Store small content (a manifest) under its digest; a no-op when it is already there. */
  async put(content: Buffer, opts?: CallOptions & { algorithm?: Algorithm }): Promise<Descriptor> {
    const digest = digestOf(content, opts?.algorithm ?? 'sha256');
    if (!(await this.exists(digest, opts))) await this.driver.putContent(blobDataPath(digest), content, opts);
    return { digest, size: content.length, mediaType: OCTET_STREAM };
  }

  async redirectURL(digest: Digest, method: 'GET' | 'HEAD', opts?: CallOptions): Promise<string | undefined> {
    return this.driver.redirectURL(blobDataPath(digest), { method, ...opts });
  }

  path(digest: Digest): string {
    return blobDataPath(digest);
  }
}
