/**
 * A body that lends its bytes instead of copying them: the sender takes a chunk, writes it out,
 * and releases it, after which the owner may reuse the memory. A pulled-through download's
 * readers carry one (src/proxy/blob-download.ts); the blob handler sends from it directly
 * (src/http/chunk-response.ts) rather than through the stream.
 */
import type { Readable } from 'node:stream';
import { streamTag } from './stream-tag.js';

export interface LeasedChunk {
  readonly bytes: Uint8Array;
  /** Done with `bytes` (idempotent). */
  release(): void;
}

export interface ChunkSource {
  /** The bytes at the source's position (which then moves past them), or null at its end. */
  next(signal?: AbortSignal): Promise<LeasedChunk | null>;
}

const chunkSource = streamTag<ChunkSource>('berth.chunkSource');

/** Mark `stream` as readable through `source` too (whoever uses the source must not read the stream). */
export const attachChunkSource = <T extends Readable>(stream: T, source: ChunkSource): T => chunkSource.attach(stream, source);

export const chunkSourceOf = (stream: Readable): ChunkSource | undefined => chunkSource.of(stream);
