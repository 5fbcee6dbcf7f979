// Benchmark blob contents: large, never held in memory, yet cheap to produce.
// A blob is a 64-byte header naming its seed followed by a 16 MiB random
// pattern repeated; the header makes blobs of different seeds distinct, and
// the pattern is shared so generating a GiB costs no more than slicing.
import { createHash, randomBytes } from 'node:crypto';

const PATTERN = randomBytes(16 * 1024 * 1024);
const HEADER_LEN = 64;
const PIECE = 1024 * 1024;

export interface BlobSpec {
  seed: string;
  size: number;
}

function header(seed: string): Buffer {
  const h = Buffer.alloc(HEADER_LEN, 0x20);
  h.write(`berth-bench blob ${seed}`.slice(0, HEADER_LEN), 'ascii');
  return h;
}

/** Bytes [start, end) of the blob, in pieces of at most 1 MiB (views, not copies). */
export function* blobChunks(spec: BlobSpec, start = 0, end = spec.size): Generator<Buffer> {
  let pos = start;
  if (pos < HEADER_LEN && pos < end) {
    const h = header(spec.seed).subarray(pos, Math.min(HEADER_LEN, end));
    yield h;
    pos += h.length;
  }
  while (pos < end) {
    const off = (pos - HEADER_LEN) % PATTERN.length;
    const n = Math.min(PIECE, end - pos, PATTERN.length - off);
    yield PATTERN.subarray(off, off + n);
    pos += n;
  }
}

/** sha256 of the whole blob, computed by streaming it once. */
export function blobDigest(spec: BlobSpec): string {
  const hash = createHash('sha256');
  for (const chunk of blobChunks(spec)) hash.update(chunk);
  return 'sha256:' + hash.digest('hex');
}
