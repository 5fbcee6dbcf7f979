/**
 * What happens when pulled-through content expires. The repository's link goes (blob link, or
 * manifest revision link plus the tags pointing at that manifest), and then the bytes, but only
 * when no repository links the digest any more: the reference deletes the bytes unconditionally,
 * which breaks every other repository (hosted or proxied) sharing a layer. Content not scheduled
 * is never touched.
 */
import type { Logger } from 'pino';
import type { Digest } from '../digest/digest.js';
import { BlobUnknownError, ManifestUnknownError } from '../distribution/errors.js';
import type { Namespace } from '../distribution/services.js';
import type { BlobDescriptorService } from '../storage/cache/cache.js';
import type { StorageDriver } from '../storage/driver/driver.js';
import { PathNotFoundError } from '../storage/driver/errors.js';
import { blobDir, REPOSITORIES_ROOT } from '../storage/paths.js';
import type { ScheduledItem } from './scheduler.js';

export interface ExpiryDeps {
  /** The local (storage) namespace. */
  local: Namespace;
  driver: StorageDriver;
  /** The global blob descriptor cache, kept in step when bytes are deleted. */
  cache?: BlobDescriptorService;
  logger: Logger;
  /** Digests being downloaded right now: their bytes are about to be linked, leave them. */
  busy?: (digest: Digest) => boolean;
}

/** Remove expired items; resolves to those that failed (to be retried). */
export async function expireItems(items: ScheduledItem[], deps: ExpiryDeps): Promise<ScheduledItem[]> {
  const failed: ScheduledItem[] = [];
  const unlinked = new Set<Digest>();
  for (const item of items) {
    try {
      await unlink(item, deps);
      unlinked.add(item.digest);
    } catch (err) {
      deps.logger.warn({ err, repository: item.repository, digest: item.digest }, 'proxy: could not expire cached content');
      failed.push(item);
    }
  }
  let removed = 0;
  if (unlinked.size > 0) {
    const stillLinked = await linkedDigests(deps.driver, unlinked);
    for (const digest of unlinked) {
      if (stillLinked.has(digest) || deps.busy?.(digest)) continue;
      try {
        await deps.driver.delete(blobDir(digest));
        removed++;
      } catch (err) {
        if (!(err instanceof PathNotFoundError)) deps.logger.warn({ err, digest }, 'proxy: could not delete expired blob data');
      }
      await deps.cache?.clear(digest).catch(() => undefined);
    }
  }
  deps.logger.info({ expired: items.length - failed.length, bytesRemovedFor: removed, failed: failed.length }, 'proxy: cached content expired');
  return failed;
}

async function unlink(item: ScheduledItem, deps: ExpiryDeps): Promise<void> {
  const repo = deps.local.repository(item.repository);
  if (item.kind === 'blob') {
    try {
      await repo.blobs.delete(item.digest);
    } catch (err) {
      if (!(err instanceof BlobUnknownError)) throw err;
    }
    return;
  }
  for (const tag of await repo.tags.lookup(item.digest)) {
    await repo.tags.untag(tag).catch((err: unknown) => {
      if (!(err instanceof ManifestUnknownError)) throw err;
    });
  }
  try {
    await repo.manifests.delete(item.digest);
  } catch (err) {
    if (!(err instanceof ManifestUnknownError)) throw err;
  }
}

const LINK_DIR = /\/(?:_layers|_manifests\/revisions)\/([a-z0-9]+)\/([0-9a-f]+)$/;

/** Which of `candidates` some repository still links (as a layer or a manifest revision). One walk. */
export async function linkedDigests(driver: StorageDriver, candidates: Set<Digest>): Promise<Set<Digest>> {
  const found = new Set<Digest>();
  try {
    await driver.walk(REPOSITORIES_ROOT, (info) => {
      if (!info.isDir) return undefined;
      const path = info.path;
      if (path.endsWith('/_uploads') || path.endsWith('/_manifests/tags')) return 'skip';
      const m = LINK_DIR.exec(path);
      if (!m) return undefined;
      const digest = `${m[1]}:${m[2]}` as Digest;
      if (candidates.has(digest)) {
        found.add(digest);
        if (found.size === candidates.size) return 'stop';
      }
      return 'skip';
    });
  } catch (err) {
    if (!(err instanceof PathNotFoundError)) throw err;
  }
  return found;
}
