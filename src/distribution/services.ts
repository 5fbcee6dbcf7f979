/**
 * The repository services, as interfaces named by capability. Storage implements them; the
 * notification listener, the pull-through proxy and access control wrap or replace them. Handlers
 * only ever see these.
 */
import type { Algorithm, Digest } from '../digest/digest.js';
import type { BlobContent, BlobStatter, CallOptions, Descriptor } from './types.js';

/** An upload session of one repository. */
export interface BlobUploadSession {
  readonly repository: string;
  readonly id: string;
  readonly startedAt: Date;
  /** Bytes received so far. */
  readonly size: number;
  /**
   * Append a chunk; what arrives before a failure is kept. Resolves to the new size. The source's
   * buffers must not be modified after they are yielded (they may still be hashed in the background).
   */
  append(source: AsyncIterable<Uint8Array>, opts?: CallOptions & { final?: boolean }): Promise<number>;
  /** Verify and publish the blob; the session is gone afterwards. */
  commit(digest: string, opts?: CallOptions & { size?: number }): Promise<Descriptor>;
  /** Discard the session; idempotent. */
  cancel(): Promise<void>;
}

export interface BlobService extends BlobStatter {
  readonly repository: string;
  /** Open for reading from `offset` (the blob must be linked into the repository). */
  open(digest: Digest, opts?: CallOptions & { offset?: number }): Promise<BlobContent>;
  /** A direct download URL when storage offers one (undefined otherwise). */
  redirectURL(digest: Digest, method: 'GET' | 'HEAD', opts?: CallOptions): Promise<string | undefined>;
  /** Remove the repository's link to the blob. */
  delete(digest: Digest, opts?: CallOptions): Promise<void>;
  /** Link a blob that `from` can serve; undefined when it can't. */
  mount(from: BlobService, digest: Digest, opts?: CallOptions): Promise<Descriptor | undefined>;
  createUpload(opts?: CallOptions): Promise<BlobUploadSession>;
  getUpload(id: string, opts?: CallOptions): Promise<BlobUploadSession>;
}

export interface ManifestGetOptions extends CallOptions {
  /** The tag the client asked for, when it asked by tag (for events and logs). */
  tag?: string;
}

export interface ManifestPutOptions extends CallOptions {
  algorithm?: Algorithm;
  /** The manifest's media type (already validated). */
  mediaType?: string;
}

export interface ManifestService {
  readonly repository: string;
  exists(digest: Digest, opts?: CallOptions): Promise<boolean>;
  /** The bytes exactly as pushed; ManifestUnknownError when absent. */
  get(digest: Digest, opts?: ManifestGetOptions): Promise<Buffer>;
  /** Store and link; resolves to the digest. */
  put(content: Buffer, opts?: ManifestPutOptions): Promise<Digest>;
  delete(digest: Digest, opts?: CallOptions): Promise<void>;
  enumerate(opts?: CallOptions): Promise<Digest[]>;
}

export interface TagService {
  readonly repository: string;
  get(tag: string, opts?: CallOptions): Promise<Digest>;
  tag(tag: string, digest: Digest, opts?: CallOptions): Promise<void>;
  untag(tag: string, opts?: CallOptions): Promise<void>;
  /** Sorted; undefined when the repository has no tags at all. */
  all(opts?: CallOptions): Promise<string[] | undefined>;
  lookup(digest: Digest, opts?: CallOptions): Promise<string[]>;
}

export interface Repository {
  readonly name: string;
  readonly blobs: BlobService;
  readonly manifests: ManifestService;
  readonly tags: TagService;
}

/** The namespace: repositories by name, and the catalog. */
export interface Namespace {
  repository(name: string): Repository;
  repositories(opts: CallOptions & { last?: string; limit: number }): Promise<string[]>;
}
