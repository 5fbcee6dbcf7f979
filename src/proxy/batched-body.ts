/**
 * Reading a response body in batches. Awaiting one disk write per socket chunk (16-64 KiB) makes
 * every chunk pay a thread-pool round trip before the next is read. Here the body flows into a
 * queue while the previous batch is being written, and each batch (everything that queued up
 * meanwhile) goes out in one call. The queue is bounded: above `high` bytes the body is paused,
 * which pushes back on the sender.
 */
import type { Readable } from 'node:stream';

export async function consumeInBatches(
  body: Readable,
  high: number,
  onBatch: (chunks: Buffer[], bytes: number) => Promise<void>,
): Promise<void> {
  let queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= high) body.pause();
    poke();
  };
  const onEnd = () => {
    ended = true;
    poke();
  };
  const onError = (err: Error) => {
    failure ??= err;
    poke();
  };
  const onClose = () => {
    if (!ended) failure ??= new Error('the connection closed before the body ended');
    poke();
  };
  body.on('data', onData);
  body.once('end', onEnd);
  body.once('error', onError);
  body.once('close', onClose);
  try {
    while (true) {
      if (queue.length > 0) {
        const batch = queue;
        const bytes = queued;
        queue = [];
        queued = 0;
        if (body.isPaused()) body.resume();
        await onBatch(batch, bytes);
        continue;
      }
      if (failure) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onError);
    body.off('close', onClose);
  }
}
