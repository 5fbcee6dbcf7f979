/**
 * A bounded hand-over of buffers from one producer to one async consumer: the download hands the
 * chunks it received to the storage writer without copying or re-reading them. The producer waits
 * while more than `high` bytes are queued (the storage writer sets the pace). If the consumer gives
 * up, the producer's chunks are dropped from then on and the producer carries on.
 */
export class ByteChannel implements AsyncIterable<Buffer> {
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private abandoned = false;
  private failure: Error | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly high: number) {}

  /** Queue chunks; resolves once the queue is below the high-water mark (or the consumer is gone). */
  async push(chunks: Buffer[]): Promise<void> {
    if (this.abandoned || this.ended) return;
    for (const c of chunks) {
      this.queue.push(c);
      this.queued += c.length;
    }
    this.poke('consumer');
    while (this.queued >= this.high && !this.abandoned) await new Promise<void>((r) => (this.wakeProducer = r));
  }

  /** No more chunks; with an error, the consumer's iteration fails with it. */
  end(err?: Error): void {
    this.ended = true;
    this.failure ??= err;
    this.poke('consumer');
  }

  /** The consumer stopped reading: drop whatever comes. */
  abandon(): void {
    this.abandoned = true;
    this.queue = [];
    this.queued = 0;
    this.poke('producer');
  }

  private poke(who: 'consumer' | 'producer'): void {
    const w = who === 'consumer' ? this.wakeConsumer : this.wakeProducer;
    if (who === 'consumer') this.wakeConsumer = undefined;
    else this.wakeProducer = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      while (true) {
        const chunk = this.queue.shift();
        if (chunk) {
          this.queued -= chunk.length;
          if (this.queued < this.high) this.poke('producer');
          yield chunk;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.ended) return;
        await new Promise<void>((r) => (this.wakeConsumer = r));
      }
    } finally {
      if (!this.ended || this.queue.length > 0) this.abandon();
    }
  }
}
