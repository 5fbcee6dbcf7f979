/**
 * A byte source that lends its buffers: a consumer that is done with a chunk (copied it and
 * hashed it) hands it back with recycle(), and the source refills the same memory instead of
 * allocating. A consumer that never recycles is still correct; the buffers are then collected.
 */
export interface RecyclingSource extends AsyncIterable<Uint8Array> {
  recycle(chunk: Uint8Array): void;
}

export function isRecyclingSource(source: AsyncIterable<Uint8Array>): source is RecyclingSource {
  return typeof (source as Partial<RecyclingSource>).recycle === 'function';
}
