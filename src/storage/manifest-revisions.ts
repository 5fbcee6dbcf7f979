/**
 * Manifest revisions of one repository: the bytes live in the global blob store, the repository
 * links them under `_manifests/revisions/<alg>/<hex>/link`. Validation happens above this.
 */
import { ALGORITHMS, type Algorithm, type Digest } from '../digest/digest.js';
import { ManifestUnknownError } from '../distribution/errors.js';
import type { ManifestGetOptions, ManifestPutOptions, ManifestService } from '../distribution/services.js';
import type { CallOptions } from '../distribution/types.js';
import type { BlobStore } from './blob-store.js';
import type { ContentCache } from './content-cache.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { deleteIfPresent, readLink, writeLink } from './link.js';
import { manifestRevisionLinkPath, manifestRevisionsDir } from './paths.js';

export class ManifestRevisions implements ManifestService {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    readonly repository: string,
    private readonly contents?: ContentCache,
  ) {}

  async exists(digest: Digest, opts?: CallOptions): Promise<boolean> {
    return (await readLink(this.driver, manifestRevisionLinkPath(this.repository, digest), opts)) === digest;
  }

  /** The manifest's bytes exactly as pushed; ManifestUnknownError when not in this repository. */
  async get(digest: Digest, opts?: ManifestGetOptions): Promise<Buffer> {
    if (!(await this.exists(digest, opts))) throw new ManifestUnknownError(digest);
    const cached = this.contents?.get(digest);
    if (cached) return cached;
    try {
      const content = await this.blobs.get(digest, opts);
      this.contents?.set(digest, content);
      return content;
    } catch {
      // A revision link whose blob was garbage collected: the manifest is gone for this repository.
      throw new ManifestUnknownError(digest);
    }
  }

  /** Store the bytes globally and link them into the repository. */
  async put(content: Buffer, opts?: ManifestPutOptions): Promise<Digest> {
    const { digest } = await this.blobs.put(content, opts);
    await writeLink(this.driver, manifestRevisionLinkPath(this.repository, digest), digest, opts);
    return digest;
  }

  /** Remove the revision link (soft delete); ManifestUnknownError when absent. */
  async delete(digest: Digest, opts?: CallOptions): Promise<void> {
    const link = manifestRevisionLinkPath(this.repository, digest);
    if (!(await deleteIfPresent(this.driver, link.slice(0, link.lastIndexOf('/')), opts))) throw new ManifestUnknownError(digest);
  }

  /** Every manifest digest linked into the repository. */
  async enumerate(opts?: CallOptions): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const alg of Object.keys(ALGORITHMS) as Algorithm[]) {
      let entries: string[];
      try {
        entries = await this.driver.list(manifestRevisionsDir(this.repository, alg), opts);
      } catch (err) {
        if (err instanceof PathNotFoundError) continue;
        throw err;
      }
      for (const entry of entries) {
        const digest = `${alg}:${entry.slice(entry.lastIndexOf('/') + 1)}` as Digest;
        if (await this.exists(digest, opts)) out.push(digest);
      }
    }
    return out;
  }
}
