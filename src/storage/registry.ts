/**
 * The storage-backed registry: a namespace of repositories over one driver, with the blob
 * descriptor cache wired in front of the linked statters. Request handlers get everything they
 * need from here; nothing else assembles the storage stack.
 */
import { BlobStore } from './blob-store.js';
import type { BlobDescriptorCacheProvider, CacheObserver } from './cache/cache.js';
import { CachedBlobStatter } from './cache/cached-statter.js';
import type { StorageDriver } from './driver/driver.js';
import { PathNotFoundError } from './driver/errors.js';
import { LinkedBlobStatter, LinkedBlobStore } from './linked-blob-store.js';
import { ManifestRevisions } from './manifest-revisions.js';
import { REPOSITORIES_ROOT } from './paths.js';
import { TagStore } from './tag-store.js';
import { UploadHashers } from './upload-hashers.js';
import type { Namespace, Repository } from '../distribution/services.js';
import type { CallOptions } from '../distribution/types.js';
import type { BlobStatter } from '../distribution/types.js';

export interface RegistryOptions {
  driver: StorageDriver;
  cache?: BlobDescriptorCacheProvider;
  /** Name of the cache for metrics (`memory`, `redis`). */
  cacheName?: string;
  cacheObserver?: CacheObserver;
  /** `storage.tag.concurrencylimit`. */
  tagConcurrencyLimit?: number;
}

export type { Repository };

export class Registry implements Namespace {
  readonly driver: StorageDriver;
  readonly blobStore: BlobStore;
  /** Global statter (through the cache when there is one), for the proxy and GC. */
  readonly blobStatter: BlobStatter;
  private readonly hashers = new UploadHashers();

  constructor(private readonly options: RegistryOptions) {
    this.driver = options.driver;
    this.blobStore = new BlobStore(options.driver);
    this.blobStatter = options.cache
      ? new CachedBlobStatter(options.cache, this.blobStore, options.cacheName ?? 'cache', options.cacheObserver)
      : this.blobStore;
  }

  /** A repository by name (the name must already be validated). Cheap: build one per request. */
  repository(name: string): Repository {
    const { driver, cache } = this.options;
    const scoped = cache?.repositoryScoped(name);
    const linked = new LinkedBlobStatter(driver, this.blobStore, name);
    const statter = scoped ? new CachedBlobStatter(scoped, linked, this.options.cacheName ?? 'cache', this.options.cacheObserver) : linked;
    return {
      name,
      blobs: new LinkedBlobStore({ driver, blobs: this.blobStore, repository: name, statter, cache: scoped, hashers: this.hashers }),
      manifests: new ManifestRevisions(driver, this.blobStore, name),
      tags: new TagStore(driver, name, this.options.tagConcurrencyLimit),
    };
  }

  /**
   * Repository names in the reference's order (component-wise: `a/b` sorts before `a-b`), strictly
   * after `last`, at most `limit`. A directory is a repository when it holds `_layers`, as in the
   * reference; subtrees wholly before `last` are skipped without being read.
   */
  async repositories(opts: CallOptions & { last?: string; limit: number }): Promise<string[]> {
    const found: string[] = [];
    const last = opts.last ?? '';
    const rootLength = REPOSITORIES_ROOT.length + 1;
    if (opts.limit <= 0) return found;
    try {
      await this.driver.walk(
        REPOSITORIES_ROOT,
        (info) => {
          if (!info.isDir) return undefined;
          const rel = info.path.slice(rootLength);
          const base = rel.slice(rel.lastIndexOf('/') + 1);
          if (base === '_layers') {
            const repo = rel.slice(0, -'/_layers'.length);
            if (compareRepositoryNames(last, repo) < 0) found.push(repo);
            return found.length >= opts.limit ? 'stop' : 'skip';
          }
          if (base.startsWith('_')) return 'skip';
          // Everything below `rel` sorts before `last` unless `rel` is a path prefix of it.
          if (last && compareRepositoryNames(rel, last) < 0 && !last.startsWith(`${rel}/`)) return 'skip';
          return undefined;
        },
        opts,
      );
    } catch (err) {
      if (!(err instanceof PathNotFoundError)) throw err;
    }
    return found;
  }
}

/** Compare names component-wise: the separator sorts before every other character. */
export function compareRepositoryNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === 47) x = 0;
    if (y === 47) y = 0;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}
