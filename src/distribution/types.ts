/** Shared shapes of the registry's services. */
import type { Readable } from 'node:stream';
import type { Digest } from '../digest/digest.js';

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** An open blob: the size is known before the first byte is read. */
export interface BlobContent {
  descriptor: Descriptor;
  /** Bytes from the requested offset to `end` (inclusive) or the end of the blob. */
  body: Readable;
}

/** Looks up what a digest names: size and media type; BlobUnknownError when absent. */
export interface BlobStatter {
  stat(digest: Digest, opts?: CallOptions): Promise<Descriptor>;
}
