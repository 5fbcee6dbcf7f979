/**
 * The storage-backed registry: a namespace of repositories over one driver, with the blob
 * descriptor cache wired in front of the linked statters. Request handlers get everything they
 * need from here; nothing else assembles the storage stack.
 */
import { BlobStore } from './blob-store.js';
import { ContentCache } from './content-cache.js';
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
  /** Manifest bytes by digest (immutable, so shared by every repository). */
  private readonly manifestContents = new ContentCache();

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
      manifests: new ManifestRevisions(driver, this.blobStore, name, this.manifestContents),
      tags: new TagStore(driver, name, this.options.tagConcurrencyLimit),
    };
  }

  /**
   * Repository names in the reference's order (component-wise: `a/b` sorts before `a-b`), strictly
   * after `last`, at most `limit`. A directory is a repository when it holds `_layers`, as in the
   * reference. Built on `list` alone (one directory read per level, no stat per entry), reading a
   * few sibling directories ahead; subtrees wholly before `last` are never read.
   */
  async repositories(opts: CallOptions & { last?: string; limit: number }): Promise<string[]> {
    const found: string[] = [];
    const last = opts.last ?? '';
    if (opts.limit <= 0) return found;
    const rootLength = REPOSITORIES_ROOT.length + 1;
    const list = async (dir: string): Promise<string[]> => {
      try {
        return await this.driver.list(dir, opts);
      } catch (err) {
        if (err instanceof PathNotFoundError) return [];
        throw err;
      }
    };
    const descend = async (children: string[]): Promise<boolean> => {
      const wanted = children.filter((child) => {
        const rel = child.slice(rootLength);
        const base = rel.slice(rel.lastIndexOf('/') + 1);
        if (base.startsWith('_')) return false;
        // Everything below `rel` sorts before `last` unless `rel` is a path prefix of it.
        return !(last && compareRepositoryNames(rel, last) < 0 && !last.startsWith(`${rel}/`));
      });
      const LOOKAHEAD = 16;
      const pending = new Map<number, Promise<string[]>>();
      for (let i = 0; i < wanted.length; i++) {
        for (let j = i; j < Math.min(wanted.length, i + LOOKAHEAD); j++) {
          if (!pending.has(j)) {
            const p = list(wanted[j]!);
            p.catch(() => undefined); // read ahead: an error surfaces when (if) it is awaited
            pending.set(j, p);
          }
        }
        const dir = wanted[i]!;
        const entries = await pending.get(i)!;
        pending.delete(i);
        const rel = dir.slice(rootLength);
        if (entries.some((e) => e.endsWith('/_layers')) && compareRepositoryNames(last, rel) < 0) {
          found.push(rel);
          if (found.length >= opts.limit) return true;
        }
        if (await descend(entries)) return true;
      }
      return false;
    };
    await descend(await list(REPOSITORIES_ROOT));
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
