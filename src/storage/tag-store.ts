/** Tags of one repository: `_manifests/tags/<tag>/current/link` plus the `index/` history. */
import type { Digest } from '../digest/digest.js';
import { ManifestUnknownError } from '../distribution/errors.js';
import type { TagService } from '../distribution/services.js';
import type { CallOptions } from '../distribution/types.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { deleteIfPresent, readLink, writeLink } from './link.js';
import { tagCurrentLinkPath, tagDir, tagIndexLinkPath, tagsDir } from './paths.js';

export class TagStore implements TagService {
  constructor(
    private readonly driver: StorageDriver,
    readonly repository: string,
    private readonly concurrencyLimit = 8,
  ) {}

  /** The digest the tag points to; ManifestUnknownError when the tag does not exist. */
  async get(tag: string, opts?: CallOptions): Promise<Digest> {
    const digest = await readLink(this.driver, tagCurrentLinkPath(this.repository, tag), opts);
    if (!digest) throw new ManifestUnknownError(tag);
    return digest;
  }

  /** Point the tag at a digest and record it in the tag's history. */
  async tag(tag: string, digest: Digest, opts?: CallOptions): Promise<void> {
    await writeLink(this.driver, tagIndexLinkPath(this.repository, tag, digest), digest, opts);
    await writeLink(this.driver, tagCurrentLinkPath(this.repository, tag), digest, opts);
  }

  /** Remove the tag (current link and history); ManifestUnknownError when absent. */
  async untag(tag: string, opts?: CallOptions): Promise<void> {
    if (!(await deleteIfPresent(this.driver, tagDir(this.repository, tag), opts))) throw new ManifestUnknownError(tag);
  }

  /** Every tag, sorted; undefined when the repository has no tags directory. */
  async all(opts?: CallOptions): Promise<string[] | undefined> {
    let entries: string[];
    try {
      entries = await this.driver.list(tagsDir(this.repository), opts);
    } catch (err) {
      if (err instanceof PathNotFoundError) return undefined;
      throw err;
    }
    return entries.map((p) => p.slice(p.lastIndexOf('/') + 1)).sort();
  }

  /** The tags currently pointing at a digest. */
  async lookup(digest: Digest, opts?: CallOptions): Promise<string[]> {
    const tags = (await this.all(opts)) ?? [];
    const found: string[] = [];
    for (let i = 0; i < tags.length; i += this.concurrencyLimit) {
      const batch = tags.slice(i, i + this.concurrencyLimit);
      const targets = await Promise.all(batch.map((t) => readLink(this.driver, tagCurrentLinkPath(this.repository, t), opts)));
      batch.forEach((t, j) => {
        if (targets[j] === digest) found.push(t);
      });
    }
    return found;
  }
}
